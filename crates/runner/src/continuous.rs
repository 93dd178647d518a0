//! Running `asv continuous` on a checkout and judging the run from the
//! files asv wrote.
//!
//! asv's exit status and stdout are unreliable: `asv continuous` exits 2 and
//! prints no table when a single benchmark errors, and 1 when performance
//! got worse. So a run counts as completed when asv wrote results for both
//! commits, and the status is only written to the log.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::api::{AsvOptions, ResultFile};
use crate::joblog::JobLog;
use crate::process::{run_step, CommandError, StopSignal};
use crate::toolchain::{Asv, ToolchainError};
use crate::workspace::Checkout;

/// How many lines of the log a failure message quotes.
const QUOTED_LOG_LINES: usize = 20;

/// An error that kept asv from running at all. A run that produced no
/// results is not an error: it is a [`RunResult`] with a failure.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The `config` option of the job is not a path inside the checkout.
    #[error("invalid asv config path {0:?}: expected a relative path inside the repository")]
    InvalidConfigPath(String),
    /// The checkout has no asv configuration.
    #[error("the repository has no asv configuration at {path}")]
    MissingConfig { path: String },
    /// The asv configuration is not valid JSON with comments.
    #[error("reading {path} failed: {message}")]
    InvalidConfig { path: String, message: String },
    /// Recording the machine failed.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// asv could not be started, or the job was asked to stop.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// Reading or removing result files failed.
    #[error("{action} {} failed: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The files a run of `asv continuous` left behind, and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// asv's `benchmarks.json`, when asv wrote it.
    pub benchmarks_json: Option<String>,
    /// The results files of both commits and the machine's `machine.json`,
    /// with paths relative to the results folder.
    pub results: Vec<ResultFile>,
    /// The reason the run failed, or `None` when asv wrote results for both
    /// commits.
    pub failure: Option<String>,
}

/// One `asv continuous` run of a job.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousRun<'a> {
    /// The asv to run.
    pub asv: &'a Asv,
    /// The checkout of the head, with the merge-base.
    pub checkout: &'a Checkout,
    /// The asv machine name to record results under.
    pub machine: &'a str,
    /// The job's asv options.
    pub options: &'a AsvOptions,
}

impl ContinuousRun<'_> {
    /// Runs `asv continuous <base_sha> <head_sha>` in the checkout with
    /// samples recorded, stopping it when the job's timeout passes or `stop`
    /// is given, and collects the files it wrote.
    ///
    /// Result files left from an earlier run of the same commits are removed
    /// first, so they cannot pass for this run's. asv interleaves the rounds
    /// of the two commits by itself whenever the environment type allows it
    /// (asv 0.6 `--interleave-rounds` defaults to "when possible").
    ///
    /// Returns [`RunError::Command`] with [`CommandError::Stopped`] when the
    /// job was asked to stop. A timeout is a [`RunResult`] with a failure.
    pub async fn run(&self, log: &JobLog, stop: &StopSignal) -> Result<RunResult, RunError> {
        let config = self.config_path()?;
        let results_dir = self.results_dir(&config)?;
        let machine_dir = results_dir.join(self.machine);
        let shas = [self.checkout.base_sha.as_str(), self.checkout.head_sha.as_str()];
        remove_earlier_results(&results_dir, &machine_dir, &shas)?;

        self.asv
            .record_machine(self.machine, &self.checkout.dir, Some(&config), log, stop)
            .await?;

        let timeout = Duration::from_secs(self.options.timeout_seconds);
        let (command, command_line) = self.command(&config);
        let finish = run_step(command, &command_line, log, timeout, stop).await;
        let timed_out = match finish {
            Ok(status) => {
                log.line(format!("asv exited with {status}; the run is judged by its result files"));
                None
            }
            Err(CommandError::TimedOut { timeout, .. }) => Some(timeout),
            Err(error) => return Err(error.into()),
        };

        let mut result = collect(&results_dir, self.machine, &shas)?;
        if let Some(timeout) = timed_out {
            let message = format!(
                "asv continuous timed out after {} s and was stopped",
                timeout.as_secs()
            );
            log.line(&message);
            result.failure = Some(message);
        } else {
            result.failure = judge(&result, self.machine, &self.checkout.base_sha, &self.checkout.head_sha);
        }
        if let Some(failure) = &mut result.failure {
            append_log_tail(failure, log);
        }
        Ok(result)
    }

    /// Returns the asv configuration's path relative to the checkout: the
    /// job's `config`, else whichever of `asv.conf.json` and
    /// `asv.conf.jsonc` exists, as asv looks for them.
    pub(crate) fn config_path(&self) -> Result<String, RunError> {
        if let Some(config) = &self.options.config {
            let path = Path::new(config);
            let inside = path
                .components()
                .all(|component| matches!(component, Component::Normal(_) | Component::CurDir));
            if config.is_empty() || !inside {
                return Err(RunError::InvalidConfigPath(config.clone()));
            }
            return Ok(config.clone());
        }
        let found = ["asv.conf.json", "asv.conf.jsonc"]
            .into_iter()
            .find(|name| self.checkout.dir.join(name).is_file());
        Ok(found.unwrap_or("asv.conf.json").to_string())
    }

    /// Reads `results_dir` from the asv configuration. asv resolves it
    /// against the configuration file's folder.
    pub(crate) fn results_dir(&self, config: &str) -> Result<PathBuf, RunError> {
        let path = self.checkout.dir.join(config);
        let bytes = std::fs::read(&path).map_err(|_| RunError::MissingConfig {
            path: config.to_string(),
        })?;
        let parsed = pitot_asv::parse_config(&bytes).map_err(|error| RunError::InvalidConfig {
            path: config.to_string(),
            message: error.to_string(),
        })?;
        let config_dir = path.parent().unwrap_or(&self.checkout.dir);
        Ok(config_dir.join(parsed.results_dir))
    }

    fn command(&self, config: &str) -> (Command, String) {
        let mut args: Vec<String> = vec![
            "--config".into(),
            config.into(),
            "continuous".into(),
            "--machine".into(),
            self.machine.into(),
            "--record-samples".into(),
            "--show-stderr".into(),
            "--factor".into(),
            self.options.factor.to_string(),
        ];
        if let Some(bench) = &self.options.bench {
            args.extend(["--bench".into(), bench.clone()]);
        }
        if let Some(rounds) = self.options.rounds {
            args.extend(["--attribute".into(), format!("rounds={rounds}")]);
        }
        args.extend(self.options.extra_args.iter().cloned());
        args.extend([self.checkout.base_sha.clone(), self.checkout.head_sha.clone()]);

        let mut command = self.asv.command();
        command
            .args(&args)
            .current_dir(&self.checkout.dir)
            // Unbuffered, Python's stdout and stderr keep their order in the log.
            .env("PYTHONUNBUFFERED", "1")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1");
        let command_line = format!("asv {}", args.join(" "));
        (command, command_line)
    }
}

/// Returns the prefix of asv's results file names for a commit.
pub(crate) fn file_prefix(sha: &str) -> String {
    format!("{}-", &sha[..sha.len().min(8)])
}

fn is_results_file_of(name: &str, sha: &str) -> bool {
    name.starts_with(&file_prefix(sha)) && name.ends_with(".json")
}

pub(crate) fn remove_earlier_results(results_dir: &Path, machine_dir: &Path, shas: &[&str]) -> Result<(), RunError> {
    let mut stale = vec![results_dir.join("benchmarks.json")];
    if let Ok(entries) = std::fs::read_dir(machine_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if shas.iter().any(|sha| is_results_file_of(&name, sha)) {
                stale.push(entry.path());
            }
        }
    }
    for path in stale {
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(RunError::Io {
                    action: "removing",
                    path,
                    source: error,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads `benchmarks.json`, the commits' results files and `machine.json`.
pub(crate) fn collect(results_dir: &Path, machine: &str, shas: &[&str]) -> Result<RunResult, RunError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|source| RunError::Io {
                action: "reading",
                path: path.to_path_buf(),
                source,
            })
    };

    let benchmarks_path = results_dir.join("benchmarks.json");
    let benchmarks_json = if benchmarks_path.is_file() {
        Some(read(&benchmarks_path)?)
    } else {
        None
    };

    let machine_dir = results_dir.join(machine);
    let mut names: Vec<String> = match std::fs::read_dir(&machine_dir) {
        Ok(entries) => entries
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name == "machine.json" || shas.iter().any(|sha| is_results_file_of(name, sha)))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let mut results = Vec::new();
    for name in names {
        results.push(ResultFile {
            content: read(&machine_dir.join(&name))?,
            path: format!("{machine}/{name}"),
        });
    }

    Ok(RunResult {
        benchmarks_json,
        results,
        failure: None,
    })
}

/// Returns why the run failed, or `None` when every commit has results
/// with at least one benchmark that did not fail. Runs that pitot did not
/// watch, such as a GitHub Actions workflow's, are judged by it too.
pub fn judge(result: &RunResult, machine: &str, base_sha: &str, head_sha: &str) -> Option<String> {
    for (role, sha) in [("base", base_sha), ("head", head_sha)] {
        let files: Vec<&ResultFile> = result
            .results
            .iter()
            .filter(|file| {
                let name = file.path.rsplit('/').next().unwrap_or_default();
                is_results_file_of(name, sha)
            })
            .collect();
        if files.is_empty() {
            return Some(format!(
                "asv wrote no results for the {role} commit {sha} (no {machine}/{}*.json)",
                file_prefix(sha)
            ));
        }

        let mut any_value = false;
        for file in files {
            let parsed = match pitot_asv::parse_results(file.content.as_bytes()) {
                Ok(parsed) => parsed,
                Err(error) => return Some(format!("the results file {} is invalid: {error}", file.path)),
            };
            if !parsed.commit_hash.eq_ignore_ascii_case(sha) {
                return Some(format!(
                    "the results file {} is for commit {}, not the {role} commit {sha}",
                    file.path, parsed.commit_hash
                ));
            }
            any_value |= parsed
                .benchmarks
                .iter()
                .flat_map(|benchmark| &benchmark.outcomes)
                .any(|outcome| !matches!(outcome, pitot_asv::Outcome::Failed));
        }
        if !any_value {
            return Some(format!(
                "every benchmark failed for the {role} commit {sha}, so building or \
                 installing the project probably failed"
            ));
        }
    }
    if result.benchmarks_json.is_none() {
        return Some("asv wrote no benchmarks.json".to_string());
    }
    None
}

pub(crate) fn append_log_tail(failure: &mut String, log: &JobLog) {
    if let Ok(tail) = log.last_lines(QUOTED_LOG_LINES) {
        failure.push_str(&format!("\n\nThe last lines of the log:\n{tail}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "1111111111111111111111111111111111111111";
    const HEAD: &str = "2222222222222222222222222222222222222222";

    /// Builds a schema 2 results file with one benchmark whose value is `value`
    /// (`None` for a failed benchmark).
    fn results_file(sha: &str, value: Option<f64>) -> ResultFile {
        let value = value.map_or("null".to_string(), |value| value.to_string());
        let content = format!(
            r#"{{"commit_hash": "{sha}", "env_name": "virtualenv-py3.11", "date": 1,
                "params": {{"machine": "bench-1"}}, "python": "3.11",
                "requirements": {{}}, "env_vars": {{}},
                "result_columns": ["result", "params", "version"],
                "results": {{"benchmarks.time_x": [[{value}], [], "abc"]}},
                "durations": {{}}, "version": 2}}"#
        );
        ResultFile {
            path: format!("bench-1/{}-virtualenv-py3.11.json", &sha[..8]),
            content,
        }
    }

    fn test_asv() -> Asv {
        Asv {
            program: PathBuf::from("asv"),
            python: None,
            version: "0.6.6".to_string(),
            home: PathBuf::from("/var/lib/pitot/agent/asv-home"),
        }
    }

    /// Returns asv options without a benchmark filter, config or rounds.
    fn test_options() -> AsvOptions {
        AsvOptions {
            bench: None,
            config: None,
            factor: 1.1,
            timeout_seconds: 60,
            extra_args: Vec::new(),
            rounds: None,
        }
    }

    fn checkout() -> Checkout {
        Checkout {
            dir: PathBuf::from("/unused"),
            head_sha: HEAD.to_string(),
            base_sha: BASE.to_string(),
        }
    }

    fn run_result(results: Vec<ResultFile>) -> RunResult {
        RunResult {
            benchmarks_json: Some("{}".to_string()),
            results,
            failure: None,
        }
    }

    #[test]
    fn judge_both_commits_complete() {
        let result = run_result(vec![results_file(BASE, Some(1.0)), results_file(HEAD, Some(2.0))]);

        let failure = judge(&result, "bench-1", BASE, HEAD);

        assert_eq!(failure, None);
    }

    #[test]
    fn judge_failures() {
        let mut wrong_commit = results_file(BASE, Some(1.0));
        wrong_commit.content = wrong_commit.content.replace(BASE, "1111111199999999999999999999999999999999");
        let cases = [
            (
                run_result(vec![results_file(BASE, Some(1.0))]),
                "asv wrote no results for the head commit 2222222222222222222222222222222222222222",
            ),
            (
                run_result(vec![results_file(HEAD, Some(1.0))]),
                "asv wrote no results for the base commit",
            ),
            (
                run_result(vec![results_file(BASE, Some(1.0)), results_file(HEAD, None)]),
                "every benchmark failed for the head commit",
            ),
            (
                run_result(vec![wrong_commit, results_file(HEAD, Some(1.0))]),
                "is for commit 1111111199999999999999999999999999999999",
            ),
            (
                RunResult {
                    benchmarks_json: None,
                    ..run_result(vec![results_file(BASE, Some(1.0)), results_file(HEAD, Some(1.0))])
                },
                "asv wrote no benchmarks.json",
            ),
        ];

        for (result, expected) in cases {
            let failure = judge(&result, "bench-1", BASE, HEAD);

            let failure = failure.unwrap_or_else(|| panic!("accepted; expected {expected:?}"));
            assert!(failure.contains(expected), "{failure:?} lacks {expected:?}");
        }
    }

    #[test]
    fn collect_reads_only_this_runs_files() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let machine_dir = dir.path().join("bench-1");
        std::fs::create_dir_all(&machine_dir).expect("folder");
        for name in ["11111111-env.json", "22222222-env.json", "33333333-env.json", "machine.json"] {
            std::fs::write(machine_dir.join(name), name).expect("writable");
        }
        std::fs::write(dir.path().join("benchmarks.json"), "{}").expect("writable");

        let result = collect(dir.path(), "bench-1", &[BASE, HEAD]).expect("readable");

        let paths: Vec<&str> = result.results.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["bench-1/11111111-env.json", "bench-1/22222222-env.json", "bench-1/machine.json"]);
        assert_eq!(result.benchmarks_json.as_deref(), Some("{}"));
    }

    #[test]
    fn config_path_outside_checkout_rejected() {
        let checkout = checkout();
        let asv = test_asv();
        for config in ["../asv.conf.json", "/etc/asv.conf.json", "bench/../../x.json", ""] {
            let options = AsvOptions {
                config: Some(config.to_string()),
                ..test_options()
            };
            let run = ContinuousRun {
                asv: &asv,
                checkout: &checkout,
                machine: "bench-1",
                options: &options,
            };

            let path = run.config_path();

            assert!(matches!(path, Err(RunError::InvalidConfigPath(_))), "{config:?} was accepted");
        }
    }

    #[test]
    fn command_passes_bench_and_rounds() {
        let checkout = checkout();
        let asv = test_asv();
        let options = AsvOptions {
            bench: Some("^(?:benchmarks\\.time_x)$".to_string()),
            rounds: Some(6),
            ..test_options()
        };
        let run = ContinuousRun {
            asv: &asv,
            checkout: &checkout,
            machine: "bench-1",
            options: &options,
        };

        let (_, command_line) = run.command("asv.conf.json");

        assert!(
            command_line.contains(" --bench ^(?:benchmarks\\.time_x)$ "),
            "{command_line}"
        );
        assert!(command_line.contains(" --attribute rounds=6 "), "{command_line}");
    }

    #[test]
    fn command_without_rounds_keeps_benchmark_settings() {
        let checkout = checkout();
        let asv = test_asv();
        let options = test_options();
        let run = ContinuousRun {
            asv: &asv,
            checkout: &checkout,
            machine: "bench-1",
            options: &options,
        };

        let (_, command_line) = run.command("asv.conf.json");

        assert!(!command_line.contains("--attribute"), "{command_line}");
    }
}
