//! Collecting a completed run: listing its artifacts, downloading
//! `pitot-job-<id>` into a temporary file, reading it as untrusted input
//! and storing it as the job's report, the same way as an agent's.

use std::io::{Seek, SeekFrom};

use anyhow::Context as _;
use pitot_github::{DownloadError, GitHubClient};
use pitot_runner::api::ReportRequest;
use pitot_runner::artifact::{read_artifact, ArtifactLimits};
use pitot_store::actions_jobs::{self, CollectTask};

use super::{is_permanent, job_client};
use crate::blocking::run_blocking;
use crate::error::AppError;
use crate::job_report_store::{check_report, store_report};
use crate::state::AppState;

/// The result of collecting a completed run.
enum Collected {
    /// The artifact passed every check: the report to store.
    Report(Box<ReportRequest>),
    /// The job ends without results: the reason, for the comment.
    Failed(String),
}

/// Returns the name of the artifact pitot's workflow uploads for `job_id`.
pub fn artifact_name(job_id: i64) -> String {
    format!("pitot-job-{job_id}")
}

/// Collects every job whose run completed and returns how many it
/// finished (stored or failed). A job whose download failed on a passing
/// error waits for the next round.
pub async fn collect_completed(state: &AppState) -> anyhow::Result<usize> {
    let mut finished = 0;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the collect transaction")?;
        let Some(task) = actions_jobs::lock_next_completed(&mut *tx, &tried).await? else {
            break;
        };
        tried.push(task.job_id);
        let collected = match collect(state, &task).await {
            Ok(collected) => collected,
            Err(error) => {
                if record_failure(state, tx, &task, &error).await? {
                    finished += 1;
                    state.reporter_wake.wake();
                }
                continue;
            }
        };
        match collected {
            Collected::Report(report) => {
                store_report(&mut tx, task.job_id, &report)
                    .await
                    .map_err(|error| {
                        anyhow::anyhow!("failed to store the artifact's report: {error}")
                    })?;
                tx.commit()
                    .await
                    .context("failed to commit the artifact's report")?;
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    files = report.results.len(),
                    "artifact stored"
                );
            }
            Collected::Failed(reason) => {
                actions_jobs::fail_actions_job(&mut *tx, task.job_id, &reason).await?;
                tx.commit()
                    .await
                    .context("failed to commit the failed job")?;
                tracing::warn!(job_id = task.job_id, repo = %task.repository, reason = %reason, "job failed");
            }
        }
        finished += 1;
        state.reporter_wake.wake();
    }
    Ok(finished)
}

/// Records a failed try at collecting `task` and commits it: the job
/// waits [`retry_delay`] for its next try, or fails once it has failed
/// `actions.max_download_attempts` times. Returns whether the job failed.
async fn record_failure(
    state: &AppState,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    task: &CollectTask,
    error: &anyhow::Error,
) -> anyhow::Result<bool> {
    let max_attempts = state.config.actions.max_download_attempts;
    let delay = retry_delay(task.collect_failures + 1);
    let failures =
        actions_jobs::record_collect_failure(&mut *tx, task.job_id, delay.as_secs_f64()).await?;
    let give_up = failures >= max_attempts as i32;
    if give_up {
        let reason = format!(
            "failed to download the artifact of workflow run {}: attempt {failures} of {max_attempts} (actions.max_download_attempts) failed with: {error:#}. Check GitHub's status and that the App has the Actions permission, then run the benchmarks again",
            task.workflow_run_id.unwrap_or_default()
        );
        actions_jobs::fail_actions_job(&mut *tx, task.job_id, &reason).await?;
    }
    tx.commit()
        .await
        .context("failed to record the failed artifact download")?;
    if give_up {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            run_id = task.workflow_run_id,
            failures,
            error = format!("{error:#}"),
            "failed to collect the workflow run's artifact; giving up and failing the job"
        );
    } else {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            run_id = task.workflow_run_id,
            failures,
            retry_in_seconds = delay.as_secs(),
            error = format!("{error:#}"),
            "failed to collect the workflow run's artifact; retrying later"
        );
    }
    Ok(give_up)
}

/// Returns the wait after the `failures`th failed download: 30 seconds,
/// doubling with each failure, at most 10 minutes. With the default of 8
/// attempts a job fails about 35 minutes after its first failure.
pub fn retry_delay(failures: i32) -> std::time::Duration {
    let doublings = failures.clamp(1, 16) as u32 - 1;
    let seconds = 30u64.saturating_mul(1 << doublings).min(600);
    std::time::Duration::from_secs(seconds)
}

/// Turns a completed run into a report or a failure. An error means a
/// later try may succeed.
async fn collect(state: &AppState, task: &CollectTask) -> anyhow::Result<Collected> {
    let run_id = task
        .workflow_run_id
        .context("a completed run is always recorded with its id")?;
    if let Some(reason) = conclusion_failure(&task.conclusion, run_id) {
        return Ok(Collected::Failed(reason));
    }
    let client = match job_client(state, task.job_id, task.installation_id) {
        Ok(client) => client,
        Err(error) => return Ok(Collected::Failed(format!("{error:#}"))),
    };

    let name = artifact_name(task.job_id);
    let artifacts = client.run_artifacts(&task.repository, run_id, &name).await;
    let artifacts = match artifacts {
        Ok(artifacts) => artifacts,
        Err(error) if is_permanent(&error) => {
            return Ok(Collected::Failed(format!(
                "failed to list the artifacts of workflow run {run_id}: {error}"
            )))
        }
        Err(error) => return Err(error).context("failed to list the run's artifacts"),
    };
    let Some(artifact) = artifacts.into_iter().next() else {
        return Ok(Collected::Failed(format!(
            "workflow run {run_id} uploaded no artifact named {name}; check that the workflow's upload step ran"
        )));
    };
    if artifact.expired {
        return Ok(Collected::Failed(format!(
            "the artifact {name} of workflow run {run_id} has expired; run the benchmarks again"
        )));
    }
    let limits = state.config.actions.artifact_limits();
    if artifact.size_in_bytes > limits.max_archive_bytes {
        return Ok(Collected::Failed(format!(
            "the artifact was rejected: it is {} bytes, over the limit of {} (actions.max_artifact_bytes)",
            artifact.size_in_bytes, limits.max_archive_bytes
        )));
    }

    let file = match download(&client, task, artifact.id, &limits).await? {
        Ok(file) => file,
        Err(reason) => return Ok(Collected::Failed(reason)),
    };
    read(task, file, limits).await
}

/// Downloads the artifact into an anonymous temporary file, which the
/// system deletes when it is closed. The inner error is a reason to fail
/// the job; the outer one a reason to try again.
async fn download(
    client: &GitHubClient,
    task: &CollectTask,
    artifact_id: i64,
    limits: &ArtifactLimits,
) -> anyhow::Result<Result<std::fs::File, String>> {
    let file =
        tempfile::tempfile().context("failed to create a temporary file for the artifact")?;
    let mut file = tokio::fs::File::from_std(file);
    let downloaded = client
        .download_artifact(
            &task.repository,
            artifact_id,
            limits.max_archive_bytes,
            &mut file,
        )
        .await;
    match downloaded {
        Ok(bytes) => tracing::debug!(job_id = task.job_id, bytes, "artifact downloaded"),
        Err(DownloadError::Expired) => {
            return Ok(Err(format!(
                "the artifact of workflow run {} has expired (GitHub returned 410 Gone); run the benchmarks again",
                task.workflow_run_id.unwrap_or_default()
            )))
        }
        Err(error @ DownloadError::TooLarge { .. }) => {
            return Ok(Err(format!("the artifact was rejected: {error} (actions.max_artifact_bytes)")))
        }
        Err(DownloadError::GitHub(error)) if is_permanent(&error) => {
            return Ok(Err(format!("failed to download the artifact: {error}")))
        }
        Err(error) => return Err(error).context("failed to download the artifact"),
    }
    Ok(Ok(file.into_std().await))
}

/// Reads the downloaded zip off the async runtime and checks the report
/// against the job.
async fn read(
    task: &CollectTask,
    mut file: std::fs::File,
    limits: ArtifactLimits,
) -> anyhow::Result<Collected> {
    file.seek(SeekFrom::Start(0))
        .context("failed to rewind the downloaded artifact")?;
    let (job_id, attempt) = (task.job_id, task.attempt);
    let artifact = run_blocking(move || read_artifact(file, job_id, attempt, &limits)).await?;
    let artifact = match artifact {
        Ok(artifact) => artifact,
        Err(error) => {
            return Ok(Collected::Failed(format!(
                "the artifact was rejected: {error}"
            )))
        }
    };
    if !artifact.ignored.is_empty() {
        tracing::info!(job_id, ignored = ?artifact.ignored, "the artifact contains files that pitot ignores");
    }
    let report = artifact.report;
    if let Some(reason) = mismatch(task, &report) {
        return Ok(Collected::Failed(reason));
    }
    if let Err(error) = check_report(&report) {
        let reason = match error {
            AppError::BadRequest(message) => message,
            other => other.to_string(),
        };
        return Ok(Collected::Failed(format!(
            "the artifact was rejected: {reason}"
        )));
    }
    Ok(Collected::Report(Box::new(report)))
}

/// Returns why the report does not belong to the job's commits, if it does not.
fn mismatch(task: &CollectTask, report: &ReportRequest) -> Option<String> {
    if !report.head_sha.eq_ignore_ascii_case(&task.head_sha) {
        return Some(format!(
            "the artifact benchmarked head {}, not the job's head {}",
            report.head_sha, task.head_sha
        ));
    }
    let dispatched_base = task.base_sha.as_deref()?;
    let reported_base = report.base_sha.as_deref().unwrap_or("");
    if !reported_base.eq_ignore_ascii_case(dispatched_base) {
        return Some(format!(
            "the artifact benchmarked base {reported_base}, not the merge-base {dispatched_base} that pitot dispatched"
        ));
    }
    None
}

/// Returns the reason a run with `conclusion` gives no results, or `None`
/// for `success`.
fn conclusion_failure(conclusion: &str, run_id: i64) -> Option<String> {
    let what = match conclusion {
        "success" => return None,
        "failure" => "failed",
        "cancelled" => "was cancelled",
        "timed_out" => "timed out",
        "startup_failure" => "failed to start",
        other => {
            return Some(format!(
                "the benchmark workflow run {run_id} ended with conclusion {other:?}"
            ))
        }
    };
    Some(format!(
        "the benchmark workflow run {run_id} {what}; its log on GitHub says why"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_up_to_ten_minutes() {
        let delays: Vec<u64> = (1..=8).map(|failures| retry_delay(failures).as_secs()).collect();

        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600, 600]);
    }

    #[test]
    fn conclusion_failure_names_each_ending() {
        let cases = [
            ("failure", "run 7 failed"),
            ("cancelled", "run 7 was cancelled"),
            ("timed_out", "run 7 timed out"),
            ("neutral", "conclusion \"neutral\""),
        ];

        assert_eq!(conclusion_failure("success", 7), None);
        for (conclusion, expected) in cases {
            let reason = conclusion_failure(conclusion, 7).unwrap_or_default();
            assert!(reason.contains(expected), "{conclusion}: {reason}");
        }
    }
}
