//! The fallback for missed `workflow_run` deliveries: asking GitHub about
//! the runs of jobs that have waited long without one.

use anyhow::Context as _;
use chrono::Utc;
use pitot_github::{run_title, GitHubError, WorkflowRun};
use pitot_store::actions_jobs::{self, PollTask};

use super::dispatch::find_new_run;
use super::job_client;
use crate::state::AppState;

/// The maximum number of jobs one round polls.
const POLL_BATCH: i64 = 20;

/// How many `actions.poll_after` periods a dispatched run may stay
/// unlisted before its job fails: an hour with the default of 5 minutes.
/// GitHub lists a run as soon as it is queued, before any runner takes it,
/// so a run missing that long was never started with pitot's title.
const UNLISTED_POLLS: u32 = 12;

/// Polls GitHub for the run of each running actions job that was
/// dispatched more than `actions.poll_after` ago and has no recorded
/// conclusion, at most once per `poll_after` and job (`workflow_polled_at`).
/// Records the runs that completed and returns how many did.
pub async fn poll_runs(state: &AppState) -> anyhow::Result<usize> {
    let after = state.config.actions.poll_after.as_secs_f64();
    let tasks = actions_jobs::jobs_to_poll(&state.pool, after, POLL_BATCH).await?;
    let mut completed = 0;
    for task in tasks {
        actions_jobs::mark_polled(&state.pool, task.job_id).await?;
        match poll(state, &task).await {
            Ok(true) => completed += 1,
            Ok(false) => {}
            Err(error) => tracing::warn!(
                job_id = task.job_id,
                repo = %task.repository,
                error = format!("{error:#}"),
                "failed to ask GitHub about the workflow run; asking again later"
            ),
        }
    }
    Ok(completed)
}

/// Reads the job's run and records it when it completed; returns whether it did.
async fn poll(state: &AppState, task: &PollTask) -> anyhow::Result<bool> {
    let client = job_client(state, task.job_id, task.installation_id)?;
    let run = match task.workflow_run_id {
        Some(run_id) => {
            match client.workflow_run(&task.repository, run_id).await {
                Ok(run) => run,
                Err(GitHubError::NotFound { .. }) => {
                    let reason = format!("workflow run {run_id} no longer exists on GitHub; run the benchmarks again");
                    actions_jobs::fail_actions_job(&state.pool, task.job_id, &reason).await?;
                    state.reporter_wake.wake();
                    return Ok(false);
                }
                Err(error) => return Err(error).context("failed to read the workflow run"),
            }
        }
        None => match find_run(state, task).await {
            Ok(Some(run)) => {
                actions_jobs::record_workflow_run(&state.pool, task.job_id, run.id).await?;
                run
            }
            outcome => {
                let limit = state.config.actions.poll_after * UNLISTED_POLLS;
                let waited = (Utc::now() - task.dispatched_at).to_std().unwrap_or_default();
                if waited >= limit {
                    fail_unlisted(state, task, limit, outcome.err()).await?;
                    return Ok(false);
                }
                outcome?;
                tracing::info!(
                    job_id = task.job_id,
                    "the dispatched run is not listed on GitHub yet"
                );
                return Ok(false);
            }
        },
    };
    if run.status.as_deref() != Some("completed") {
        return Ok(false);
    }
    let conclusion = run.conclusion.as_deref().unwrap_or("unknown");
    let recorded =
        actions_jobs::record_run_completed(&state.pool, task.job_id, run.id, conclusion).await?;
    if recorded {
        tracing::info!(
            job_id = task.job_id,
            run_id = run.id,
            conclusion,
            "workflow run completed (found by polling)"
        );
        state.actions_wake.wake();
    }
    Ok(recorded)
}

/// Fails a job whose dispatched run was not listed within `limit`, with a
/// reason that names the title to look for.
async fn fail_unlisted(
    state: &AppState,
    task: &PollTask,
    limit: std::time::Duration,
    last_error: Option<anyhow::Error>,
) -> anyhow::Result<()> {
    let workflow = state.config.repository(&task.repository).workflow;
    let mut reason = format!(
        "no run titled \"{}\" of .github/workflows/{workflow} was listed on GitHub in the {} seconds after the dispatch; check that the workflow keeps the template's run-name line, then run the benchmarks again",
        run_title(task.job_id),
        limit.as_secs(),
    );
    if let Some(error) = last_error {
        reason.push_str(&format!(" (the last lookup failed: {error:#})"));
    }
    actions_jobs::fail_actions_job(&state.pool, task.job_id, &reason).await?;
    tracing::warn!(job_id = task.job_id, repo = %task.repository, reason = %reason, "job failed: its workflow run was never listed");
    state.reporter_wake.wake();
    Ok(())
}

/// Finds the job's run by its title among the workflow's dispatched runs,
/// ignoring runs created before the dispatch and the runs of earlier
/// queueings.
async fn find_run(state: &AppState, task: &PollTask) -> anyhow::Result<Option<WorkflowRun>> {
    let client = job_client(state, task.job_id, task.installation_id)?;
    let workflow = state.config.repository(&task.repository).workflow;
    find_new_run(
        &client,
        &task.repository,
        task.job_id,
        &workflow,
        task.dispatched_at,
        &task.earlier_runs,
    )
    .await
    .context("failed to list the workflow's runs")
}
