//! Checking a parsed results file and deriving the values the tables store,
//! before any SQL runs.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use pitot_asv::{BenchmarkResult, ResultsFile};

use crate::commit_sha::full_sha;
use crate::StoreError;

/// A results file that passed the checks, with the derived columns.
pub(crate) struct PreparedFile<'a> {
    pub file: &'a ResultsFile,
    pub sha: String,
    pub committed_at: Option<DateTime<Utc>>,
    /// The earliest benchmark start in the file.
    pub started_at: Option<DateTime<Utc>>,
    /// The latest benchmark end (start plus duration) in the file.
    pub ended_at: Option<DateTime<Utc>>,
    /// The number of result rows the file produces.
    pub value_count: u64,
}

impl<'a> PreparedFile<'a> {
    /// Checks `file` and derives the run's columns.
    pub fn new(file: &'a ResultsFile) -> Result<Self, StoreError> {
        let sha = full_sha(&file.commit_hash)?;
        let invalid = |reason: String| StoreError::InvalidResults {
            commit: file.commit_hash.clone(),
            reason,
        };

        let committed_at = file.date.map(|ms| timestamp(ms, "date")).transpose().map_err(invalid)?;
        let mut names = HashSet::new();
        let mut value_count = 0u64;
        let mut started_at: Option<DateTime<Utc>> = None;
        let mut ended_at: Option<DateTime<Utc>> = None;
        for benchmark in &file.benchmarks {
            if !names.insert(benchmark.name.as_str()) {
                return Err(invalid(format!("benchmark {} is listed twice", benchmark.name)));
            }
            check_lengths(benchmark).map_err(invalid)?;
            value_count += benchmark.outcomes.len() as u64;

            let start = benchmark.started_at.map(|ms| timestamp(ms, "started_at")).transpose().map_err(invalid)?;
            if let Some(start) = start {
                started_at = Some(started_at.map_or(start, |earliest| earliest.min(start)));
                let end = start + seconds(benchmark.duration.unwrap_or(0.0));
                ended_at = Some(ended_at.map_or(end, |latest| latest.max(end)));
            }
        }

        Ok(PreparedFile {
            file,
            sha,
            committed_at,
            started_at,
            ended_at,
            value_count,
        })
    }
}

/// Checks the model's length invariants, which the store relies on to number
/// combinations.
fn check_lengths(benchmark: &BenchmarkResult) -> Result<(), String> {
    let combinations = benchmark.combination_count();
    let name = &benchmark.name;
    if benchmark.outcomes.len() != combinations {
        return Err(format!(
            "benchmark {name} has {} outcomes for {combinations} parameter combinations",
            benchmark.outcomes.len()
        ));
    }
    if i32::try_from(combinations).is_err() {
        return Err(format!("benchmark {name} has {combinations} parameter combinations, more than the store can number"));
    }
    for (column, len) in [("stats", benchmark.stats.len()), ("samples", benchmark.samples.len())] {
        if len != 0 && len != combinations {
            return Err(format!(
                "benchmark {name} has {len} {column} entries for {combinations} parameter combinations"
            ));
        }
    }
    Ok(())
}

fn timestamp(ms: i64, field: &str) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("{field} {ms} is out of range for a timestamp"))
}

/// Converts asv's duration in seconds; a negative or non-finite duration
/// counts as zero so that it cannot move the run's end before its start.
fn seconds(duration: f64) -> chrono::TimeDelta {
    if !duration.is_finite() || duration <= 0.0 {
        return chrono::TimeDelta::zero();
    }
    chrono::TimeDelta::microseconds((duration * 1e6).min(i64::MAX as f64 / 2.0) as i64)
}

#[cfg(test)]
mod tests {
    use pitot_asv::Outcome;

    use super::*;

    fn file_with(benchmarks: Vec<BenchmarkResult>) -> ResultsFile {
        ResultsFile {
            schema_version: 2,
            machine: "m".into(),
            env_name: "e".into(),
            commit_hash: "a".repeat(40),
            benchmarks,
            ..ResultsFile::default()
        }
    }

    fn plain(name: &str, started_at: Option<i64>, duration: Option<f64>) -> BenchmarkResult {
        BenchmarkResult {
            name: name.into(),
            outcomes: vec![Outcome::Value(1.0)],
            started_at,
            duration,
            ..BenchmarkResult::default()
        }
    }

    #[test]
    fn run_spans_earliest_start_to_latest_end() {
        let file = file_with(vec![
            plain("b", Some(10_000), Some(5.0)),
            plain("a", Some(2_000), Some(1.0)),
            plain("c", None, None),
        ]);

        let prepared = PreparedFile::new(&file).expect("valid file");

        assert_eq!(prepared.started_at.map(|t| t.timestamp_millis()), Some(2_000));
        assert_eq!(prepared.ended_at.map(|t| t.timestamp_millis()), Some(15_000));
        assert_eq!(prepared.value_count, 3);
    }

    #[test]
    fn rejects_files_that_break_the_model() {
        let mut short = plain("short", None, None);
        short.params = vec![vec!["1".into(), "2".into()]];
        let mut bad_stats = plain("bad_stats", None, None);
        bad_stats.stats = vec![None, None];
        let mut bad_samples = plain("bad_samples", None, None);
        bad_samples.samples = vec![None, None];
        let cases = [
            (file_with(vec![short]), "2 parameter combinations", "outcomes shorter than combinations"),
            (file_with(vec![bad_stats]), "2 stats entries", "stats longer than outcomes"),
            (file_with(vec![bad_samples]), "2 samples entries", "samples longer than outcomes"),
            (file_with(vec![plain("x", None, None), plain("x", None, None)]), "listed twice", "duplicate name"),
            (file_with(vec![plain("x", Some(i64::MAX), None)]), "out of range", "start out of range"),
        ];

        for (file, expected, case) in cases {
            let error = PreparedFile::new(&file).err().map(|e| e.to_string()).unwrap_or_default();

            assert!(error.contains(expected), "{case}: {error:?}");
        }
    }
}
