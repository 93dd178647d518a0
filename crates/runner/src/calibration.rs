//! Running a calibration job: asv benchmarks one commit several times, and
//! each pass's results are kept apart.
//!
//! `asv continuous X X` cannot do this: asv 0.6.6 stores results per commit
//! and environment, so the second run of the same commit overwrites the
//! first. Each pass therefore runs `asv run SHA^!` (that one commit), and
//! its results file is read before the next pass removes it. The files are
//! sent as `pass-<n>/<machine>/<file>.json`.

use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::api::{AsvOptions, ResultFile};
use crate::continuous::{
    append_log_tail, collect, judge, remove_earlier_results, ContinuousRun, RunError, RunResult,
};
use crate::joblog::JobLog;
use crate::process::{run_step, CommandError, StopSignal};
use crate::toolchain::Asv;
use crate::workspace::Checkout;

/// One calibration job's passes over its commit.
#[derive(Debug, Clone, Copy)]
pub struct CalibrationRun<'a> {
    pub asv: &'a Asv,
    /// The checkout; its head is the commit to benchmark.
    pub checkout: &'a Checkout,
    /// The asv machine name to record results under.
    pub machine: &'a str,
    pub options: &'a AsvOptions,
    /// How many times asv runs on the commit.
    pub passes: u32,
}

impl CalibrationRun<'_> {
    /// Runs every pass within the job's timeout, which covers all of them,
    /// and returns the files of each pass under `pass-<n>/`. The run fails
    /// at the first pass that times out or writes no usable results.
    ///
    /// Returns [`RunError::Command`] with [`CommandError::Stopped`] when the
    /// job was asked to stop.
    pub async fn run(&self, log: &JobLog, stop: &StopSignal) -> Result<RunResult, RunError> {
        // The continuous run's helpers find the configuration and results
        // folder; its base and head are both this commit.
        let helper = ContinuousRun {
            asv: self.asv,
            checkout: self.checkout,
            machine: self.machine,
            options: self.options,
        };
        let config = helper.config_path()?;
        let results_dir = helper.results_dir(&config)?;
        let machine_dir = results_dir.join(self.machine);
        let sha = self.checkout.head_sha.as_str();

        self.asv
            .record_machine(self.machine, &self.checkout.dir, Some(&config), log, stop)
            .await?;

        let deadline = Instant::now() + Duration::from_secs(self.options.timeout_seconds);
        let mut result = RunResult {
            benchmarks_json: None,
            results: Vec::new(),
            failure: None,
        };
        for pass in 1..=self.passes {
            remove_earlier_results(&results_dir, &machine_dir, &[sha])?;
            log.line(format!("calibration pass {pass} of {}", self.passes));
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (command, command_line) = self.command(&config);
            match run_step(command, &command_line, log, remaining, stop).await {
                Ok(status) => log.line(format!(
                    "asv exited with {status}; the pass is judged by its result files"
                )),
                Err(CommandError::TimedOut { .. }) => {
                    let message = format!(
                        "calibration pass {pass} timed out: the {} s limit for all passes ran out",
                        self.options.timeout_seconds
                    );
                    log.line(&message);
                    result.failure = Some(message);
                    break;
                }
                Err(error) => return Err(error.into()),
            }

            let pass_result = collect(&results_dir, self.machine, &[sha])?;
            if let Some(failure) = judge(&pass_result, self.machine, sha, sha) {
                result.failure = Some(format!("calibration pass {pass} failed: {failure}"));
                break;
            }
            result.benchmarks_json = pass_result.benchmarks_json;
            result
                .results
                .extend(pass_result.results.into_iter().map(|file| ResultFile {
                    path: format!("pass-{pass}/{}", file.path),
                    content: file.content,
                }));
        }
        if let Some(failure) = &mut result.failure {
            append_log_tail(failure, log);
        }
        Ok(result)
    }

    fn command(&self, config: &str) -> (Command, String) {
        let mut args: Vec<String> = vec![
            "--config".into(),
            config.into(),
            "run".into(),
            "--machine".into(),
            self.machine.into(),
            "--record-samples".into(),
            "--show-stderr".into(),
        ];
        if let Some(bench) = &self.options.bench {
            args.extend(["--bench".into(), bench.clone()]);
        }
        args.extend(self.options.extra_args.iter().cloned());
        // `SHA^!` is git's range of exactly one commit, which `asv run` accepts.
        args.push(format!("{}^!", self.checkout.head_sha));

        let mut command = self.asv.command();
        command
            .args(&args)
            .current_dir(&self.checkout.dir)
            .env("PYTHONUNBUFFERED", "1")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1");
        let command_line = format!("asv {}", args.join(" "));
        (command, command_line)
    }
}
