//! One job from start to result: checkout, asv setup, `asv continuous`
//! (or the passes of a calibration job).

use std::time::Instant;

use tokio::sync::watch;

use crate::api::{ClaimedJob, Phase, ResultFile};
use crate::config::AgentConfig;
use crate::calibration::CalibrationRun;
use crate::continuous::ContinuousRun;
use crate::git::redact_url;
use crate::joblog::JobLog;
use crate::process::{StopReason, StopSignal};
use crate::toolchain::AsvSetup;
use crate::workspace::Workspace;

/// The job's current phase and merge-base, for heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The current phase.
    pub phase: Phase,
    /// The merge-base, once computed.
    pub base_sha: Option<String>,
}

/// The product of a job that ran to its end: results, or the reason there
/// are none.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    /// The merge-base, when the fetch got that far.
    pub base_sha: Option<String>,
    /// asv's `benchmarks.json`, when asv wrote it.
    pub benchmarks_json: Option<String>,
    /// The results files asv wrote, possibly none.
    pub results: Vec<ResultFile>,
    /// The reason the job failed, or `None` when it completed.
    pub failure: Option<String>,
}

/// Runs jobs with the agent's settings.
#[derive(Debug, Clone)]
pub struct JobRunner {
    workspace: Workspace,
    asv: AsvSetup,
    config: AgentConfig,
}

impl JobRunner {
    /// Creates a runner that keeps checkouts in `<work_dir>/repos`.
    pub fn new(config: &AgentConfig) -> Self {
        Self {
            workspace: Workspace {
                root: config.work_dir.join("repos"),
                git_timeout: config.git_timeout,
            },
            asv: AsvSetup {
                program: config.asv_program.clone(),
                venv: config.asv_venv_dir(),
                python: config.python.clone(),
                version: config.asv_version.clone(),
                home: config.work_dir.join("asv-home"),
            },
            config: config.clone(),
        }
    }

    /// Runs `job`, writing to `log` and publishing its phase on `progress`.
    ///
    /// Returns `Err` with the reason when `stop` was given before the job
    /// ended: such a job has no result to report. Any other problem is a
    /// failed [`JobResult`].
    pub async fn execute(
        &self,
        job: &ClaimedJob,
        log: &JobLog,
        stop: &StopSignal,
        progress: &watch::Sender<Progress>,
    ) -> Result<JobResult, StopReason> {
        let started = Instant::now();
        let result = self.execute_steps(job, log, stop, progress).await;
        if let Some(reason) = stop.reason() {
            log.line(format!("stopped after {} s because {reason}", started.elapsed().as_secs()));
            return Err(reason);
        }
        match &result.failure {
            Some(failure) => log.line(format!("failed: {}", first_line(failure))),
            None => log.line(format!("completed in {} s", started.elapsed().as_secs())),
        }
        Ok(result)
    }

    async fn execute_steps(
        &self,
        job: &ClaimedJob,
        log: &JobLog,
        stop: &StopSignal,
        progress: &watch::Sender<Progress>,
    ) -> JobResult {
        let mut result = JobResult {
            base_sha: None,
            benchmarks_json: None,
            results: Vec::new(),
            failure: None,
        };
        let fetch_url = self.config.rewrite_url(&job.clone_url);
        log.line(format!(
            "job {} attempt {}: {} at {} against {} (fetching from {})",
            job.job_id,
            job.attempt,
            job.repository,
            job.head_sha,
            job.base_ref,
            redact_url(&fetch_url)
        ));

        let checkout = match self.workspace.prepare(job, &fetch_url, log, stop).await {
            Ok(checkout) => checkout,
            Err(error) => {
                result.failure = Some(format!("preparing the checkout failed: {error}"));
                return result;
            }
        };
        result.base_sha = Some(checkout.base_sha.clone());
        progress.send_replace(Progress {
            phase: Phase::Building,
            base_sha: Some(checkout.base_sha.clone()),
        });
        if checkout.base_sha == checkout.head_sha && job.calibration_passes.is_none() {
            result.failure = Some(format!(
                "commit {} is already on branch {}, so there is nothing to compare it with",
                checkout.head_sha, job.base_ref
            ));
            return result;
        }

        let asv = match self.asv.ensure(log, stop).await {
            Ok(asv) => asv,
            Err(error) => {
                result.failure = Some(format!("setting up asv failed: {error}"));
                return result;
            }
        };

        progress.send_modify(|progress| progress.phase = Phase::Benchmarking);
        let machine = self.config.machine_name();
        let outcome = match job.calibration_passes {
            Some(passes) => {
                let run = CalibrationRun {
                    asv: &asv,
                    checkout: &checkout,
                    machine,
                    options: &job.asv,
                    passes,
                };
                run.run(log, stop).await
            }
            None => {
                let run = ContinuousRun {
                    asv: &asv,
                    checkout: &checkout,
                    machine,
                    options: &job.asv,
                };
                run.run(log, stop).await
            }
        };
        match outcome {
            Ok(run) => {
                result.benchmarks_json = run.benchmarks_json;
                result.results = run.results;
                result.failure = run.failure;
            }
            Err(error) => result.failure = Some(format!("running asv failed: {error}")),
        }
        result
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}
