//! Per-series noise thresholds learnt from a benchmark's history.
//!
//! A series (one benchmark, parameter combination, machine and
//! environment) that moves by 4% between consecutive default-branch runs
//! without any code change cannot show a 3% regression, whatever a test on
//! one pair of runs reports. The threshold is the upper quartile plus three
//! interquartile ranges of the relative changes between consecutive
//! results, a robust outlier fence that a real step in the history barely
//! moves.
//!
//! Default-branch runs often happen on different machines, and a faster or
//! slower machine moves every wall-time benchmark of the run together. A pull
//! request's base and head run on one machine, so that shared move is not
//! noise they can show. [`run_shifts`] estimates it per run from the
//! suite's wall-time benchmarks, and [`without_run_shifts`] takes it out of
//! a wall-time series before its threshold is learnt.

use std::collections::HashMap;
use std::hash::Hash;

use pitot_asv::BenchmarkType;

use crate::compare::Measurement;

/// The fewest usable history points from which a threshold is learnt;
/// with fewer, [`NoiseThreshold::without_history`] applies.
pub const MIN_HISTORY_POINTS: usize = 10;

/// How many of the most recent default-branch results a threshold is
/// learnt from. Older results may come from other hardware or another
/// version of the project, so a longer window would describe a different
/// machine's noise.
pub const HISTORY_WINDOW: usize = 50;

/// How many interquartile ranges above the upper quartile the fence lies.
pub const IQR_MULTIPLIER: f64 = 3.0;

/// The smallest threshold of a wall-time benchmark, as a fraction. A
/// history of identical timings would otherwise give a threshold of 0,
/// but code layout, frequency scaling and cache placement move wall time
/// by a percent or two between runs even when the history did not show it.
pub const TIME_FLOOR: f64 = 0.02;

/// The smallest relative change that counts as more than noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseThreshold {
    /// The threshold as a fraction: 0.05 means a change of more than 5%.
    /// A change is `max(after / before, before / after) - 1`, so the same
    /// threshold applies to slowdowns and speedups.
    pub relative: f64,
    pub source: ThresholdSource,
}

/// The origin of a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdSource {
    /// Learnt from this many usable history points.
    History { points: usize },
    /// Learnt from this many points, but below [`TIME_FLOOR`], so the
    /// floor applies.
    Floor { points: usize },
    /// The history had only this many usable points, fewer than
    /// [`MIN_HISTORY_POINTS`], so the comparison's factor applies.
    Default { points: usize },
    /// The history had only this many usable points, so the noise that a
    /// calibration job measured with this many passes applies (see
    /// [`crate::calibration::calibrated_threshold`]).
    Calibration { points: usize, passes: usize },
}

impl NoiseThreshold {
    /// Returns the threshold for a series with `points` usable history
    /// points, too few to learn from: asv's factor, so `factor` 1.1 gives
    /// 10%, as `asv compare` would flag.
    pub fn without_history(points: usize, factor: f64) -> Self {
        NoiseThreshold {
            relative: relative_change(factor, 1.0).unwrap_or(0.0),
            source: ThresholdSource::Default { points },
        }
    }

    /// Returns whether a change from `before` to `after` exceeds the
    /// threshold. Both values must be positive; otherwise no relative
    /// change exists and it returns false.
    pub fn is_exceeded(&self, before: f64, after: f64) -> bool {
        relative_change(before, after).is_some_and(|change| change > self.relative)
    }
}

/// Learns the noise threshold of one series from its history, oldest
/// first. Every point given is used, so callers pass the most recent
/// [`HISTORY_WINDOW`] at most.
///
/// Failed, skipped and missing points are dropped, and so are zero,
/// negative and infinite values, for which a relative change means
/// nothing. The remaining values count as consecutive: a failed run
/// between two measured ones does not break the pair. With fewer than
/// [`MIN_HISTORY_POINTS`] remaining values the threshold is
/// [`NoiseThreshold::without_history`] for `factor`. Wall-time benchmarks
/// get at least [`TIME_FLOOR`].
pub fn noise_threshold(
    history: &[Measurement],
    kind: Option<&BenchmarkType>,
    factor: f64,
) -> NoiseThreshold {
    let values: Vec<f64> = history
        .iter()
        .filter_map(|point| point.value())
        .filter(|value| value.is_finite() && *value > 0.0)
        .collect();
    if values.len() < MIN_HISTORY_POINTS {
        return NoiseThreshold::without_history(values.len(), factor);
    }

    let mut changes: Vec<f64> = values
        .windows(2)
        .filter_map(|pair| relative_change(pair[0], pair[1]))
        .collect();
    changes.sort_by(f64::total_cmp);
    let upper = quantile(&changes, 0.75);
    let lower = quantile(&changes, 0.25);
    let fence = upper + IQR_MULTIPLIER * (upper - lower);

    let points = values.len();
    if kind == Some(&BenchmarkType::Time) && fence < TIME_FLOOR {
        NoiseThreshold {
            relative: TIME_FLOOR,
            source: ThresholdSource::Floor { points },
        }
    } else {
        NoiseThreshold {
            relative: fence,
            source: ThresholdSource::History { points },
        }
    }
}

/// The minimum number of benchmarks with a usable value in a run for the
/// run's shift to be estimated. With fewer, one benchmark's own change
/// could pass for the whole machine's.
pub const MIN_SHIFT_BENCHMARKS: usize = 5;

/// The maximum number of rounds of median polish that [`run_shifts`] takes.
const MAX_POLISH_ROUNDS: usize = 20;

/// The change in every shift below which [`run_shifts`] stops: a factor of
/// 1.0001, a hundredth of a percent, far below any threshold.
const POLISH_TOLERANCE: f64 = 1e-4;

/// Returns, for each run of a suite's history, the natural logarithm of
/// the factor by which the run measured the suite slower than usual. Only
/// differences between runs' shifts mean something.
///
/// `series` contains each series' benchmark and its points as (run,
/// measurement). Pass wall-time series only: a faster machine does not
/// change a memory or count result. The shifts come from Tukey's median
/// polish on log values. A series' level is the median of its values with
/// the shifts taken out. A run's values still lie some way above their
/// levels. Per benchmark, the median of that distance over its series is
/// one vote, and the run's shift moves by the median vote. So each
/// benchmark has one vote, however many parameter combinations it has.
/// Rounds repeat until no shift moves by more than [`POLISH_TOLERANCE`],
/// because series cover different runs, and after each round the shifts
/// are moved so that their median is zero. A change
/// in a few benchmarks barely moves a shift; a machine that runs
/// everything 10% slower moves it by `ln 1.1` against the others. Runs
/// with usable values of fewer than [`MIN_SHIFT_BENCHMARKS`] benchmarks get
/// no shift.
pub fn run_shifts<B, K, P>(series: &[(B, P)]) -> HashMap<K, f64>
where
    B: Eq + Hash,
    K: Eq + Hash + Clone,
    P: AsRef<[(K, Measurement)]>,
{
    let suite = PolishSuite::new(series);
    let estimable: Vec<usize> = (0..suite.runs.len())
        .filter(|run| suite.benchmark_counts[*run] >= MIN_SHIFT_BENCHMARKS)
        .collect();
    let mut shifts = vec![0.0; suite.runs.len()];
    let mut votes: Vec<Vec<f64>> = vec![Vec::new(); suite.runs.len()];
    let mut adjusted = Vec::new();
    let mut centred = Vec::with_capacity(estimable.len());
    let mut groups = suite.groups;
    for _ in 0..MAX_POLISH_ROUNDS {
        for group in &mut groups {
            group.vote(&shifts, &mut adjusted, &mut votes);
        }
        let before = shifts.clone();
        for &run in &estimable {
            shifts[run] += median(&mut votes[run]);
        }
        votes.iter_mut().for_each(Vec::clear);
        // The levels absorb any constant added to every shift, so the part
        // that all steps share would come back each round and the shifts
        // would drift. Keeping their median at zero stops that.
        centred.clear();
        centred.extend(estimable.iter().map(|run| shifts[*run]));
        if !centred.is_empty() {
            let centre = median(&mut centred);
            for &run in &estimable {
                shifts[run] -= centre;
            }
        }
        let largest_move = estimable
            .iter()
            .map(|run| (shifts[*run] - before[*run]).abs())
            .fold(0.0, f64::max);
        if largest_move < POLISH_TOLERANCE {
            break;
        }
    }
    suite
        .runs
        .into_iter()
        .zip(shifts)
        .zip(suite.benchmark_counts)
        .filter(|(_, benchmarks)| *benchmarks >= MIN_SHIFT_BENCHMARKS)
        .map(|((run, shift), _)| (run.clone(), shift))
        .collect()
}

/// The log values of [`run_shifts`]'s series with runs and benchmarks
/// numbered once, so that each round of the polish works on vectors.
struct PolishSuite<'k, K> {
    runs: Vec<&'k K>,
    /// Per run, how many benchmarks have a usable value in it.
    benchmark_counts: Vec<usize>,
    groups: Vec<BenchmarkGroup>,
}

/// The series of one benchmark. A cell is one run in which at least one of
/// them has a usable value.
#[derive(Default)]
struct BenchmarkGroup {
    /// The run of each cell.
    cell_runs: Vec<usize>,
    /// Per series, its (cell, log value) points.
    series: Vec<Vec<(usize, f64)>>,
    /// Per cell, the residuals of the current round.
    residuals: Vec<Vec<f64>>,
}

impl<'k, K: Eq + Hash> PolishSuite<'k, K> {
    fn new<B: Eq + Hash, P: AsRef<[(K, Measurement)]>>(series: &'k [(B, P)]) -> Self {
        let mut runs: Vec<&K> = Vec::new();
        let mut run_numbers: HashMap<&K, usize> = HashMap::new();
        let mut group_numbers: HashMap<&B, usize> = HashMap::new();
        let mut groups: Vec<BenchmarkGroup> = Vec::new();
        let mut cell_numbers: Vec<HashMap<usize, usize>> = Vec::new();
        for (benchmark, points) in series {
            let group = *group_numbers.entry(benchmark).or_insert_with(|| {
                groups.push(BenchmarkGroup::default());
                cell_numbers.push(HashMap::new());
                groups.len() - 1
            });
            let mut logs = Vec::with_capacity(points.as_ref().len());
            for (run, measurement) in points.as_ref() {
                let Some(value) = usable(*measurement) else {
                    continue;
                };
                let run = *run_numbers.entry(run).or_insert_with(|| {
                    runs.push(run);
                    runs.len() - 1
                });
                let cells = &mut groups[group].cell_runs;
                let cell = *cell_numbers[group].entry(run).or_insert_with(|| {
                    cells.push(run);
                    cells.len() - 1
                });
                logs.push((cell, value.ln()));
            }
            if !logs.is_empty() {
                groups[group].series.push(logs);
            }
        }
        let mut benchmark_counts = vec![0; runs.len()];
        for group in &mut groups {
            group.residuals = vec![Vec::new(); group.cell_runs.len()];
            for run in &group.cell_runs {
                benchmark_counts[*run] += 1;
            }
        }
        PolishSuite {
            runs,
            benchmark_counts,
            groups,
        }
    }
}

impl BenchmarkGroup {
    /// Adds this benchmark's vote to each run it has values in: the median,
    /// over its series, of how far the run's value lies above the series'
    /// level once `shifts` are taken out.
    fn vote(&mut self, shifts: &[f64], adjusted: &mut Vec<f64>, votes: &mut [Vec<f64>]) {
        for points in &self.series {
            adjusted.clear();
            adjusted.extend(points.iter().map(|(cell, log)| log - shifts[self.cell_runs[*cell]]));
            let level = median(adjusted);
            for (cell, log) in points {
                let run = self.cell_runs[*cell];
                self.residuals[*cell].push(log - shifts[run] - level);
            }
        }
        for (cell, residuals) in self.residuals.iter_mut().enumerate() {
            if !residuals.is_empty() {
                votes[self.cell_runs[cell]].push(median(residuals));
                residuals.clear();
            }
        }
    }
}

/// Returns the median of non-empty `values`, reordering them.
fn median(values: &mut [f64]) -> f64 {
    let middle = values.len() / 2;
    let (_, upper, _) = values.select_nth_unstable_by(middle, f64::total_cmp);
    let upper = *upper;
    if values.len() % 2 == 1 {
        return upper;
    }
    // The largest value below the middle is the lower middle value.
    let lower = values[..middle]
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(upper);
    (lower + upper) / 2.0
}

/// Returns a series' measurements with each usable value divided by its
/// run's factor from [`run_shifts`]. Runs without a shift keep their value.
pub fn without_run_shifts<K: Eq + Hash>(
    points: &[(K, Measurement)],
    shifts: &HashMap<K, f64>,
) -> Vec<Measurement> {
    points
        .iter()
        .map(|(run, measurement)| match (usable(*measurement), shifts.get(run)) {
            (Some(value), Some(shift)) => Measurement::Value(value * (-shift).exp()),
            _ => *measurement,
        })
        .collect()
}

/// Returns the measured value when it is positive and finite.
fn usable(measurement: Measurement) -> Option<f64> {
    measurement.value().filter(|value| value.is_finite() && *value > 0.0)
}

/// Returns `max(a / b, b / a) - 1`, or `None` unless both values are
/// positive and finite.
pub fn relative_change(a: f64, b: f64) -> Option<f64> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    (positive(a) && positive(b)).then(|| a.max(b) / a.min(b) - 1.0)
}

/// Returns the `p` quantile of sorted, non-empty `values` by linear
/// interpolation between order statistics (Hyndman and Fan's type 7, the
/// default of NumPy and R).
pub(crate) fn quantile(values: &[f64], p: f64) -> f64 {
    let position = (values.len() - 1) as f64 * p;
    let below = position.floor() as usize;
    let above = (below + 1).min(values.len() - 1);
    let fraction = position - below as f64;
    values[below] + fraction * (values[above] - values[below])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(numbers: &[f64]) -> Vec<Measurement> {
        numbers.iter().map(|&x| Measurement::Value(x)).collect()
    }

    fn assert_close(actual: f64, expected: f64, what: &str) {
        assert!(
            (actual - expected).abs() < 1e-12,
            "{what}: got {actual}, expected {expected}"
        );
    }

    #[test]
    fn threshold_from_ten_points() {
        // Changes between consecutive values: 1%, 1%, 2%, 2%, 3%, 3%, 1%,
        // 1%, 4%. Sorted: .01 .01 .01 .01 .02 .02 .03 .03 .04. With 9
        // changes the quartiles sit at positions 8 * 0.25 = 2 and
        // 8 * 0.75 = 6, that is 0.01 and 0.03; IQR 0.02; fence
        // 0.03 + 3 * 0.02 = 0.09.
        let history = values(&[
            100.0, 101.0, 100.0, 102.0, 100.0, 103.0, 100.0, 101.0, 100.0, 104.0,
        ]);

        let threshold = noise_threshold(&history, Some(&BenchmarkType::Time), 1.1);

        assert_close(threshold.relative, 0.09, "fence");
        assert_eq!(threshold.source, ThresholdSource::History { points: 10 });
    }

    #[test]
    fn threshold_interpolates_quartiles() {
        // 11 points, 10 changes: 0.1 .. 1.0 in steps of 0.1 (each value
        // 1 + k/10 times the previous). Q1 at position 9 * 0.25 = 2.25:
        // 0.3 + 0.25 * 0.1 = 0.325; Q3 at 6.75: 0.7 + 0.75 * 0.1 = 0.775;
        // fence 0.775 + 3 * 0.45 = 2.125.
        let mut numbers = vec![1.0];
        for k in 1..=10 {
            let last = *numbers.last().expect("non-empty");
            numbers.push(last * (1.0 + f64::from(k) / 10.0));
        }

        let threshold = noise_threshold(&values(&numbers), Some(&BenchmarkType::Track), 1.1);

        assert!((threshold.relative - 2.125).abs() < 1e-9, "{threshold:?}");
    }

    #[test]
    fn threshold_below_ten_points_is_the_factor() {
        let history = values(&[1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0]);

        let threshold = noise_threshold(&history, Some(&BenchmarkType::Time), 1.1);

        // 1.1 / 1 - 1, computed in floating point.
        assert_close(threshold.relative, 0.1, "default");
        assert_eq!(threshold.source, ThresholdSource::Default { points: 9 });
    }

    #[test]
    fn threshold_skips_unusable_points() {
        // Ten usable values of 2.0 and 2.2 alternating, with a failure, a
        // skip, a zero, a negative value and an infinity in between, which
        // are dropped: every change is 10%, so IQR is 0 and the fence 0.1.
        let mut history = Vec::new();
        for (index, value) in [2.0, 2.2, 2.0, 2.2, 2.0, 2.2, 2.0, 2.2, 2.0, 2.2]
            .iter()
            .enumerate()
        {
            history.push(Measurement::Value(*value));
            match index {
                1 => history.push(Measurement::Failed),
                3 => history.push(Measurement::Skipped),
                5 => history.push(Measurement::Value(0.0)),
                6 => history.push(Measurement::Value(-2.1)),
                7 => history.push(Measurement::Value(f64::INFINITY)),
                _ => {}
            }
        }

        let threshold = noise_threshold(&history, Some(&BenchmarkType::Time), 1.1);

        assert_close(threshold.relative, 0.1, "fence");
        assert_eq!(threshold.source, ThresholdSource::History { points: 10 });
    }

    #[test]
    fn threshold_unusable_points_can_leave_too_few() {
        // Twelve points, of which only eight are positive.
        let history = values(&[1.0, 0.0, 1.0, -1.0, 1.0, 1.0, 0.0, 1.0, 1.0, -3.0, 1.0, 1.0]);

        let threshold = noise_threshold(&history, None, 1.1);

        assert_eq!(threshold.source, ThresholdSource::Default { points: 8 });
    }

    #[test]
    fn threshold_floor_for_wall_time_only() {
        let history = values(&[5.0; 12]);

        let time = noise_threshold(&history, Some(&BenchmarkType::Time), 1.1);
        let memory = noise_threshold(&history, Some(&BenchmarkType::Memory), 1.1);

        assert_eq!(time.relative, TIME_FLOOR);
        assert_eq!(time.source, ThresholdSource::Floor { points: 12 });
        assert_eq!(memory.relative, 0.0);
        assert_eq!(memory.source, ThresholdSource::History { points: 12 });
    }

    /// Builds one series of `benchmark` with `values` at runs "a", "b", ...
    fn series<'b>(benchmark: &'b str, values: &[f64]) -> (&'b str, Vec<(&'static str, Measurement)>) {
        let runs = ["a", "b", "c", "d"];
        let points = runs
            .iter()
            .zip(values)
            .map(|(run, value)| (*run, Measurement::Value(*value)))
            .collect();
        (benchmark, points)
    }

    #[test]
    fn run_shift_is_the_median_offset() {
        // Five benchmarks whose level is 1.0. In run "b" four run 10%
        // slower and one 50% faster: the median is ln 1.1. The next round
        // finds every level unchanged, so the polish stops there.
        let all: Vec<_> = [1.1, 1.1, 1.1, 1.1, 0.5]
            .iter()
            .zip(["t0", "t1", "t2", "t3", "t4"])
            .map(|(&b, name)| series(name, &[1.0, b, 1.0, 1.0]))
            .collect();

        let shifts = run_shifts(&all);

        assert_close(shifts["b"], 1.1_f64.ln(), "run b");
        assert_close(shifts["a"], 0.0, "run a");
        assert_eq!(shifts.len(), 4);
    }

    #[test]
    fn run_shift_needs_five_benchmarks() {
        let four: Vec<_> = ["t0", "t1", "t2", "t3"]
            .into_iter()
            .map(|name| series(name, &[1.0, 2.0]))
            .collect();
        let one_with_ten_combinations: Vec<_> =
            (0..10).map(|_| series("t0", &[1.0, 2.0])).collect();

        assert!(run_shifts(&four).is_empty());
        assert!(run_shifts(&one_with_ten_combinations).is_empty());
    }

    #[test]
    fn run_shift_gives_each_benchmark_one_vote() {
        // Four benchmarks run 10% slower in run "b"; the ten combinations
        // of a fifth run twice as fast. Counted by series, the fast ones
        // would win; counted by benchmark, the shift is ln 1.1.
        let mut all: Vec<_> = ["t0", "t1", "t2", "t3"]
            .into_iter()
            .map(|name| series(name, &[1.0, 1.1]))
            .collect();
        all.extend((0..10).map(|_| series("params", &[1.0, 0.5])));

        let shifts = run_shifts(&all);

        assert_close(shifts["b"] - shifts["a"], 1.1_f64.ln(), "b against a");
    }

    #[test]
    fn run_shift_ignores_unusable_values() {
        // Run "b" has usable values of four benchmarks only, because a
        // failure and a zero do not count, so it gets no shift. Run "a" is
        // then the only run with a shift, which the centring sets to zero.
        let mut all: Vec<(&str, Vec<(&str, Measurement)>)> = ["t0", "t1", "t2", "t3"]
            .into_iter()
            .map(|name| series(name, &[1.0, 2.0]))
            .collect();
        all.push(("t4", vec![("a", Measurement::Value(1.0)), ("b", Measurement::Failed)]));
        all.push(("t5", vec![("a", Measurement::Value(1.0)), ("b", Measurement::Value(0.0))]));

        let shifts = run_shifts(&all);

        assert!(!shifts.contains_key("b"));
        assert_close(shifts["a"], 0.0, "run a");
    }

    #[test]
    fn run_shifts_settle_where_series_cover_different_runs() {
        // Eight benchmarks over twelve runs with machine factors of up to
        // ±10%. Each series covers eight consecutive runs, starting at a
        // different one, with ±2% noise. Without the centring, the shifts
        // moved together by a constant every round.
        let mut state: u64 = 11;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let factors: Vec<f64> = (0..12).map(|_| (1.0 + 0.1 * uniform()).ln()).collect();
        let all: Vec<(usize, Vec<(usize, Measurement)>)> = (0..8)
            .map(|benchmark| {
                let start = benchmark % 5;
                let points = (start..start + 8)
                    .map(|run| {
                        let value = (1.0 + benchmark as f64) * factors[run].exp() * (1.0 + 0.02 * uniform());
                        (run, Measurement::Value(value))
                    })
                    .collect();
                (benchmark, points)
            })
            .collect();

        let shifts = run_shifts(&all);

        let mut values: Vec<f64> = shifts.values().copied().collect();
        assert!(median(&mut values).abs() < 1e-9, "{shifts:?}");
        let offset = shifts[&5] - factors[5];
        for (run, shift) in &shifts {
            assert!(
                (shift - factors[*run] - offset).abs() < 0.03,
                "run {run}: shift {shift}, factor {}",
                factors[*run]
            );
        }
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [5.0]), 5.0);
    }

    #[test]
    fn removing_shifts_divides_by_the_factor() {
        let shifts = HashMap::from([("b", 2.0_f64.ln())]);
        let points = [
            ("a", Measurement::Value(3.0)),
            ("b", Measurement::Value(3.0)),
            ("b", Measurement::Failed),
            ("c", Measurement::Value(3.0)),
        ];

        let values = without_run_shifts(&points, &shifts);

        assert_eq!(values[0], Measurement::Value(3.0));
        let Measurement::Value(shifted) = values[1] else {
            panic!("expected a value, got {:?}", values[1]);
        };
        assert_close(shifted, 1.5, "run b");
        assert_eq!(values[2], Measurement::Failed);
        assert_eq!(values[3], Measurement::Value(3.0));
    }

    #[test]
    fn relative_change_cases() {
        let cases = [
            ((1.0, 1.25), Some(0.25), "slower"),
            ((1.25, 1.0), Some(0.25), "faster by the same factor"),
            ((2.0, 2.0), Some(0.0), "equal"),
            ((0.0, 1.0), None, "zero"),
            ((-1.0, -2.0), None, "negative"),
            ((1.0, f64::NAN), None, "NaN"),
        ];
        for ((a, b), expected, what) in cases {
            assert_eq!(relative_change(a, b), expected, "{what}");
        }
    }

    #[test]
    fn is_exceeded_is_strict() {
        let threshold = NoiseThreshold {
            relative: 0.25,
            source: ThresholdSource::History { points: 10 },
        };

        assert!(!threshold.is_exceeded(1.0, 1.25));
        assert!(threshold.is_exceeded(1.0, 1.26));
        assert!(threshold.is_exceeded(1.26, 1.0));
        assert!(!threshold.is_exceeded(0.0, 5.0));
    }
}
