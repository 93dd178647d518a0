//! Noise measured by an A/A calibration run: asv benchmarks one commit
//! several times on one machine (each time a "pass"), and any difference
//! between the passes is noise, because the code is the same.
//!
//! Per series (benchmark, parameter combination, machine, environment) the
//! calibration stores two numbers:
//!
//! - the relative difference between the passes, `max / min - 1` over the
//!   passes' values (asv's median of the samples), and
//! - the sample spread: for each pass, the interquartile range of its raw
//!   samples divided by their median; the largest over the passes.
//!
//! Where a series has too little default-branch history to learn a
//! threshold from (fewer than [`MIN_HISTORY_POINTS`] points),
//! [`calibrated_threshold`] turns the relative difference into one.

use std::collections::BTreeMap;

use pitot_asv::{BenchmarkSuite, BenchmarkType, ResultsFile};

use crate::compare::{compare, CompareError, CompareOptions, Row, Side};
#[cfg(doc)]
use crate::noise::MIN_HISTORY_POINTS;
use crate::noise::{quantile, relative_change, NoiseThreshold, ThresholdSource, TIME_FLOOR};

/// How many times the A/A relative difference a change must exceed.
///
/// Two passes give one difference, a single draw from the machine's noise,
/// so the threshold sits well above it. Three times keeps a 1% A/A
/// difference from flagging a 2.5% change while still catching a 10% one.
pub const CALIBRATION_MULTIPLIER: f64 = 3.0;

/// The minimum number of passes of a calibration job: one difference needs two.
pub const MIN_PASSES: usize = 2;
/// The maximum number of passes of a calibration job, which bounds how long
/// it keeps the machine busy.
pub const MAX_PASSES: usize = 10;

/// The noise of one series across the passes of a calibration run.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibratedNoise {
    /// The benchmark's name without parameters.
    pub benchmark: String,
    /// asv's display name, `benchmark(param1, param2)`.
    pub name: String,
    pub machine: String,
    pub env_name: String,
    pub unit: Option<String>,
    pub kind: Option<BenchmarkType>,
    /// How many passes gave a positive, finite value.
    pub passes: usize,
    /// `max / min - 1` over those values; `None` with fewer than two.
    pub relative_difference: Option<f64>,
    /// The largest per-pass interquartile range of the samples over their
    /// median; `None` when no pass recorded at least two samples.
    pub sample_spread: Option<f64>,
}

/// An error in the input of [`calibration_noise`].
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// Fewer than [`MIN_PASSES`] passes have results files.
    #[error("a calibration needs the results of at least {MIN_PASSES} passes, got {0}")]
    TooFewPasses(usize),
    /// The passes could not be paired.
    #[error(transparent)]
    Compare(#[from] CompareError),
}

/// Computes the noise of every series from the results files of each pass.
///
/// The passes are paired by [`compare`], so parameter combinations,
/// machines and environments are matched as `asv compare` matches them.
/// A series is listed when any pass has it; failed, skipped and missing
/// outcomes, and values that are not positive, give no value.
pub fn calibration_noise(
    passes: &[Vec<ResultsFile>],
    suite: &BenchmarkSuite,
) -> Result<Vec<CalibratedNoise>, CalibrationError> {
    let with_results = passes.iter().filter(|files| !files.is_empty()).count();
    if passes.len() < MIN_PASSES || with_results < passes.len() {
        return Err(CalibrationError::TooFewPasses(with_results));
    }

    // Pass 0 is paired with each later pass; its side is taken once.
    let options = CompareOptions::default();
    let mut series: BTreeMap<(String, String, String), Accumulated> = BTreeMap::new();
    for (index, later) in passes[1..].iter().enumerate() {
        let comparison = compare(&passes[0], later, suite, &options)?;
        for row in comparison.rows {
            let entry = series
                .entry((row.machine.clone(), row.env_name.clone(), row.name.clone()))
                .or_insert_with(|| Accumulated::new(&row));
            if index == 0 {
                entry.add(&row.before);
            }
            entry.add(&row.after);
        }
    }
    Ok(series.into_values().map(Accumulated::finish).collect())
}

/// The values and spreads of one series gathered over the passes.
struct Accumulated {
    noise: CalibratedNoise,
    values: Vec<f64>,
    spreads: Vec<f64>,
}

impl Accumulated {
    fn new(row: &Row) -> Self {
        Accumulated {
            noise: CalibratedNoise {
                benchmark: row.benchmark.clone(),
                name: row.name.clone(),
                machine: row.machine.clone(),
                env_name: row.env_name.clone(),
                unit: row.unit.clone(),
                kind: row.kind.clone(),
                passes: 0,
                relative_difference: None,
                sample_spread: None,
            },
            values: Vec::new(),
            spreads: Vec::new(),
        }
    }

    fn add(&mut self, side: &Side) {
        if let Some(value) = side
            .measurement
            .value()
            .filter(|v| v.is_finite() && *v > 0.0)
        {
            self.values.push(value);
        }
        if let Some(spread) = side.samples.as_deref().and_then(relative_spread) {
            self.spreads.push(spread);
        }
    }

    fn finish(mut self) -> CalibratedNoise {
        self.noise.passes = self.values.len();
        let min = self.values.iter().copied().reduce(f64::min);
        let max = self.values.iter().copied().reduce(f64::max);
        if self.values.len() >= MIN_PASSES {
            self.noise.relative_difference = min.zip(max).and_then(|(a, b)| relative_change(a, b));
        }
        self.noise.sample_spread = self.spreads.into_iter().reduce(f64::max);
        self.noise
    }
}

/// Returns the interquartile range of `samples` over their median, or
/// `None` with fewer than two finite samples or a median that is not
/// positive.
pub fn relative_spread(samples: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.len() < 2 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let median = quantile(&sorted, 0.5);
    (median > 0.0).then(|| (quantile(&sorted, 0.75) - quantile(&sorted, 0.25)) / median)
}

/// Returns the threshold of a series whose history has only
/// `history_points` usable points, from its calibrated relative difference
/// over `passes` passes: [`CALIBRATION_MULTIPLIER`] times the difference,
/// and at least [`TIME_FLOOR`] for a wall-time benchmark.
pub fn calibrated_threshold(
    relative_difference: f64,
    passes: usize,
    history_points: usize,
    kind: Option<&BenchmarkType>,
) -> NoiseThreshold {
    let mut relative = CALIBRATION_MULTIPLIER * relative_difference;
    if kind == Some(&BenchmarkType::Time) {
        relative = relative.max(TIME_FLOOR);
    }
    NoiseThreshold {
        relative,
        source: ThresholdSource::Calibration {
            points: history_points,
            passes,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitot_asv::{BenchmarkResult, Outcome};

    const SHA: &str = "1111111111111111111111111111111111111111";

    fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
        let actual = actual.unwrap_or_else(|| panic!("{what}: no value"));
        assert!(
            (actual - expected).abs() < 1e-12,
            "{what}: got {actual}, expected {expected}"
        );
    }

    fn pass(values: &[(&str, f64)]) -> Vec<ResultsFile> {
        let benchmarks = values
            .iter()
            .map(|(name, value)| BenchmarkResult {
                name: (*name).to_owned(),
                outcomes: vec![Outcome::Value(*value)],
                stats: vec![None],
                samples: vec![None],
                ..BenchmarkResult::default()
            })
            .collect();
        vec![ResultsFile {
            schema_version: 2,
            machine: "bench-1".to_owned(),
            env_name: "virtualenv-py3.12".to_owned(),
            commit_hash: SHA.to_owned(),
            benchmarks,
            ..ResultsFile::default()
        }]
    }

    #[test]
    fn two_passes_difference() {
        // 0.0104 / 0.0100 - 1 = 0.04; 5.0 / 5.0 - 1 = 0.
        let passes = vec![
            pass(&[("bench.time_a", 0.0100), ("bench.track_b", 5.0)]),
            pass(&[("bench.time_a", 0.0104), ("bench.track_b", 5.0)]),
        ];

        let noise = calibration_noise(&passes, &BenchmarkSuite::default()).expect("noise");

        assert_eq!(noise.len(), 2);
        assert_eq!(noise[0].name, "bench.time_a");
        assert_eq!(noise[0].passes, 2);
        assert_close(noise[0].relative_difference, 0.04, "time_a");
        assert_close(noise[1].relative_difference, 0.0, "track_b");
    }

    #[test]
    fn three_passes_use_extremes() {
        // Values 2.0, 2.2, 1.9: max / min - 1 = 2.2 / 1.9 - 1.
        let passes = vec![
            pass(&[("bench.time_a", 2.0)]),
            pass(&[("bench.time_a", 2.2)]),
            pass(&[("bench.time_a", 1.9)]),
        ];

        let noise = calibration_noise(&passes, &BenchmarkSuite::default()).expect("noise");

        assert_eq!(noise[0].passes, 3);
        assert_close(noise[0].relative_difference, 2.2 / 1.9 - 1.0, "extremes");
    }

    #[test]
    fn series_in_one_pass_has_no_difference() {
        let passes = vec![
            pass(&[("bench.time_a", 1.0), ("bench.time_new", 3.0)]),
            pass(&[("bench.time_a", 1.0)]),
        ];

        let noise = calibration_noise(&passes, &BenchmarkSuite::default()).expect("noise");

        let new = noise
            .iter()
            .find(|n| n.name == "bench.time_new")
            .expect("listed");
        assert_eq!(new.passes, 1);
        assert_eq!(new.relative_difference, None);
    }

    #[test]
    fn too_few_passes_rejected() {
        let cases: Vec<(&str, Vec<Vec<ResultsFile>>)> = vec![
            ("one pass", vec![pass(&[("bench.time_a", 1.0)])]),
            (
                "second pass empty",
                vec![pass(&[("bench.time_a", 1.0)]), Vec::new()],
            ),
        ];
        for (case, passes) in cases {
            let error = calibration_noise(&passes, &BenchmarkSuite::default()).unwrap_err();

            assert!(
                matches!(error, CalibrationError::TooFewPasses(1)),
                "{case}: {error}"
            );
        }
    }

    #[test]
    fn spread_of_samples() {
        // Sorted 1, 2, 3, 4, 5: quartiles 2 and 4 (type 7), median 3,
        // spread (4 - 2) / 3.
        assert_close(
            relative_spread(&[5.0, 1.0, 4.0, 2.0, 3.0]),
            2.0 / 3.0,
            "spread",
        );
        assert_eq!(relative_spread(&[1.0]), None);
        assert_eq!(relative_spread(&[0.0, 0.0, 0.0]), None);
    }

    #[test]
    fn threshold_is_multiple_or_floor() {
        let time = calibrated_threshold(0.01, 2, 3, Some(&BenchmarkType::Time));
        let small = calibrated_threshold(0.001, 2, 3, Some(&BenchmarkType::Time));
        let track = calibrated_threshold(0.0, 2, 0, Some(&BenchmarkType::Track));

        assert!((time.relative - 0.03).abs() < 1e-12, "{time:?}");
        assert_eq!(
            time.source,
            ThresholdSource::Calibration {
                points: 3,
                passes: 2
            }
        );
        assert_eq!(small.relative, TIME_FLOOR);
        assert_eq!(track.relative, 0.0);
    }
}
