//! A/A calibration: queueing a job that benchmarks one commit against
//! itself on one machine (shared by `pitot calibrate` and the JSON API),
//! and storing the noise its passes show once the agent has reported.
//!
//! Calibration results are never ingested as runs: the commit's history
//! already has, or will get, its own results, and the passes are measured
//! back to back, unlike history. Only `calibration_noise` rows are kept;
//! `crate::noise_thresholds` reads them where history is short.

use std::collections::BTreeMap;

use anyhow::Context as _;
use pitot_asv::{parse_benchmarks, parse_results, ResultsFile};
use pitot_stats::calibration::{calibration_noise, CalibratedNoise, MAX_PASSES, MIN_PASSES};
use pitot_store::calibrations::{self, NewCalibrationJob, NewSeriesNoise};
use pitot_store::commit_jobs::CommitJobTask;
use pitot_store::job_reports::{self, JobReport, ReportFile};
use pitot_store::jobs;
use pitot_store::RepoName;
use sqlx::PgConnection;

/// The number of passes when the caller gives none.
pub const DEFAULT_PASSES: u32 = 2;

/// A calibration request that cannot be queued; the message names the
/// value and the fix.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationRequestError {
    #[error("invalid number of passes {0}: use {MIN_PASSES} to {MAX_PASSES}")]
    Passes(u32),
    #[error(
        "invalid machine {0:?}: expected 1 to 100 characters without '/' or control characters"
    )]
    Machine(String),
    #[error(
        "repository {0} not found: pitot stores a repository once it has a job or imported results"
    )]
    UnknownRepository(String),
    #[error(
        "repository {0} has no reported job, so pitot knows no clone URL for it; \
         benchmark a pull request or a push first"
    )]
    NoSource(String),
    #[error(
        "repository {0} has no benchmarked default-branch commit; pass the commit to calibrate with --sha (API: \"sha\")"
    )]
    NoCommit(String),
    #[error("invalid commit {0:?}: expected a full commit hash of 40 or 64 hexadecimal digits")]
    Sha(String),
    #[error(transparent)]
    Store(#[from] pitot_store::StoreError),
}

/// A calibration request from the CLI or the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationRequest {
    pub repository: RepoName,
    /// The commit; `None` takes the newest benchmarked default-branch commit.
    pub sha: Option<String>,
    /// The asv machine that must run it; `None` lets any agent take it.
    pub machine: Option<String>,
    pub passes: u32,
}

/// A queued calibration job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedCalibration {
    pub job_id: i64,
    pub sha: String,
    /// False when an unfinished calibration of the same commit and machine
    /// existed and is returned instead.
    pub created: bool,
}

impl CalibrationRequest {
    /// Checks the values that do not need the database.
    fn check(&self) -> Result<(), CalibrationRequestError> {
        if !(MIN_PASSES..=MAX_PASSES).contains(&(self.passes as usize)) {
            return Err(CalibrationRequestError::Passes(self.passes));
        }
        if let Some(machine) = &self.machine {
            let valid = !machine.is_empty()
                && machine.len() <= 100
                && !machine.chars().any(|c| c.is_control() || c == '/');
            if !valid {
                return Err(CalibrationRequestError::Machine(machine.clone()));
            }
        }
        if let Some(sha) = &self.sha {
            let valid = matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit());
            if !valid {
                return Err(CalibrationRequestError::Sha(sha.clone()));
            }
        }
        Ok(())
    }
}

/// Queues a calibration job in one transaction and wakes the agents, or
/// returns the unfinished job that already calibrates the same commit on
/// the same machine.
pub async fn queue_calibration(
    conn: &mut PgConnection,
    request: &CalibrationRequest,
    max_attempts: i32,
) -> Result<QueuedCalibration, CalibrationRequestError> {
    request.check()?;
    let name = request.repository.to_string();
    let Some(repository_id) =
        pitot_store::regressions::find_repository_id(&mut *conn, &name).await?
    else {
        return Err(CalibrationRequestError::UnknownRepository(name));
    };
    let source = calibrations::calibration_source(&mut *conn, repository_id)
        .await?
        .ok_or_else(|| CalibrationRequestError::NoSource(name.clone()))?;
    let sha = match (&request.sha, &source.newest_sha) {
        (Some(sha), _) => sha.to_ascii_lowercase(),
        (None, Some(newest)) => newest.clone(),
        (None, None) => return Err(CalibrationRequestError::NoCommit(name)),
    };
    let machine = request.machine.as_deref();

    // NOTE: the job goes to the agent backend even for a repository that
    // runs its jobs on GitHub Actions, whose workflow template only runs
    // `asv continuous`. Such a job waits until an agent claims it.
    let job = NewCalibrationJob {
        repository_id,
        sha: &sha,
        branch: &source.branch,
        clone_url: &source.clone_url,
        installation_id: source.installation_id,
        max_attempts,
        required_machine: machine,
        // `check` keeps it at 10 or less.
        passes: request.passes as i16,
    };
    if let Some(job_id) = calibrations::insert_calibration_job(&mut *conn, &job).await? {
        jobs::notify_job_queued(&mut *conn, job_id).await?;
        return Ok(QueuedCalibration {
            job_id,
            sha,
            created: true,
        });
    }
    let job_id = calibrations::find_pending_calibration(&mut *conn, repository_id, &sha, machine)
        .await?
        .ok_or_else(|| {
            // The insert met the unique index, so the other job finished
            // between the two statements; a retry queues a new one.
            pitot_store::StoreError::NotFound {
                what: "calibration job",
                value: format!("commit {sha}; it finished a moment ago, so try again"),
            }
        })?;
    Ok(QueuedCalibration {
        job_id,
        sha,
        created: false,
    })
}

/// Computes and stores the noise of a reported calibration job. Returns
/// `Ok(Ok(summary))` with a one-line summary for the job's record, or
/// `Ok(Err(reason))` when the report cannot give a calibration, which
/// fails the job at once because a retry would read the same files. A
/// database error is `Err`, and the reporter tries again later.
pub(crate) async fn store_calibration(
    tx: &mut PgConnection,
    task: &CommitJobTask,
    report: &JobReport,
) -> anyhow::Result<Result<String, String>> {
    let files = job_reports::load_report_files(&mut *tx, report.id).await?;
    let noise = match measure(&files, report.benchmarks_json.as_deref()) {
        Ok(noise) => noise,
        Err(error) => return Ok(Err(format!("{error:#}"))),
    };

    let rows: Vec<NewSeriesNoise> = noise.iter().map(new_row).collect();
    calibrations::insert_noise(
        &mut *tx,
        task.job_id,
        task.repository_id,
        &task.head_sha,
        &rows,
    )
    .await?;
    Ok(Ok(summary(&noise, report_passes(&files))))
}

/// Parses the report's files and computes the noise of every series.
fn measure(
    files: &[ReportFile],
    benchmarks_json: Option<&str>,
) -> anyhow::Result<Vec<CalibratedNoise>> {
    let passes = results_by_pass(files)?;
    let suite = benchmarks_json
        .map(|text| parse_benchmarks(text.as_bytes()))
        .transpose()
        .context("the benchmarks.json from the agent is not valid asv output")?
        .unwrap_or_default();
    calibration_noise(&passes, &suite).context("cannot compute the calibration's noise")
}

/// Returns how many `pass-<n>/` folders the report has.
fn report_passes(files: &[ReportFile]) -> usize {
    let mut passes: Vec<&str> = files
        .iter()
        .filter_map(|file| file.path.split_once('/').map(|(folder, _)| folder))
        .collect();
    passes.sort_unstable();
    passes.dedup();
    passes.len()
}

/// Groups the report's results files by their `pass-<n>/` folder, in pass
/// order. `machine.json` files are skipped.
fn results_by_pass(files: &[ReportFile]) -> anyhow::Result<Vec<Vec<ResultsFile>>> {
    let mut passes: BTreeMap<u32, Vec<ResultsFile>> = BTreeMap::new();
    for file in files {
        if file.path.ends_with("/machine.json") {
            continue;
        }
        let pass = file
            .path
            .strip_prefix("pass-")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(number, _)| number.parse::<u32>().ok())
            .with_context(|| {
                format!(
                    "the calibration file {:?} is not under a pass-<n>/ folder",
                    file.path
                )
            })?;
        let parsed = parse_results(file.content.as_bytes()).with_context(|| {
            format!(
                "the results file {:?} from the agent is not valid asv output",
                file.path
            )
        })?;
        passes.entry(pass).or_default().push(parsed);
    }
    Ok(passes.into_values().collect())
}

fn new_row(noise: &CalibratedNoise) -> NewSeriesNoise {
    NewSeriesNoise {
        machine: noise.machine.clone(),
        environment: noise.env_name.clone(),
        benchmark: noise.benchmark.clone(),
        series_name: noise.name.clone(),
        unit: noise.unit.clone(),
        // At most `MAX_PASSES`.
        passes: noise.passes as i16,
        relative_difference: noise.relative_difference,
        sample_spread: noise.sample_spread,
    }
}

/// Returns "`N` series over `P` passes; largest difference X% (name)".
fn summary(noise: &[CalibratedNoise], passes: usize) -> String {
    let largest = noise
        .iter()
        .filter_map(|series| {
            series
                .relative_difference
                .map(|difference| (difference, &series.name))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let mut text = format!("{} series over {passes} passes", noise.len());
    if let Some((difference, name)) = largest {
        text.push_str(&format!(
            "; largest difference {:.1}% ({name})",
            difference * 100.0
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(passes: u32, machine: Option<&str>, sha: Option<&str>) -> CalibrationRequest {
        CalibrationRequest {
            repository: "octo/demo".parse().expect("valid name"),
            sha: sha.map(str::to_owned),
            machine: machine.map(str::to_owned),
            passes,
        }
    }

    #[test]
    fn request_bad_inputs() {
        let cases = [
            ("one pass", request(1, None, None), "passes 1"),
            ("eleven passes", request(11, None, None), "passes 11"),
            ("empty machine", request(2, Some(""), None), "machine \"\""),
            (
                "machine with slash",
                request(2, Some("a/b"), None),
                "machine \"a/b\"",
            ),
            (
                "short sha",
                request(2, None, Some("abc123")),
                "commit \"abc123\"",
            ),
            (
                "branch name",
                request(2, None, Some("main")),
                "commit \"main\"",
            ),
        ];
        for (case, request, expected) in cases {
            let error = request.check().expect_err(case).to_string();

            assert!(error.contains(expected), "{case}: {error}");
        }
    }

    #[test]
    fn request_accepts_defaults() {
        let sha = "0123456789abcdef0123456789abcdef01234567";

        assert!(request(DEFAULT_PASSES, None, None).check().is_ok());
        assert!(request(10, Some("bench-1"), Some(sha)).check().is_ok());
    }

    #[test]
    fn files_grouped_by_pass() {
        let file = |path: &str| ReportFile {
            path: path.to_owned(),
            content: String::new(),
        };
        let bad = [file("bench-1/11111111-env.json")];

        let error = results_by_pass(&bad).unwrap_err().to_string();

        assert!(error.contains("not under a pass-<n>/ folder"), "{error}");
        assert!(results_by_pass(&[file("pass-1/bench-1/machine.json")])
            .expect("machine.json skipped")
            .is_empty());
    }
}
