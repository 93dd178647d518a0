//! Acting on a verified delivery: one transaction records the delivery and
//! changes the jobs, so a delivery is either fully applied or not at all.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use pitot_github::{
    may_run_commands, parse_command, Command, Event, InstallationEvent, IssueCommentEvent,
    PullRequestAction, PullRequestEvent,
};
use pitot_store::actions_jobs::{self, Backend};
use pitot_store::commands::{self, NewCommand, QuarantineArgs};
use pitot_store::deliveries::{self, DeliveryOutcome, Inserted, NewDelivery};
use pitot_store::jobs::{self, JobState, NewPullRequestJob};
use pitot_store::pull_requests::{self, PullRequestHead};
use pitot_store::{installations, RepoName};
use sqlx::PgConnection;

use crate::config::BackendKind;
use crate::error::AppError;
use crate::state::AppState;

/// How long a delivery's transaction waits for a row lock that another
/// transaction holds, such as a worker's lock on a job row during a GitHub
/// call. The statement then fails, the transaction rolls back, and the
/// delivery is stored as deferred, to be applied later.
///
/// GitHub gives up on a delivery after 10 seconds and does not redeliver
/// it on its own. The limit applies to each wait, not to the whole
/// delivery, so a delivery that meets several held locks in turn takes
/// longer than this.
pub const DELIVERY_LOCK_TIMEOUT: Duration = Duration::from_secs(3);

/// The result of recording a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The delivery id was recorded before; nothing was done again.
    Redelivery,
    New {
        outcome: DeliveryOutcome,
        job_id: Option<i64>,
    },
}

/// Records the delivery and applies its event in one transaction.
///
/// The delivery is stored as deferred, with its `payload`, when the
/// transaction waits on a row lock for longer than [`DELIVERY_LOCK_TIMEOUT`]
/// or when an earlier delivery of the same pull request is still deferred.
/// The deferred-delivery worker applies it later (`deferred.rs`). GitHub
/// does not redeliver on its own, so a 503 response would lose the event
/// unless someone pressed "Redeliver".
pub async fn record_delivery(
    state: &AppState,
    delivery_id: &str,
    event_name: &str,
    event: &Event,
    payload: &[u8],
    received: Instant,
) -> Result<Recorded, AppError> {
    let delivery = new_delivery(delivery_id, event_name, event);
    let reason = match apply_and_record(state, &delivery, event).await {
        Ok(Some(recorded)) => return Ok(recorded),
        Ok(None) => "an earlier delivery of the pull request waits to be applied",
        Err(error) if error.is_lock_timeout() => {
            "a row it changes was locked by another task for longer than the delivery may wait"
        }
        Err(error) => return Err(error),
    };
    let Some(id) =
        deliveries::insert_deferred_delivery(&state.pool, &delivery, payload, reason, received.elapsed())
            .await?
    else {
        tracing::debug!("delivery was recorded before; nothing to do");
        return Ok(Recorded::Redelivery);
    };
    tracing::info!(id, reason, "webhook delivery deferred");
    Ok(Recorded::New {
        outcome: DeliveryOutcome::Deferred,
        job_id: None,
    })
}

fn new_delivery<'a>(delivery_id: &'a str, event_name: &'a str, event: &'a Event) -> NewDelivery<'a> {
    let (repository, pr_number) = match event {
        Event::PullRequest(pull_request) => (
            Some(pull_request.repository.full_name.as_str()),
            Some(pull_request.number),
        ),
        Event::IssueComment(comment) => (
            Some(comment.repository.full_name.as_str()),
            Some(comment.number),
        ),
        Event::WorkflowRun(run) => (Some(run.repository.full_name.as_str()), None),
        Event::Push(push) => (Some(push.repository.full_name.as_str()), None),
        Event::Release(release) => (Some(release.repository.full_name.as_str()), None),
        _ => (None, None),
    };
    NewDelivery {
        delivery_id,
        event: event_name,
        action: super::action_name(event),
        repository,
        pr_number,
    }
}

/// Applies the event and records the delivery in one transaction. Returns
/// `None`, having changed nothing, when an earlier delivery of the same pull
/// request is deferred.
async fn apply_and_record(
    state: &AppState,
    delivery: &NewDelivery<'_>,
    event: &Event,
) -> Result<Option<Recorded>, AppError> {
    // The event is applied first and the delivery recorded last, with its
    // outcome. A redelivery finds its id taken there and rolls back what
    // it applied.
    let mut tx = begin_delivery(&state.pool).await?;
    let (outcome, job_id) = apply_event(&mut tx, state, event).await?;
    match deliveries::insert_delivery(&mut *tx, delivery, outcome, job_id).await? {
        Inserted::New(_) => {}
        Inserted::Redelivery => {
            tx.rollback()
                .await
                .context("failed to roll back the redelivery")?;
            tracing::debug!("delivery was recorded before; nothing to do");
            return Ok(Some(Recorded::Redelivery));
        }
        Inserted::AfterDeferred => {
            tx.rollback()
                .await
                .context("failed to roll back the delivery that must wait")?;
            return Ok(None);
        }
    }
    tx.commit().await.context("failed to commit the delivery")?;
    after_commit(state, outcome, job_id);
    Ok(Some(Recorded::New { outcome, job_id }))
}

/// Starts a transaction for applying a delivery, with its lock timeout.
pub(super) async fn begin_delivery(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, AppError> {
    let tx = pool
        .begin_with(format!(
            "BEGIN; SET LOCAL lock_timeout = '{}ms'",
            DELIVERY_LOCK_TIMEOUT.as_millis()
        ))
        .await
        .context("failed to start the delivery's transaction")?;
    Ok(tx)
}

/// Applies a verified event and returns what pitot did and the job it
/// concerned. The caller records the delivery in the same transaction.
pub(super) async fn apply_event(
    tx: &mut PgConnection,
    state: &AppState,
    event: &Event,
) -> Result<(DeliveryOutcome, Option<i64>), AppError> {
    Ok(match event {
        Event::PullRequest(pull_request) => apply_pull_request(tx, state, pull_request).await?,
        Event::Installation(installation) => {
            apply_installation(tx, installation).await?;
            (DeliveryOutcome::InstallationUpdated, None)
        }
        Event::IssueComment(comment) => (apply_issue_comment(tx, comment).await?, None),
        Event::WorkflowRun(run) => {
            let workflow = state.config.repository(&run.repository.full_name).workflow;
            super::workflow_run::apply_workflow_run(tx, run, &workflow).await?
        }
        Event::Push(push) => super::history::apply_push(tx, state, push).await?,
        Event::Release(release) => (
            super::history::apply_release(tx, state, release).await?,
            None,
        ),
        Event::Ping { .. } => (DeliveryOutcome::Ignored, None),
        Event::Ignored { event, action } => {
            tracing::debug!(event, action, "event is not one pitot acts on");
            (DeliveryOutcome::Ignored, None)
        }
    })
}

/// Wakes the workers an applied delivery concerns, announces the job it
/// queued, and logs what it did. The deliveries send no job-queued
/// notification in their transaction: a burst of them would queue each
/// commit behind PostgreSQL's one lock for notifying transactions.
pub(super) fn after_commit(state: &AppState, outcome: DeliveryOutcome, job_id: Option<i64>) {
    if announces_job(outcome) {
        if let Some(job_id) = job_id {
            state.job_announcer.announce(&state.pool, job_id);
        }
    }
    if matches!(
        outcome,
        DeliveryOutcome::WorkflowRunCompleted | DeliveryOutcome::JobQueued | DeliveryOutcome::JobRequeued
    ) {
        state.actions_wake.wake();
    }
    if outcome != DeliveryOutcome::Ignored {
        tracing::info!(
            outcome = outcome.as_str(),
            job_id,
            "webhook delivery applied"
        );
    }
}

/// Applies a `pull_request` event.
///
/// The pull request's row is written first in every branch, so concurrent
/// deliveries for one pull request take their row locks in the same order
/// (pull request, then jobs) and serialize instead of deadlocking.
async fn apply_pull_request(
    conn: &mut PgConnection,
    state: &AppState,
    event: &PullRequestEvent,
) -> Result<(DeliveryOutcome, Option<i64>), AppError> {
    let label = &state.config.github.label;
    let is_trigger = |name: &str| name.to_lowercase() == label.to_lowercase();
    let relevant = match &event.action {
        PullRequestAction::Labeled { label } | PullRequestAction::Unlabeled { label } => {
            is_trigger(label)
        }
        PullRequestAction::Synchronize | PullRequestAction::Closed => true,
        PullRequestAction::Other(action) => action == "reopened",
    };
    if !relevant {
        tracing::debug!("pull request event does not concern the trigger label");
        return Ok((DeliveryOutcome::Ignored, None));
    }

    let repository: RepoName =
        event
            .repository
            .full_name
            .parse()
            .map_err(|error: pitot_store::InvalidRepoName| {
                AppError::BadRequest(format!("repository.full_name: {error}"))
            })?;
    let repository_id = state.repository_ids.ensure(conn, &repository).await?;
    let head = PullRequestHead {
        repository_id,
        number: event.number,
        head_sha: &event.head_sha,
        base_ref: &event.base_ref,
    };

    match &event.action {
        PullRequestAction::Labeled { .. } => {
            pull_requests::record_label(&mut *conn, &head, true).await?;
            let (outcome, job_id) = enqueue_head(conn, state, event, repository_id).await?;
            Ok((outcome, Some(job_id)))
        }
        PullRequestAction::Unlabeled { .. } => {
            pull_requests::record_label(&mut *conn, &head, false).await?;
            let reason = format!("the {label} label was removed");
            jobs::cancel_pull_request_jobs(&mut *conn, repository_id, event.number, &reason)
                .await?;
            Ok((DeliveryOutcome::JobsCancelled, None))
        }
        PullRequestAction::Closed => {
            pull_requests::record_closed(&mut *conn, &head, true).await?;
            let reason = "the pull request was closed";
            jobs::cancel_pull_request_jobs(&mut *conn, repository_id, event.number, reason).await?;
            Ok((DeliveryOutcome::JobsCancelled, None))
        }
        PullRequestAction::Synchronize => {
            let labelled = pull_requests::record_push(&mut *conn, &head).await?;
            let reason = "a newer commit was pushed to the pull request";
            jobs::supersede_other_heads(
                &mut *conn,
                repository_id,
                event.number,
                &event.head_sha,
                false,
                reason,
            )
            .await?;
            if state.config.github.run_on_push && labelled {
                let (outcome, job_id) = enqueue_head(conn, state, event, repository_id).await?;
                return Ok((outcome, Some(job_id)));
            }
            Ok((DeliveryOutcome::MarkedStale, None))
        }
        PullRequestAction::Other(_) => {
            // Only `reopened` gets here: the pull request is open again, and
            // its jobs stay as the close left them until someone labels it.
            pull_requests::record_closed(&mut *conn, &head, false).await?;
            Ok((DeliveryOutcome::Ignored, None))
        }
    }
}

/// Makes sure the head of the pull request has a queued or active job: a
/// new one, the same row queued again when it had finished, or the one that
/// is already queued or running. Returns what happened and the job's id.
async fn enqueue_head(
    conn: &mut PgConnection,
    state: &AppState,
    event: &PullRequestEvent,
    repository_id: i32,
) -> Result<(DeliveryOutcome, i64), AppError> {
    let clone_url = event.repository.clone_url.as_deref().ok_or_else(|| {
        AppError::BadRequest("repository.clone_url is missing from the payload".into())
    })?;
    // GitHub publishes every pull request's head as `refs/pull/N/head` on the
    // base repository, also for heads in forks and deleted forks, so the
    // base repository's URL is enough to fetch it.
    let head_fetch_ref = format!("refs/pull/{}/head", event.number);
    let job = NewPullRequestJob {
        repository_id,
        pr_number: event.number,
        head_sha: &event.head_sha,
        base_ref: &event.base_ref,
        clone_url,
        head_fetch_ref: Some(&head_fetch_ref),
        installation_id: event.installation_id,
        max_attempts: state.config.jobs.max_attempts,
        bench: None,
        backend: job_backend(state, &event.repository.full_name),
        dispatch_ref: event.repository.default_branch.as_deref(),
    };
    let (outcome, job_id, _) = queue_head(conn, &job).await?;
    Ok((outcome, job_id))
}

/// Returns the backend that runs the jobs of `repository` (`owner/name`).
pub(crate) fn job_backend(state: &AppState, repository: &str) -> Backend {
    match state.config.repository(repository).backend {
        BackendKind::Agent => Backend::Agent,
        BackendKind::Actions => Backend::Actions,
    }
}

/// Queues `job` as [`queue_head`] does and sends the job-queued
/// notification in the transaction when a job was queued or queued again.
pub(crate) async fn enqueue_job(
    conn: &mut PgConnection,
    job: &NewPullRequestJob<'_>,
) -> Result<(DeliveryOutcome, i64, JobState), AppError> {
    let (outcome, job_id, state) = queue_head(conn, job).await?;
    if announces_job(outcome) {
        jobs::notify_job_queued(&mut *conn, job_id).await?;
    }
    Ok((outcome, job_id, state))
}

/// Queues `job`: a new row, the head's finished row again, or the row that
/// is already queued or running. Returns what happened, the job's id and
/// its state now. Queued and running jobs of the pull request's other heads
/// are superseded: only one run per pull request goes on at a time. Sends
/// no notification.
///
/// A queued job gets the job's `backend` and `dispatch_ref`. A new row is
/// inserted with them. A row queued again, or found queued, is updated,
/// which also clears what an earlier run recorded about its workflow.
async fn queue_head(
    conn: &mut PgConnection,
    job: &NewPullRequestJob<'_>,
) -> Result<(DeliveryOutcome, i64, JobState), AppError> {
    let head = job.head_sha.get(..10).unwrap_or(job.head_sha);
    let reason = format!("a run of the pull request's head {head} replaced it");
    if let Some(job_id) = jobs::queue_head_superseding_others(&mut *conn, job, &reason).await? {
        return Ok((DeliveryOutcome::JobQueued, job_id, JobState::Queued));
    }
    let (outcome, job_id, state) = match jobs::requeue_finished_job(&mut *conn, job).await? {
        Some(job_id) => (DeliveryOutcome::JobRequeued, job_id, JobState::Queued),
        None => {
            let (job_id, state) = jobs::find_pull_request_job(
                &mut *conn,
                job.repository_id,
                job.pr_number,
                job.head_sha,
            )
            .await?
            .context("the head's job was neither inserted, re-queued nor found")?;
            (DeliveryOutcome::JobUnchanged, job_id, state)
        }
    };
    if state == JobState::Queued {
        actions_jobs::set_job_backend(&mut *conn, job_id, job.backend, job.dispatch_ref).await?;
    }
    Ok((outcome, job_id, state))
}

/// Returns whether a delivery with `outcome` put a job in the queue, so
/// that claims and the reporter should hear of it.
fn announces_job(outcome: DeliveryOutcome) -> bool {
    matches!(outcome, DeliveryOutcome::JobQueued | DeliveryOutcome::JobRequeued)
}

/// Records a `/pitot` command written in a new comment on a pull request,
/// for the command worker. Commands from people who could not add the
/// trigger label are logged and dropped without a reaction.
async fn apply_issue_comment(
    conn: &mut PgConnection,
    event: &IssueCommentEvent,
) -> Result<DeliveryOutcome, AppError> {
    if event.action != "created" || !event.on_pull_request || event.author_is_bot {
        return Ok(DeliveryOutcome::Ignored);
    }
    let Some(parsed) = parse_command(&event.body) else {
        return Ok(DeliveryOutcome::Ignored);
    };
    if !may_run_commands(&event.author_association) {
        tracing::info!(
            repo = %event.repository.full_name,
            pr = event.number,
            comment_id = event.comment_id,
            author = %event.author,
            author_association = %event.author_association,
            "ignored a pitot command from someone who is not an owner, member or collaborator"
        );
        return Ok(DeliveryOutcome::Ignored);
    }
    let clone_url = event.repository.clone_url.as_deref().ok_or_else(|| {
        AppError::BadRequest("repository.clone_url is missing from the payload".into())
    })?;
    let repository: RepoName = event.repository.full_name.parse().map_err(
        |error: pitot_store::InvalidRepoName| {
            AppError::BadRequest(format!("repository.full_name: {error}"))
        },
    )?;
    let repository_id = pull_requests::ensure_repository(conn, &repository).await?;

    let (command, bench, problem) = match &parsed {
        Ok(Command::Run { bench }) => (Some("run"), bench.as_deref(), None),
        Ok(command) => (Some(command.name()), None, None),
        Err(error) => (None, None, Some(error.to_string())),
    };
    let quarantine = match &parsed {
        Ok(Command::Quarantine {
            benchmark,
            kind,
            until,
            reason,
        }) => Some(QuarantineArgs {
            benchmark,
            kind: Some(kind),
            reason: Some(reason),
            until: *until,
        }),
        Ok(Command::Unquarantine { benchmark }) => Some(QuarantineArgs {
            benchmark,
            kind: None,
            reason: None,
            until: None,
        }),
        _ => None,
    };
    let new = NewCommand {
        repository_id,
        pr_number: event.number,
        installation_id: event.installation_id,
        comment_id: event.comment_id,
        author: &event.author,
        command,
        bench,
        quarantine,
        problem: problem.as_deref(),
        clone_url,
    };
    if let Some(command_id) = commands::insert_command(&mut *conn, &new).await? {
        commands::notify_command_queued(&mut *conn, command_id).await?;
    }
    Ok(DeliveryOutcome::CommandRecorded)
}

/// Applies an `installation` or `installation_repositories` event.
async fn apply_installation(
    conn: &mut PgConnection,
    event: &InstallationEvent,
) -> Result<(), AppError> {
    let id = event.installation_id;
    // Every event carries the installation, so its row is created by
    // whichever event pitot receives first.
    installations::upsert_installation(&mut *conn, id, event.account.as_deref()).await?;
    match event.action.as_str() {
        "deleted" => {
            installations::remove_installation_repositories(&mut *conn, id).await?;
            installations::mark_installation_deleted(&mut *conn, id).await?;
        }
        "suspend" => installations::mark_installation_suspended(&mut *conn, id).await?,
        _ => {
            for name in &event.added {
                installations::add_installation_repository(conn, id, &parse_repository(name)?)
                    .await?;
            }
            for name in &event.removed {
                installations::remove_installation_repository(
                    &mut *conn,
                    id,
                    &parse_repository(name)?,
                )
                .await?;
            }
        }
    }
    Ok(())
}

fn parse_repository(name: &str) -> Result<RepoName, AppError> {
    name.parse().map_err(|error: pitot_store::InvalidRepoName| {
        AppError::BadRequest(format!("installation repository: {error}"))
    })
}
