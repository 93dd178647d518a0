//! Cancelling the workflow run of a job that was cancelled or superseded
//! while it ran on GitHub Actions, so the run stops using runner minutes.
//!
//! The webhook only changes the job's state, in the delivery's
//! transaction; this step makes the GitHub call afterwards. A failed
//! request is logged and tried again in the next rounds, up to
//! [`MAX_CANCEL_ATTEMPTS`] times. Nothing waits for it: the job is already
//! final, and the collector ignores its run.
//!
//! A job cancelled while its last dispatch was uncertain has no recorded
//! run, though the dispatch may have started one. [`find_uncertain_runs`]
//! looks for that run by its title for [`UNCERTAIN_RUN_SEARCH`] and
//! records it, so that the cancel step cancels it too.

use std::time::Duration;

use anyhow::Context as _;
use pitot_store::actions_jobs::{self, CancelTask, UncertainRunTask};

use super::dispatch::find_new_run;
use super::{is_permanent, job_client};
use crate::state::AppState;

/// Cancel requests tried per run before pitot gives up on it.
pub const MAX_CANCEL_ATTEMPTS: i32 = 5;

/// How long after an uncertain dispatch of a cancelled job pitot looks for
/// the run it may have started. Longer than the dispatch step's own wait,
/// because here a late search costs one request per round, while a run
/// not found goes on using runner minutes until it ends.
const UNCERTAIN_RUN_SEARCH: Duration = Duration::from_secs(10 * 60);

/// Looks for the runs that uncertain dispatches of cancelled and superseded
/// jobs may have started, and records those found on their jobs. Returns
/// how many it found.
pub async fn find_uncertain_runs(state: &AppState) -> anyhow::Result<usize> {
    let mut found = 0;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the transaction of an uncertain run's search")?;
        let Some(task) = actions_jobs::lock_next_uncertain_run(&mut *tx, &tried).await? else {
            break;
        };
        tried.push(task.job_id);
        match search(state, &task).await {
            Ok(Some(run_id)) => {
                actions_jobs::end_uncertain_run_search(&mut *tx, task.job_id, Some(run_id)).await?;
                found += 1;
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    run_id,
                    "found the run of a cancelled job's uncertain dispatch; cancelling it"
                );
            }
            Ok(None) if task.elapsed < UNCERTAIN_RUN_SEARCH => {}
            Err(error) if task.elapsed < UNCERTAIN_RUN_SEARCH => tracing::info!(
                job_id = task.job_id,
                repo = %task.repository,
                error = format!("{error:#}"),
                "could not look for the run of a cancelled job's uncertain dispatch; looking again at the next round"
            ),
            outcome => {
                actions_jobs::end_uncertain_run_search(&mut *tx, task.job_id, None).await?;
                tracing::warn!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    minutes = UNCERTAIN_RUN_SEARCH.as_secs() / 60,
                    error = outcome.err().map(|error| format!("{error:#}")),
                    "found no run of a cancelled job's uncertain dispatch; if the dispatch started one, it goes on until it ends, and its results are ignored"
                );
            }
        }
        tx.commit()
            .await
            .context("failed to commit the search for an uncertain run")?;
    }
    Ok(found)
}

/// Looks for the run of the task's uncertain dispatch, leaving out the runs
/// of earlier queueings.
async fn search(state: &AppState, task: &UncertainRunTask) -> anyhow::Result<Option<i64>> {
    let client = job_client(state, task.job_id, task.installation_id)?;
    let workflow = state.config.repository(&task.repository).workflow;
    let run =
        find_new_run(&client, &task.repository, task.job_id, &workflow, task.at, &task.earlier_runs)
            .await?;
    Ok(run.map(|run| run.id))
}

/// Asks GitHub to cancel the runs of cancelled and superseded jobs, and
/// returns how many runs it cancelled or found already ended.
pub async fn cancel_runs(state: &AppState) -> anyhow::Result<usize> {
    let mut done = 0;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the cancel transaction")?;
        let Some(task) =
            actions_jobs::lock_next_run_to_cancel(&mut *tx, &tried, MAX_CANCEL_ATTEMPTS).await?
        else {
            break;
        };
        tried.push(task.job_id);
        match cancel(state, &task).await {
            Ok(running) => {
                actions_jobs::mark_run_cancelled(&mut *tx, task.job_id).await?;
                done += 1;
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    run_id = task.workflow_run_id,
                    already_ended = !running,
                    "workflow run of a cancelled job cancelled"
                );
            }
            Err((error, permanent)) => {
                // An error that retrying cannot fix ends the tries at once.
                let at_least = if permanent { MAX_CANCEL_ATTEMPTS } else { 0 };
                let failures =
                    actions_jobs::record_cancel_failure(&mut *tx, task.job_id, at_least).await?;
                log_failure(&task, failures, &error);
            }
        }
        tx.commit()
            .await
            .context("failed to commit the workflow run's cancel")?;
    }
    Ok(done)
}

/// Sends the cancel request. Returns whether the run was still going, or
/// the error and whether retrying cannot help.
async fn cancel(state: &AppState, task: &CancelTask) -> Result<bool, (anyhow::Error, bool)> {
    let client =
        job_client(state, task.job_id, task.installation_id).map_err(|error| (error, true))?;
    client
        .cancel_workflow_run(&task.repository, task.workflow_run_id)
        .await
        .map_err(|error| {
            let permanent = is_permanent(&error);
            (anyhow::Error::new(error), permanent)
        })
}

fn log_failure(task: &CancelTask, failures: i32, error: &anyhow::Error) {
    let error = format!("{error:#}");
    if failures >= MAX_CANCEL_ATTEMPTS {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            run_id = task.workflow_run_id,
            failures,
            error,
            "failed to cancel the workflow run of a cancelled job; giving up, so the run goes on until it ends and its results are ignored"
        );
    } else {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            run_id = task.workflow_run_id,
            failures,
            error,
            "failed to cancel the workflow run of a cancelled job; retrying at the next round"
        );
    }
}
