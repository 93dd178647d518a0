//! The GitHub Actions backend's worker: it dispatches the workflow for
//! queued jobs, polls GitHub for runs whose `workflow_run` delivery is
//! late, collects the artifact of completed runs, and cancels the runs of
//! jobs that were cancelled or superseded, looking first for the runs of
//! their uncertain dispatches.
//!
//! One task per server process. Each round runs the five steps in that
//! order. It wakes when the webhook queues a job or records a completed
//! run, and at a fixed interval, which also serves jobs that another
//! process queued and retries steps that failed on a GitHub error. Every
//! step takes its job under a row lock (`FOR UPDATE SKIP LOCKED`), so two
//! processes never dispatch or collect the same job.

mod cancel;
mod collect;
mod dispatch;
mod poll;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use pitot_github::{GitHubClient, GitHubError};
use tokio::sync::Notify;

use crate::state::AppState;

pub use cancel::{cancel_runs, find_uncertain_runs, MAX_CANCEL_ATTEMPTS};
pub use collect::collect_completed;
pub use dispatch::dispatch_queued;
pub use poll::poll_runs;

/// How often the worker looks for work without being woken.
const SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// Wakes the Actions worker; cheap to clone. A wake-up while the worker is
/// busy is kept, so the next round starts right after the current one.
#[derive(Clone, Default)]
pub struct ActionsWake {
    notify: Arc<Notify>,
}

impl ActionsWake {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Runs the worker until the state's shutdown token is cancelled.
pub async fn run_actions(state: AppState) {
    loop {
        if let Err(error) = run_round(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "the GitHub Actions worker failed; retrying in {} seconds",
                SCAN_INTERVAL.as_secs()
            );
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = state.actions_wake.notify.notified() => {}
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
    }
}

/// Does one round of the worker's work. Tests call it directly.
pub async fn run_round(state: &AppState) -> anyhow::Result<()> {
    dispatch_queued(state).await?;
    poll_runs(state).await?;
    collect_completed(state).await?;
    find_uncertain_runs(state).await?;
    cancel_runs(state).await?;
    Ok(())
}

/// Returns the GitHub client that acts for a job: the installation the
/// job's webhook came from, or the configured token.
fn job_client(
    state: &AppState,
    job_id: i64,
    installation_id: Option<i64>,
) -> anyhow::Result<GitHubClient> {
    let github = state.github.as_ref().ok_or_else(|| {
        anyhow!("the GitHub Actions backend needs GitHub credentials: configure a GitHub App or a token")
    })?;
    if !github.supports_check_runs() {
        // A token acts for its user everywhere; only App credentials need an installation.
        return Ok(github.clone());
    }
    let installation = installation_id.ok_or_else(|| {
        anyhow!("job {job_id} has no GitHub App installation id; its webhook came without one")
    })?;
    let installation = u64::try_from(installation).context("installation id out of range")?;
    Ok(github.for_installation(installation))
}

/// Returns whether retrying the same call cannot help: the workflow, ref
/// or repository does not exist, the request is invalid, or the App lacks
/// a permission. The job then fails with the error as its reason.
fn is_permanent(error: &GitHubError) -> bool {
    matches!(
        error,
        GitHubError::NotFound { .. }
            | GitHubError::Validation { .. }
            | GitHubError::Forbidden { .. }
            | GitHubError::InvalidInput(_)
    )
}
