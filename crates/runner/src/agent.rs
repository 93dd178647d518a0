//! The agent loop: claim a job, keep its lease with heartbeats while it
//! runs, report the result, and start over until shut down.

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::api::{ClaimRequest, ClaimedJob, HeartbeatRequest, JobOutcome, Phase, ReportRequest};
use crate::client::{ClientError, ServerClient};
use crate::config::AgentConfig;
use crate::job::{JobResult, JobRunner, Progress};
use crate::joblog::JobLog;
use crate::process::{StopReason, StopSignal};

/// The shortest pause between two heartbeats, whatever the lease.
const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the agent until `shutdown` is cancelled or the server rejects the
/// token.
///
/// On shutdown an idle agent stops at once. A running job is abandoned:
/// asv and everything it started are killed, no report is sent, and the
/// server hands the job out again when the lease expires. Cancel
/// `shutdown` and await the returned future rather than dropping it: a
/// future dropped during a job leaves asv's own child processes running.
///
/// # Errors
///
/// Fails when the configuration is unusable (server URL, work folder) or
/// the server rejects the agent token.
pub async fn run(config: AgentConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.work_dir)
        .with_context(|| format!("creating the work folder {} failed", config.work_dir.display()))?;
    let client = ServerClient::new(&config.server_url, config.token.clone())?;
    let agent = Agent {
        runner: JobRunner::new(&config),
        claim: ClaimRequest {
            agent: config.name.clone(),
            machine: config.machine_name().to_string(),
        },
        client,
        config,
    };
    tracing::info!(
        agent = %agent.claim.agent,
        machine = %agent.claim.machine,
        server = %agent.config.server_url,
        "agent started"
    );

    let mut failed_claims: u32 = 0;
    loop {
        let claimed = tokio::select! {
            () = shutdown.cancelled() => break,
            claimed = agent.client.claim(&agent.claim) => claimed,
        };
        if claimed.is_ok() && failed_claims > 0 {
            tracing::info!(failed_claims, "the server is reachable again");
            failed_claims = 0;
        }
        match claimed {
            Ok(Some(job)) => {
                let span = tracing::info_span!(
                    "job",
                    job_id = job.job_id,
                    attempt = job.attempt,
                    repo = %job.repository,
                    pr = job.pr_number,
                );
                agent.handle(job, &shutdown).instrument(span).await;
            }
            Ok(None) => {}
            Err(ClientError::Unauthorized) => return Err(ClientError::Unauthorized.into()),
            Err(error) => {
                failed_claims += 1;
                // A server that stays down would fill the log, so only the
                // first failure and every 30th after it are logged.
                if failed_claims % 30 == 1 {
                    tracing::error!(%error, failed_claims, retry_in = ?agent.config.reconnect_delay, "claiming a job failed");
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(agent.config.reconnect_delay) => {}
                }
            }
        }
    }
    tracing::info!(agent = %agent.claim.agent, "agent stopped");
    Ok(())
}

struct Agent {
    config: AgentConfig,
    client: ServerClient,
    runner: JobRunner,
    claim: ClaimRequest,
}

impl Agent {
    /// Runs one claimed job with heartbeats and reports its result, unless
    /// it was stopped.
    async fn handle(&self, job: ClaimedJob, shutdown: &CancellationToken) {
        tracing::info!(head_sha = %job.head_sha, base_ref = %job.base_ref, "job claimed");
        let log_path = self
            .config
            .work_dir
            .join("logs")
            .join(format!("job-{}-attempt-{}.log", job.job_id, job.attempt));
        let log = match JobLog::create(&log_path) {
            Ok(log) => log,
            Err(error) => {
                tracing::error!(%error, path = %log_path.display(), "creating the job log failed");
                return;
            }
        };

        let stop = StopSignal::new();
        let (progress, progress_updates) = watch::channel(Progress {
            phase: Phase::Fetching,
            base_sha: None,
        });
        let heartbeat = tokio::spawn(
            heartbeat_loop(self.client.clone(), job.clone(), progress_updates, stop.clone())
                .in_current_span(),
        );
        let on_shutdown = tokio::spawn({
            let stop = stop.clone();
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                stop.stop(StopReason::Shutdown);
            }
        });

        let executed = self.runner.execute(&job, &log, &stop, &progress).await;
        match executed {
            Ok(result) => {
                progress.send_modify(|progress| progress.phase = Phase::Uploading);
                self.report(&job, &log, result).await;
            }
            Err(reason) => {
                tracing::info!(%reason, log = %log.path().display(), "job stopped; no report sent");
            }
        }
        heartbeat.abort();
        on_shutdown.abort();
    }

    async fn report(&self, job: &ClaimedJob, log: &JobLog, result: JobResult) {
        let outcome = match result.failure {
            None => JobOutcome::Completed,
            Some(_) => JobOutcome::Failed,
        };
        let text = log.excerpt(self.config.log_upload_limit).unwrap_or_else(|error| {
            format!("[pitot] reading the job log {} failed: {error}", log.path().display())
        });
        let report = ReportRequest {
            attempt: job.attempt,
            base_sha: result.base_sha,
            head_sha: job.head_sha.clone(),
            machine: self.claim.machine.clone(),
            benchmarks_json: result.benchmarks_json,
            results: result.results,
            log: text,
            outcome,
            error: result.failure,
        };

        match self.client.report(job.job_id, &report).await {
            Ok(()) => {
                tracing::info!(?outcome, results = report.results.len(), "job reported");
                // The server has the log now; the local copy is kept only
                // for jobs whose report did not arrive.
                let _ = std::fs::remove_file(log.path());
            }
            Err(error) => {
                tracing::error!(%error, log = %log.path().display(), "sending the job report failed");
            }
        }
    }
}

/// Sends a heartbeat when the job starts, on each phase change and every
/// third of the lease, until aborted. Gives `stop` when the server reports
/// the job as cancelled or the lease as lost, or when no heartbeat got
/// through for a whole lease.
async fn heartbeat_loop(
    client: ServerClient,
    job: ClaimedJob,
    mut progress: watch::Receiver<Progress>,
    stop: StopSignal,
) {
    let lease = Duration::from_secs(job.lease_seconds);
    let interval = (lease / 3).max(MIN_HEARTBEAT_INTERVAL);
    let mut last_renewed = Instant::now();
    loop {
        let current = progress.borrow_and_update().clone();
        let request = HeartbeatRequest {
            attempt: job.attempt,
            phase: current.phase,
            base_sha: current.base_sha,
        };
        match client.heartbeat(job.job_id, &request).await {
            Ok(response) if response.cancelled => {
                tracing::info!("the server cancelled the job; stopping it");
                stop.stop(StopReason::Cancelled);
                return;
            }
            Ok(_) => last_renewed = Instant::now(),
            Err(error @ (ClientError::LeaseLost { .. } | ClientError::Unauthorized)) => {
                tracing::warn!(%error, "stopping the job");
                stop.stop(StopReason::LeaseLost);
                return;
            }
            Err(error) if last_renewed.elapsed() >= lease => {
                tracing::error!(%error, "no heartbeat got through for a whole lease; stopping the job");
                stop.stop(StopReason::LeaseLost);
                return;
            }
            Err(error) => tracing::warn!(%error, "the heartbeat failed; the lease may expire"),
        }

        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            changed = progress.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
