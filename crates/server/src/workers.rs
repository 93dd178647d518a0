//! Background work of the server process: the notification listener, the
//! lease expiry, the reporter, the deferred-delivery worker, the command
//! worker (which also resolves published releases), the GitHub Actions
//! worker, the retention pruning (unless `[retention]` keeps everything)
//! and, when a repository's configuration turns it on, the nightly history
//! worker. All stop when the state's shutdown token is cancelled.

use anyhow::Context as _;
use pitot_store::jobs::{self, ExpiredLease, JobState};
use tokio::task::JoinSet;

use crate::queue_events;
use crate::state::AppState;

/// The running workers; [`Workers::join`] waits for them to stop.
pub struct Workers {
    tasks: JoinSet<()>,
}

/// Starts the background workers on `state`.
pub fn spawn_workers(state: &AppState) -> Workers {
    let mut tasks = JoinSet::new();
    tasks.spawn(queue_events::run_listener(
        state.pool.clone(),
        state.queue_events.clone(),
        state.reporter_wake.clone(),
        state.commands_wake.clone(),
        state.shutdown.clone(),
    ));
    tasks.spawn(run_lease_expiry(state.clone()));
    tasks.spawn(crate::reporter::run_reporter(state.clone()));
    tasks.spawn(crate::webhook::run_deferred(state.clone()));
    tasks.spawn(crate::commands::run_commands(state.clone()));
    tasks.spawn(crate::actions::run_actions(state.clone()));
    if state.config.repositories.iter().any(|repository| repository.history == crate::config::HistoryMode::Nightly) {
        tasks.spawn(crate::nightly::run_nightly(state.clone()));
    }
    if state.config.retention.prunes_anything() {
        tasks.spawn(crate::retention::run_retention(state.clone()));
    }
    Workers { tasks }
}

impl Workers {
    /// Waits until every worker has stopped; cancel `AppState::shutdown` first.
    pub async fn join(mut self) {
        while let Some(result) = self.tasks.join_next().await {
            if let Err(error) = result {
                tracing::error!(error = %error, "a background worker panicked");
            }
        }
    }
}

async fn run_lease_expiry(state: AppState) {
    let mut interval = tokio::time::interval(state.lease_check_interval());
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(error) = expire_leases(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "failed to expire job leases; retrying at the next interval"
            );
        }
    }
}

/// Sends jobs whose lease ran out back to the queue (or fails them when no
/// attempts are left), wakes waiting claims for the re-queued ones, and
/// returns what changed.
pub async fn expire_leases(state: &AppState) -> anyhow::Result<Vec<ExpiredLease>> {
    let mut tx = state
        .pool
        .begin()
        .await
        .context("failed to start the lease expiry transaction")?;
    let expired = jobs::expire_leases(&mut *tx).await?;
    for lease in &expired {
        if lease.state == JobState::Queued {
            jobs::notify_job_queued(&mut *tx, lease.job_id).await?;
        }
    }
    tx.commit()
        .await
        .context("failed to commit the lease expiry")?;

    if expired.iter().any(|lease| lease.state == JobState::Failed) {
        state.reporter_wake.wake();
    }
    for lease in &expired {
        let agent = lease.agent.as_deref().unwrap_or("unknown");
        match lease.state {
            JobState::Failed => tracing::warn!(
                job_id = lease.job_id,
                attempt = lease.attempt,
                agent,
                "job failed: its lease expired and no attempts are left"
            ),
            _ => tracing::info!(
                job_id = lease.job_id,
                attempt = lease.attempt,
                agent,
                "job lease expired; queued again"
            ),
        }
    }
    Ok(expired)
}
