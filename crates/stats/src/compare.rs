//! Pairing two result sets benchmark by benchmark and deciding, per pair,
//! what `asv compare` (asv 0.6.6) would mark it with.

use std::collections::{BTreeMap, BTreeSet};

use pitot_asv::{BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile, Stats};

use crate::detection::{Detection, DetectionOptions, Finding};
use crate::direction::{direction_of, Direction};
use crate::significance::{is_different, Significance};

/// asv's default `--factor`.
pub const DEFAULT_FACTOR: f64 = 1.1;

/// How to compare, as `asv compare` takes it on its command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    /// A value must shrink below `before / factor` to count as decreased, or
    /// `before` must be below `after / factor` to count as increased.
    pub factor: f64,
    /// Whether the statistics may veto a change the factor alone would flag
    /// (asv's default; `--no-stats` turns it off).
    pub use_stats: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            factor: DEFAULT_FACTOR,
            use_stats: true,
        }
    }
}

impl CompareOptions {
    /// Rejects a factor that is not a finite number above 0; asv itself
    /// raises `ZeroDivisionError` for 0 and gives meaningless marks for
    /// negative factors.
    pub fn validate(&self) -> Result<(), CompareError> {
        if self.factor.is_finite() && self.factor > 0.0 {
            Ok(())
        } else {
            Err(CompareError::InvalidFactor(self.factor))
        }
    }
}

/// One of the two result sets of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultSet {
    Before,
    After,
}

impl std::fmt::Display for ResultSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ResultSet::Before => "before",
            ResultSet::After => "after",
        })
    }
}

/// An error that prevents a comparison.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    #[error("invalid factor {0}: it must be a finite number greater than 0, such as 1.1")]
    InvalidFactor(f64),
    #[error("the {0} result set contains no benchmark results")]
    NoResults(ResultSet),
    #[error("invalid false discovery rate {0}: it must be above 0 and at most 1, such as 0.05")]
    InvalidFdrLevel(f64),
    #[error("invalid confidence level {0}: it must be between 0 and 1, such as 0.99")]
    InvalidIntervalLevel(f64),
}

/// The state of a benchmark on one side of a pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement {
    /// A measured value, never NaN (a NaN value is [`Measurement::Skipped`]).
    Value(f64),
    /// The benchmark failed (`null` in the results file).
    Failed,
    /// The benchmark was skipped (`NaN` in the results file).
    Skipped,
    /// The result set has no result for this benchmark at all.
    Missing,
}

impl Measurement {
    /// Converts an outcome read from a results file or the store; a NaN
    /// value becomes [`Measurement::Skipped`].
    pub fn from_outcome(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Value(value) if value.is_nan() => Measurement::Skipped,
            Outcome::Value(value) => Measurement::Value(value),
            Outcome::Failed => Measurement::Failed,
            Outcome::Skipped => Measurement::Skipped,
        }
    }

    /// Returns the value, if one was measured.
    pub fn value(self) -> Option<f64> {
        match self {
            Measurement::Value(value) => Some(value),
            _ => None,
        }
    }
}

/// One side of a pair: the measurement and what asv stored beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    pub measurement: Measurement,
    /// `None` also when the file stored a statistics entry with no fields,
    /// which asv treats as absent.
    pub stats: Option<Stats>,
    pub samples: Option<Vec<f64>>,
    /// The benchmark's version hash recorded in the results file.
    pub version: Option<String>,
}

impl Side {
    /// Returns the side of a benchmark that a result set lacks.
    pub fn missing() -> Self {
        Side {
            measurement: Measurement::Missing,
            stats: None,
            samples: None,
            version: None,
        }
    }

    /// Returns asv's error estimate: half the interquartile range, shown as
    /// `±` after the value. `None` without both quartiles.
    pub fn error(&self) -> Option<f64> {
        let stats = self.stats?;
        Some((stats.q_75? - stats.q_25?) / 2.0)
    }

    /// Returns whether asv would consult the statistics of this side:
    /// they exist and do not come from a single sample (`repeat == 1`).
    fn has_usable_stats(&self) -> bool {
        self.stats.is_some_and(|stats| stats.repeat != Some(1.0))
    }
}

/// asv's `Change` column for a pair. asv's marks describe the value, not
/// whether that is good, which [`Row::got_worse`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `+`: the value grew by more than the factor, and significantly.
    Increased,
    /// `-`: the value shrank by more than the factor, and significantly.
    Decreased,
    /// `!`: the benchmark failed after but not before.
    NewFailure,
    /// `*`: the benchmark failed before but not after.
    FixedFailure,
    /// `x`: the two results come from different benchmark versions.
    NotComparable,
    /// blank: everything else, including failed or skipped on both sides.
    Unchanged,
}

impl Mark {
    /// Returns the character asv prints in the `Change` column.
    pub fn symbol(self) -> char {
        match self {
            Mark::Increased => '+',
            Mark::Decreased => '-',
            Mark::NewFailure => '!',
            Mark::FixedFailure => '*',
            Mark::NotComparable => 'x',
            Mark::Unchanged => ' ',
        }
    }
}

/// One benchmark, for one parameter combination, machine and environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The benchmark's name in `benchmarks.json`, without parameters.
    pub benchmark: String,
    /// The parameter values (Python `repr` strings) of this combination.
    pub params: Vec<String>,
    /// The name asv shows: `benchmark(param1, param2)`, or `benchmark`.
    pub name: String,
    pub machine: String,
    pub env_name: String,
    /// The unit from `benchmarks.json`; `None` for a benchmark it lacks.
    pub unit: Option<String>,
    pub kind: Option<BenchmarkType>,
    pub direction: Direction,
    pub before: Side,
    pub after: Side,
    /// `after / before`; `None` when either side has no value or `before`
    /// is zero (asv prints `n/a`).
    pub ratio: Option<f64>,
    pub mark: Mark,
    /// The statistical test behind the mark.
    pub significance: Significance,
    /// The factor alone would have marked this pair, but the statistics
    /// found no significant difference; asv prints the ratio as `~3.00`.
    pub insignificant: bool,
    /// pitot's own verdict, set by [`crate::assess`]; `None` before.
    pub detection: Option<Detection>,
}

impl Row {
    /// Returns `machine/env`, as asv suffixes names with it.
    pub fn environment(&self) -> String {
        format!("{}/{}", self.machine, self.env_name)
    }

    /// Returns whether this pair got worse, taking the benchmark's
    /// direction into account: a new failure, or a significant change the
    /// wrong way.
    pub fn got_worse(&self) -> bool {
        match self.mark {
            Mark::NewFailure => true,
            Mark::Increased => self.direction == Direction::LowerIsBetter,
            Mark::Decreased => self.direction == Direction::HigherIsBetter,
            _ => false,
        }
    }

    /// Returns whether this pair got better: a fixed failure, or a
    /// significant change the right way.
    pub fn got_better(&self) -> bool {
        match self.mark {
            Mark::FixedFailure => true,
            Mark::Increased => self.direction == Direction::HigherIsBetter,
            Mark::Decreased => self.direction == Direction::LowerIsBetter,
            _ => false,
        }
    }

    /// Returns whether pitot's verdict calls this row worse: a regression
    /// by [`crate::assess`], or, where its verdict defers to asv's marks or
    /// the row was not assessed, [`Row::got_worse`].
    pub fn judged_worse(&self) -> bool {
        match self.detection.map(|detection| detection.finding) {
            None | Some(Finding::NotApplicable) => self.got_worse(),
            Some(finding) => finding == Finding::Regression,
        }
    }

    /// Returns whether pitot's verdict calls this row better, like
    /// [`Row::judged_worse`].
    pub fn judged_better(&self) -> bool {
        match self.detection.map(|detection| detection.finding) {
            None | Some(Finding::NotApplicable) => self.got_better(),
            Some(finding) => finding == Finding::Improvement,
        }
    }
}

/// The rows of a comparison, sorted as asv sorts them by default: by name,
/// then by `machine/env`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// The `machine/env` pairs that have at least one result, sorted.
    pub environments: Vec<String>,
    pub options: CompareOptions,
    /// The levels of pitot's verdict once [`crate::assess`] has run.
    pub detection: Option<DetectionOptions>,
}

impl Comparison {
    /// Returns whether rows come from more than one machine or environment;
    /// asv then appends ` [machine/env]` to every name.
    pub fn has_multiple_environments(&self) -> bool {
        self.environments.len() > 1
    }

    /// Returns whether some row got worse, direction taken into account.
    pub fn got_worse(&self) -> bool {
        self.rows.iter().any(Row::got_worse)
    }

    /// Returns whether some row got worse by pitot's verdict
    /// ([`Row::judged_worse`]).
    pub fn judged_worse(&self) -> bool {
        self.rows.iter().any(Row::judged_worse)
    }

    /// Returns asv's own "worsened" flag: some row is marked `+` or `!`,
    /// whatever the benchmark's direction.
    pub fn asv_worsened(&self) -> bool {
        self.rows
            .iter()
            .any(|row| matches!(row.mark, Mark::Increased | Mark::NewFailure))
    }
}

/// The rows of one result set, keyed by (name, `machine/env`) like asv.
type Unrolled = BTreeMap<(String, String), UnrolledResult>;

struct UnrolledResult {
    benchmark: String,
    params: Vec<String>,
    machine: String,
    env_name: String,
    side: Side,
}

/// Compares two result sets as `asv compare` does.
///
/// Each set contains the results files of one commit, one per machine and
/// environment. A benchmark that appears twice for the same machine and
/// environment keeps its last result, as in asv. `suite` supplies units
/// and kinds; results for benchmarks it lacks are still compared.
pub fn compare(
    before: &[ResultsFile],
    after: &[ResultsFile],
    suite: &BenchmarkSuite,
    options: &CompareOptions,
) -> Result<Comparison, CompareError> {
    options.validate()?;
    let mut environments = BTreeSet::new();
    let before = unroll(before, &mut environments);
    let after = unroll(after, &mut environments);
    if before.is_empty() {
        return Err(CompareError::NoResults(ResultSet::Before));
    }
    if after.is_empty() {
        return Err(CompareError::NoResults(ResultSet::After));
    }

    let keys: BTreeSet<&(String, String)> = before.keys().chain(after.keys()).collect();
    let rows = keys
        .into_iter()
        .filter_map(|key| {
            let (old, new) = (before.get(key), after.get(key));
            // Every key comes from one of the sides, so `identity` is found.
            let identity = old.or(new)?;
            Some(pair_row(&key.0, identity, old, new, suite, options))
        })
        .collect();
    Ok(Comparison {
        rows,
        environments: environments.into_iter().collect(),
        options: *options,
        detection: None,
    })
}

/// Splits every benchmark into one entry per parameter combination.
fn unroll(files: &[ResultsFile], environments: &mut BTreeSet<String>) -> Unrolled {
    let mut unrolled = Unrolled::new();
    for file in files {
        let environment = format!("{}/{}", file.machine, file.env_name);
        for result in &file.benchmarks {
            environments.insert(environment.clone());
            for index in 0..result.combination_count() {
                let params: Vec<String> = result
                    .combination(index)
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                let name = display_name(&result.name, &params);
                let entry = UnrolledResult {
                    benchmark: result.name.clone(),
                    params,
                    machine: file.machine.clone(),
                    env_name: file.env_name.clone(),
                    side: side_of(result, index),
                };
                unrolled.insert((name, environment.clone()), entry);
            }
        }
    }
    unrolled
}

fn display_name(benchmark: &str, params: &[String]) -> String {
    if params.is_empty() {
        benchmark.to_owned()
    } else {
        format!("{benchmark}({})", params.join(", "))
    }
}

fn side_of(result: &BenchmarkResult, index: usize) -> Side {
    // A combination beyond the stored values counts as failed, as asv
    // fills in `None` for it.
    let outcome = result
        .outcomes
        .get(index)
        .copied()
        .unwrap_or(Outcome::Failed);
    let stats = result
        .stats
        .get(index)
        .copied()
        .flatten()
        .filter(|stats| *stats != Stats::default());
    Side {
        measurement: Measurement::from_outcome(outcome),
        stats,
        samples: result.samples.get(index).cloned().flatten(),
        version: result.version.clone(),
    }
}

fn pair_row(
    name: &str,
    identity: &UnrolledResult,
    before: Option<&UnrolledResult>,
    after: Option<&UnrolledResult>,
    suite: &BenchmarkSuite,
    options: &CompareOptions,
) -> Row {
    let info = suite.benchmarks.get(&identity.benchmark);
    let kind = info.map(|info| info.kind.clone());
    let unit = info.map(|info| info.unit.clone());
    let before_side = before.map_or_else(Side::missing, |entry| entry.side.clone());
    let after_side = after.map_or_else(Side::missing, |entry| entry.side.clone());

    let verdict = decide(&before_side, &after_side, options);
    Row {
        benchmark: identity.benchmark.clone(),
        params: identity.params.clone(),
        name: name.to_owned(),
        machine: identity.machine.clone(),
        env_name: identity.env_name.clone(),
        direction: direction_of(kind.as_ref(), unit.as_deref()),
        unit,
        kind,
        ratio: ratio(before_side.measurement, after_side.measurement),
        before: before_side,
        after: after_side,
        mark: verdict.mark,
        significance: verdict.significance,
        insignificant: verdict.insignificant,
        detection: None,
    }
}

/// Returns `after / before`, or `None` where asv prints `n/a`.
fn ratio(before: Measurement, after: Measurement) -> Option<f64> {
    let (before, after) = (before.value()?, after.value()?);
    // Python raises ZeroDivisionError for 0.0 and -0.0 alike.
    if before == 0.0 {
        None
    } else {
        Some(after / before)
    }
}

struct Verdict {
    mark: Mark,
    significance: Significance,
    insignificant: bool,
}

impl Verdict {
    fn plain(mark: Mark) -> Self {
        Verdict {
            mark,
            significance: Significance::NotTested,
            insignificant: false,
        }
    }
}

/// Marks one pair; the order of the checks is asv's.
fn decide(before: &Side, after: &Side, options: &CompareOptions) -> Verdict {
    if let (Some(old), Some(new)) = (&before.version, &after.version) {
        if old != new {
            return Verdict::plain(Mark::NotComparable);
        }
    }
    let before_failed = before.measurement == Measurement::Failed;
    let after_failed = after.measurement == Measurement::Failed;
    match (before_failed, after_failed) {
        (false, true) => return Verdict::plain(Mark::NewFailure),
        (true, false) => return Verdict::plain(Mark::FixedFailure),
        (true, true) => return Verdict::plain(Mark::Unchanged),
        (false, false) => {}
    }
    let (Some(old), Some(new)) = (before.measurement.value(), after.measurement.value()) else {
        // Skipped or missing on one side.
        return Verdict::plain(Mark::Unchanged);
    };

    let consult_stats = options.use_stats && before.has_usable_stats() && after.has_usable_stats();
    let significance = match (&after.stats, &before.stats) {
        // asv's first test call passes the "after" side first.
        (Some(after_stats), Some(before_stats)) if consult_stats => is_different(
            after.samples.as_deref(),
            before.samples.as_deref(),
            after_stats,
            before_stats,
        ),
        _ => Significance::NotTested,
    };
    let decreased = new < old / options.factor;
    let increased = old < new / options.factor;
    let mark = match (significance.allows_change(), decreased, increased) {
        (true, true, _) => Mark::Decreased,
        (true, false, true) => Mark::Increased,
        _ => Mark::Unchanged,
    };
    Verdict {
        mark,
        significance,
        insignificant: mark == Mark::Unchanged && (decreased || increased),
    }
}
