//! Dispatching the benchmark workflow for queued jobs of the Actions
//! backend, following GitHub's "Create a workflow dispatch event".

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Duration as TimeDelta, Utc};
use pitot_github::{run_title, GitHubClient, GitHubError, WorkflowRun};
use pitot_store::actions_jobs::{self, DispatchTask, UncertainDispatch};
use serde_json::{Map, Value};

use super::{is_permanent, job_client};
use crate::state::AppState;

/// The outcome of a dispatch.
enum Dispatch {
    /// The workflow runs; the run's id when GitHub named it.
    Started {
        base_sha: String,
        run_id: Option<i64>,
    },
    /// The job cannot run: the reason, for the comment.
    Rejected(String),
    /// The dispatch request timed out or got a server error, so a run may
    /// have started anyway, with this merge-base. The job stays queued and
    /// is marked, and the next try looks for that run before dispatching
    /// again.
    Uncertain {
        base_sha: String,
        error: anyhow::Error,
    },
    /// An earlier dispatch was uncertain and its run is not listed yet, or
    /// the lookup failed: the job waits for GitHub to list it, up to
    /// [`UNCERTAIN_RUN_WAIT`] after a lookup that worked.
    Waiting,
}

/// How long after an uncertain dispatch pitot looks for the run it may
/// have started before dispatching again. GitHub usually lists a new run
/// within seconds, so this estimate leaves a wide margin: a second run
/// costs runner minutes, while waiting costs only this delay.
const UNCERTAIN_RUN_WAIT: Duration = Duration::from_secs(2 * 60);

/// Dispatches the workflow of every queued actions job and returns how many
/// were dispatched. A job whose dispatch failed on a passing GitHub error
/// stays queued for the next round.
pub async fn dispatch_queued(state: &AppState) -> anyhow::Result<usize> {
    let mut dispatched = 0;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the dispatch transaction")?;
        let Some(task) = actions_jobs::lock_next_dispatch(&mut *tx, &tried).await? else {
            break;
        };
        tried.push(task.job_id);
        match dispatch(state, &task).await {
            Ok(Dispatch::Started { base_sha, run_id }) => {
                let recorded = async {
                    let attempt =
                        actions_jobs::mark_dispatched(&mut *tx, task.job_id, &base_sha, run_id)
                            .await?
                            .context("the locked job left the queue")?;
                    tx.commit().await.context("failed to commit the dispatch")?;
                    anyhow::Ok(attempt)
                }
                .await;
                let attempt = match recorded {
                    Ok(attempt) => attempt,
                    Err(error) => {
                        mark_unrecorded_dispatch(state, task.job_id, &base_sha).await;
                        return Err(error);
                    }
                };
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    attempt,
                    run_id,
                    base_sha = %base_sha,
                    "workflow dispatched"
                );
                dispatched += 1;
            }
            Ok(Dispatch::Rejected(reason)) => {
                actions_jobs::fail_actions_job(&mut *tx, task.job_id, &reason).await?;
                tx.commit()
                    .await
                    .context("failed to commit the failed dispatch")?;
                tracing::warn!(job_id = task.job_id, repo = %task.repository, reason = %reason, "job failed: the workflow could not be dispatched");
                state.reporter_wake.wake();
            }
            Ok(Dispatch::Uncertain { base_sha, error }) => {
                actions_jobs::mark_dispatch_uncertain(&mut *tx, task.job_id, &base_sha).await?;
                tx.commit()
                    .await
                    .context("failed to commit the uncertain dispatch")?;
                tracing::warn!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    error = format!("{error:#}"),
                    "the workflow dispatch may have started a run; looking for it before dispatching again"
                );
            }
            Ok(Dispatch::Waiting) => {
                drop(tx);
                tracing::debug!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    "waiting for GitHub to list the run of an uncertain dispatch"
                );
            }
            Err(error) => {
                drop(tx);
                tracing::warn!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    error = format!("{error:#}"),
                    "failed to dispatch the workflow; retrying at the next round"
                );
            }
        }
    }
    Ok(dispatched)
}

/// Marks the dispatch of a job uncertain, in a transaction of its own,
/// after the one that was to record its run failed. The run goes on, so the
/// next round must look for it instead of dispatching again. When the
/// database refuses this too, the next round may start a second run.
async fn mark_unrecorded_dispatch(state: &AppState, job_id: i64, base_sha: &str) {
    let marked = actions_jobs::mark_dispatch_uncertain(&state.pool, job_id, base_sha).await;
    match marked {
        Ok(_) => tracing::warn!(
            job_id,
            "failed to record a dispatched run; the next round looks for it before dispatching again"
        ),
        Err(error) => tracing::error!(
            job_id,
            error = %error,
            "failed to record a dispatched run, or that it may exist; the next round may dispatch a second run"
        ),
    }
}

/// Computes the merge-base, dispatches the workflow and looks up the run,
/// or takes over the run of an uncertain dispatch. An error means a later
/// try may succeed.
async fn dispatch(state: &AppState, task: &DispatchTask) -> anyhow::Result<Dispatch> {
    let client = match job_client(state, task.job_id, task.installation_id) {
        Ok(client) => client,
        Err(error) => return Ok(Dispatch::Rejected(format!("{error:#}"))),
    };
    let settings = state.config.repository(&task.repository);
    let workflow = settings.workflow.as_str();
    if let Some(uncertain) = &task.uncertain_dispatch {
        if let Some(outcome) = follow_uncertain_dispatch(&client, task, workflow, uncertain).await {
            return Ok(outcome);
        }
    }
    // The round that made the dispatch uncertain tried the cancel already.
    if let Some(run_id) = task.stale_workflow_run_id {
        if task.uncertain_dispatch.is_none() {
            cancel_stale_run(&client, task, run_id).await;
        }
    }
    let git_ref = match settings.dispatch_ref.or_else(|| task.dispatch_ref.clone()) {
        Some(git_ref) => git_ref,
        None => match client.default_branch(&task.repository).await {
            Ok(branch) => branch,
            Err(error) => {
                return rejected_or_retry(error, "failed to read the repository's default branch")
            }
        },
    };
    // The workflow benchmarks the merge-base, so it must be known, and
    // recorded on the job, before the run starts. History and release jobs
    // were queued with their base commit.
    let merge_base = match &task.fixed_base_sha {
        Some(base_sha) => Ok(base_sha.clone()),
        None => client.merge_base(&task.repository, &task.base_ref, &task.head_sha).await,
    };
    let base_sha = match merge_base {
        Ok(sha) => sha,
        Err(error) => {
            let context = format!(
                "failed to find the merge-base of {} and {}",
                task.base_ref, task.head_sha
            );
            return rejected_or_retry(error, &context);
        }
    };

    let inputs = workflow_inputs(task, &base_sha);
    let started_at = Utc::now();
    let run_id = match client
        .dispatch_workflow(&task.repository, workflow, &git_ref, &inputs)
        .await
    {
        Ok(run_id) => run_id,
        Err(error) => {
            let context = format!("failed to dispatch workflow {workflow} on {git_ref}");
            if matches!(error, GitHubError::Server { .. } | GitHubError::Transport { .. }) {
                let error = anyhow::Error::new(error).context(context);
                return Ok(Dispatch::Uncertain { base_sha, error });
            }
            return rejected_or_retry(error, &context);
        }
    };
    let run_id = match run_id {
        Some(run_id) => Some(run_id),
        None => find_new_run(&client, &task.repository, task.job_id, workflow, started_at, &task.earlier_runs)
            .await
            .map(|run| run.map(|run| run.id))
            .unwrap_or_else(|error| {
                tracing::info!(
                    job_id = task.job_id,
                    error = %error,
                    "could not look up the dispatched run yet; the webhook or the polling will find it"
                );
                None
            }),
    };
    Ok(Dispatch::Started { base_sha, run_id })
}

/// Looks for the run that an uncertain dispatch may have started. Returns
/// the job's outcome for this round when it must not dispatch again: the
/// run was found and is taken over, or the job waits for it to be listed.
/// Returns `None` once the wait is over without the run.
async fn follow_uncertain_dispatch(
    client: &GitHubClient,
    task: &DispatchTask,
    workflow: &str,
    uncertain: &UncertainDispatch,
) -> Option<Dispatch> {
    let found = find_new_run(client, &task.repository, task.job_id, workflow, uncertain.at, &task.earlier_runs)
        .await
        .map(|run| run.map(|run| run.id));
    match found {
        Ok(Some(run_id)) => {
            tracing::info!(
                job_id = task.job_id,
                repo = %task.repository,
                run_id,
                "found the run that an uncertain dispatch started; not dispatching again"
            );
            Some(Dispatch::Started {
                base_sha: uncertain.base_sha.clone(),
                run_id: Some(run_id),
            })
        }
        Err(error) => {
            tracing::info!(
                job_id = task.job_id,
                error = %error,
                "could not look for the run of an uncertain dispatch; looking again at the next round"
            );
            Some(Dispatch::Waiting)
        }
        Ok(None) if uncertain.elapsed < UNCERTAIN_RUN_WAIT => Some(Dispatch::Waiting),
        // NOTE: a run that GitHub lists only after the wait is not found, so
        // the job gets a second run. The first completed run that names the
        // job is collected, and the other one's results are ignored.
        Ok(None) => None,
    }
}

/// Cancels the run of an earlier queueing of the job, which was queued
/// again before the cancel step reached that run. A failure is logged and
/// does not hold up the new run, because the old run's results are ignored
/// either way.
async fn cancel_stale_run(client: &GitHubClient, task: &DispatchTask, run_id: i64) {
    match client.cancel_workflow_run(&task.repository, run_id).await {
        Ok(running) => tracing::info!(
            job_id = task.job_id,
            repo = %task.repository,
            run_id,
            already_ended = !running,
            "workflow run of the job's earlier queueing cancelled"
        ),
        Err(error) => tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            run_id,
            error = %error,
            "failed to cancel the workflow run of the job's earlier queueing; it goes on until it ends, and its results are ignored"
        ),
    }
}

/// The workflow's inputs, as `deploy/github/pitot-benchmarks.yml` declares
/// them. Inputs left out take the workflow's defaults.
fn workflow_inputs(task: &DispatchTask, base_sha: &str) -> Map<String, Value> {
    let mut inputs = Map::new();
    inputs.insert("job_id".to_owned(), task.job_id.to_string().into());
    inputs.insert("base_sha".to_owned(), base_sha.into());
    inputs.insert("head_sha".to_owned(), task.head_sha.clone().into());
    if let Some(bench) = &task.bench {
        inputs.insert("bench".to_owned(), bench.clone().into());
    }
    inputs
}

/// Looks for the run that a dispatch at `dispatched_at` started, by its
/// title: after a 204 without the run's id, or after an uncertain
/// dispatch. Returns `None` when no such run is listed: GitHub may take a
/// few seconds to list it. After a 204 the webhook or the polling finds a
/// run not listed yet by the same title. The job's `earlier` runs, which
/// carry the same title, are never returned.
pub(super) async fn find_new_run(
    client: &GitHubClient,
    repository: &str,
    job_id: i64,
    workflow: &str,
    dispatched_at: chrono::DateTime<Utc>,
    earlier: &[i64],
) -> Result<Option<WorkflowRun>, GitHubError> {
    let title = run_title(job_id);
    let run = client
        .find_workflow_run(repository, workflow, &title)
        .await?;
    // A run created before this dispatch belongs to an earlier attempt; a
    // minute of slack covers clock differences with GitHub.
    Ok(run.filter(|run| {
        !earlier.contains(&run.id)
            && run
                .created_at
                .is_none_or(|created| created >= dispatched_at - TimeDelta::minutes(1))
    }))
}

fn rejected_or_retry(error: GitHubError, context: &str) -> anyhow::Result<Dispatch> {
    if is_permanent(&error) {
        Ok(Dispatch::Rejected(format!("{context}: {error}")))
    } else {
        Err(anyhow::Error::new(error).context(context.to_owned()))
    }
}
