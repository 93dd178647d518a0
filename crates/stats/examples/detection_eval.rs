//! Measures pitot's verdict against asv's default rule on real asv results
//! with raw samples, and prints the tables of `docs/detection.md`.
//!
//! ```sh
//! cargo run --release -p pitot-stats --example detection_eval -- \
//!     ../shared/data/asv-results/django-asv/results
//! ```
//!
//! The argument is an asv results folder (machine folders and a
//! `benchmarks.json`); only files with raw samples count. Two A/A pairings
//! of the files of one machine and environment are measured. The first
//! takes consecutive runs of one CI job, started within 10 minutes of each
//! other, as `asv continuous` measures base and head. The second takes
//! consecutive commits by commit date, usually different jobs and runners. The commits of a pair differ
//! slightly, so real changes among them count as false alarms and the
//! false-alarm rate is an upper bound.
//!
//! For each injected slowdown s (2%, 5%, 10%, 50%), every comparison is
//! repeated with head's value, samples, quartiles and interval multiplied
//! by 1 + s in one row of ten, chosen by a hash of the row's name and the
//! pair's position, so the choice is the same on every run. The other nine
//! rows stay A/A rows of that comparison.
//!
//! The noise threshold of each row is learnt from the up to 50 runs of its
//! series up to and including the base, in the order the runs happened.
//! For the runs of one CI job each run's shift of the wall-time benchmarks is taken out
//! first, as the server does for a job's base and head. Consecutive
//! commits keep it, as the server does for two stored commits.
//! A third table measures the runs of one CI job again with thresholds
//! from an emulated A/A calibration instead: the latest earlier pair of
//! runs of the same machine and environment stands for its two passes.
//!
//! A second coverage check splits one run's ten samples into the even and
//! odd positions, multiplies the odd half by 1 + s and asks whether the
//! interval from five against five samples contains 1 + s: there the true
//! ratio is known exactly, with within-run noise only.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::{Path, PathBuf};

use pitot_asv::{
    parse_benchmarks, parse_results, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile,
};
use pitot_stats::calibration::calibrated_threshold;
use pitot_stats::interval::hodges_lehmann_ratio;
use pitot_stats::noise::{
    noise_threshold, relative_change, run_shifts, without_run_shifts, HISTORY_WINDOW,
};
use pitot_stats::{
    assess, compare, CompareOptions, DetectionOptions, Measurement, NoiseThreshold, Row,
    ThresholdSource, INTERVAL_LEVEL,
};

/// The injected slowdowns; 0 is the plain A/A scenario.
const SLOWDOWNS: [f64; 5] = [0.0, 0.02, 0.05, 0.10, 0.50];

/// Series whose median run-to-run change is below this count as stable.
const STABLE_SPREAD: f64 = 0.02;

/// One file's measurement of each row, by asv's row name.
type Values = HashMap<String, Measurement>;

/// Results files by machine and environment.
type Groups = HashMap<(String, String), Vec<ResultsFile>>;

/// Counts for one scenario and one group of rows.
#[derive(Default, Clone, Copy)]
struct Tally {
    rows: usize,
    asv_flagged: usize,
    pitot_flagged: usize,
    with_interval: usize,
    covered: usize,
}

impl Tally {
    fn add(&mut self, asv: bool, pitot: bool, covered: Option<bool>) {
        self.rows += 1;
        self.asv_flagged += usize::from(asv);
        self.pitot_flagged += usize::from(pitot);
        if let Some(covered) = covered {
            self.with_interval += 1;
            self.covered += usize::from(covered);
        }
    }
}

/// Tallies per scenario: A/A rows and injected rows, all and stable.
#[derive(Default, Clone)]
struct Scenario {
    null_all: Tally,
    null_stable: Tally,
    injected_all: Tally,
    injected_stable: Tally,
    split: Tally,
    /// pitot's findings on injected rows, by [`Finding::as_str`].
    injected_findings: BTreeMap<&'static str, usize>,
    /// The threshold sources of injected rows that pitot missed.
    missed_sources: BTreeMap<&'static str, usize>,
}

fn main() -> Result<(), Box<dyn Error>> {
    let folder = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or("usage: detection_eval RESULTS_DIR (an asv results folder with benchmarks.json)")?;
    let suite = parse_benchmarks(&std::fs::read(folder.join("benchmarks.json"))?)?;
    let groups = read_groups(&folder)?;

    for (pairing, rule, title) in [
        (
            Pairing::SameJob,
            ThresholdRule::History,
            "Consecutive runs of one CI job",
        ),
        (
            Pairing::SameJob,
            ThresholdRule::Calibration,
            "Consecutive runs of one CI job, thresholds from an earlier A/A pair",
        ),
        (
            Pairing::ConsecutiveCommits,
            ThresholdRule::History,
            "Consecutive commits, usually different CI jobs",
        ),
    ] {
        let mut scenarios: Vec<Scenario> = SLOWDOWNS.iter().map(|_| Scenario::default()).collect();
        let mut pairs = 0;
        for files in groups.values() {
            pairs += evaluate_group(files, &suite, pairing, rule, &mut scenarios)?;
        }
        println!("## {title}\n");
        print_tables(
            &scenarios,
            pairs,
            groups.len(),
            pairing == Pairing::ConsecutiveCommits,
        );
    }
    Ok(())
}

/// Reads every results file that has raw samples, grouped by machine and
/// environment and sorted by commit date.
fn read_groups(folder: &Path) -> Result<Groups, Box<dyn Error>> {
    let mut groups = Groups::new();
    let mut machines: Vec<PathBuf> = std::fs::read_dir(folder)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    machines.sort();
    for machine in machines.iter().filter(|path| path.is_dir()) {
        for entry in std::fs::read_dir(machine)? {
            let path = entry?.path();
            let is_results = path.extension().is_some_and(|ext| ext == "json")
                && path.file_name().is_some_and(|name| name != "machine.json");
            if !is_results {
                continue;
            }
            let file = parse_results(&std::fs::read(&path)?)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            let has_samples = file
                .benchmarks
                .iter()
                .any(|result| result.samples.iter().any(Option::is_some));
            if has_samples {
                let key = (file.machine.clone(), file.env_name.clone());
                groups.entry(key).or_default().push(file);
            }
        }
    }
    for files in groups.values_mut() {
        files.sort_by(|a, b| (a.date, &a.commit_hash).cmp(&(b.date, &b.commit_hash)));
    }
    Ok(groups)
}

/// Evaluates every pair of one machine and environment and returns how
/// many pairs there were.
fn evaluate_group(
    files: &[ResultsFile],
    suite: &BenchmarkSuite,
    pairing: Pairing,
    rule: ThresholdRule,
    scenarios: &mut [Scenario],
) -> Result<usize, Box<dyn Error>> {
    let values: Vec<Values> = files.iter().map(values_of).collect();
    // History in the order the runs happened: the corpus contains
    // backfills, where commits from years ago were run on newer runners,
    // so commit-date neighbours can be runs years apart.
    let run_order: Vec<usize> = run_order(files);
    let mut position = vec![usize::MAX; files.len()];
    for (rank, index) in run_order.iter().enumerate() {
        position[*index] = rank;
    }
    let in_run_order: Vec<&Values> = run_order.iter().map(|index| &values[*index]).collect();
    let spreads = spreads(&in_run_order);
    let options = CompareOptions::default();
    let pairs = pairs(files, pairing);

    for &(base_index, index) in &pairs {
        // The history ends with the base run.
        let end = position[base_index];
        if end == usize::MAX {
            continue;
        }
        let window = &in_run_order[(end + 1).saturating_sub(HISTORY_WINDOW)..=end];
        let remove_shifts = pairing == Pairing::SameJob;
        let mut thresholds = thresholds(window, suite, options.factor, remove_shifts);
        if rule == ThresholdRule::Calibration {
            let Some(calibration) = earlier_pair(&pairs, &position, base_index) else {
                continue;
            };
            let (first, second) = (&values[calibration.0], &values[calibration.1]);
            apply_calibration(&mut thresholds, first, second, suite);
        }
        let (base, head) = (&files[base_index], &files[index]);

        for (scenario, slowdown) in scenarios.iter_mut().zip(SLOWDOWNS) {
            let injected = |name: &str| slowdown > 0.0 && chosen(name, index);
            let head = inject(head, slowdown, &injected);
            let mut comparison = compare(
                std::slice::from_ref(base),
                std::slice::from_ref(&head),
                suite,
                &options,
            )?;
            assess(
                &mut comparison,
                |row| {
                    thresholds
                        .get(&row.name)
                        .copied()
                        .unwrap_or_else(|| NoiseThreshold::without_history(0, options.factor))
                },
                &DetectionOptions::default(),
            )?;
            for row in comparison.rows.iter().filter(|row| evaluable(row)) {
                let stable = spreads
                    .get(&row.name)
                    .is_some_and(|spread| *spread < STABLE_SPREAD);
                tally_row(scenario, row, injected(&row.name), slowdown, stable);
            }
            if pairing == Pairing::ConsecutiveCommits {
                split_coverage(base, slowdown, &mut scenario.split);
            }
        }
    }
    Ok(pairs.len())
}

/// The source of each row's noise threshold in the evaluation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ThresholdRule {
    /// The series' last runs, as pitot does by default.
    History,
    /// An A/A calibration of two passes, emulated by the latest earlier
    /// pair of the same pairing whose runs both started before the base.
    /// Series that the calibration does not measure keep their history
    /// threshold.
    Calibration,
}

/// Returns the latest pair in `pairs` (which are in run order) whose
/// runs both started before the run `base_index`, so that it shares no
/// run with the pair being evaluated.
fn earlier_pair(
    pairs: &[(usize, usize)],
    position: &[usize],
    base_index: usize,
) -> Option<(usize, usize)> {
    let base = position[base_index];
    pairs
        .iter()
        .copied()
        .filter(|&(first, second)| position[first] < base && position[second] < base)
        .max_by_key(|&(_, second)| position[second])
}

/// Replaces each row's threshold by the calibration rule applied to the
/// difference between `first` and `second`, where both measured it.
fn apply_calibration(
    thresholds: &mut HashMap<String, NoiseThreshold>,
    first: &Values,
    second: &Values,
    suite: &BenchmarkSuite,
) {
    for (name, threshold) in thresholds.iter_mut() {
        let value = |values: &Values| values.get(name).and_then(|measurement| measurement.value());
        let Some(difference) = value(first)
            .zip(value(second))
            .and_then(|(a, b)| relative_change(a, b))
        else {
            continue;
        };
        let points = match threshold.source {
            ThresholdSource::History { points }
            | ThresholdSource::Floor { points }
            | ThresholdSource::Default { points }
            | ThresholdSource::Calibration { points, .. } => points,
        };
        *threshold = calibrated_threshold(difference, 2, points, kind_of(suite, name));
    }
}

/// The rule by which the evaluation pairs two results files of one machine and
/// environment into an A/A comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pairing {
    /// Consecutive commits by commit date, usually run in different CI
    /// jobs on different days and runners.
    ConsecutiveCommits,
    /// Consecutive runs of one CI job: files whose first benchmark started
    /// within [`SAME_JOB_GAP_MS`] of the previous file's, which ran on the
    /// same runner. `asv continuous` measures a pull request's base and
    /// head the same way, one after the other on one machine.
    SameJob,
}

/// The maximum gap between the starts of two files of one CI job. One
/// django-asv file takes about two minutes to run.
const SAME_JOB_GAP_MS: i64 = 10 * 60 * 1000;

/// Returns (base, head) index pairs into `files`, which are in commit-date
/// order.
fn pairs(files: &[ResultsFile], pairing: Pairing) -> Vec<(usize, usize)> {
    match pairing {
        Pairing::ConsecutiveCommits => (1..files.len()).map(|index| (index - 1, index)).collect(),
        Pairing::SameJob => {
            let by_start = starts(files);
            by_start
                .windows(2)
                .filter(|pair| pair[1].0 - pair[0].0 <= SAME_JOB_GAP_MS)
                .map(|pair| (pair[0].1, pair[1].1))
                .collect()
        }
    }
}

/// Returns (first benchmark's start, index) of the files that record
/// start times, earliest first.
fn starts(files: &[ResultsFile]) -> Vec<(i64, usize)> {
    let mut by_start: Vec<(i64, usize)> = files
        .iter()
        .enumerate()
        .filter_map(|(index, file)| {
            let start = file
                .benchmarks
                .iter()
                .filter_map(|result| result.started_at)
                .min();
            start.map(|time| (time, index))
        })
        .collect();
    by_start.sort_unstable();
    by_start
}

/// Returns the indices of the files that record start times, in the order
/// they ran.
fn run_order(files: &[ResultsFile]) -> Vec<usize> {
    starts(files).into_iter().map(|(_, index)| index).collect()
}

fn tally_row(scenario: &mut Scenario, row: &Row, injected: bool, slowdown: f64, stable: bool) {
    let interval = row.detection.and_then(|detection| detection.interval);
    if injected {
        if let Some(detection) = row.detection {
            *scenario
                .injected_findings
                .entry(detection.finding.as_str())
                .or_default() += 1;
            if !row.judged_worse() {
                let source = match detection.threshold.source {
                    ThresholdSource::History { .. } => "history",
                    ThresholdSource::Floor { .. } => "floor",
                    ThresholdSource::Default { .. } => "default",
                    ThresholdSource::Calibration { .. } => "calibration",
                };
                *scenario.missed_sources.entry(source).or_default() += 1;
            }
        }
        let covered = interval.map(|interval| interval.contains(1.0 + slowdown));
        let (asv, pitot) = (row.got_worse(), row.judged_worse());
        scenario.injected_all.add(asv, pitot, covered);
        if stable {
            scenario.injected_stable.add(asv, pitot, covered);
        }
    } else {
        let covered = interval.map(|interval| interval.contains(1.0));
        let asv = row.got_worse() || row.got_better();
        let pitot = row.judged_worse() || row.judged_better();
        scenario.null_all.add(asv, pitot, covered);
        if stable {
            scenario.null_stable.add(asv, pitot, covered);
        }
    }
}

/// A row counts when both sides have a value and at least two samples,
/// from the same benchmark version.
fn evaluable(row: &Row) -> bool {
    let sampled = |samples: &Option<Vec<f64>>| samples.as_ref().is_some_and(|s| s.len() >= 2);
    row.mark != pitot_stats::Mark::NotComparable
        && row.before.measurement.value().is_some()
        && row.after.measurement.value().is_some()
        && sampled(&row.before.samples)
        && sampled(&row.after.samples)
}

/// Returns every row's measurement in one file, keyed by asv's name.
fn values_of(file: &ResultsFile) -> Values {
    let mut values = Values::new();
    for result in &file.benchmarks {
        for index in 0..result.combination_count() {
            let measurement = match result.outcomes.get(index) {
                Some(Outcome::Value(value)) if !value.is_nan() => Measurement::Value(*value),
                Some(Outcome::Skipped | Outcome::Value(_)) => Measurement::Skipped,
                _ => Measurement::Failed,
            };
            values.insert(
                row_name(&result.name, &result.combination(index)),
                measurement,
            );
        }
    }
    values
}

fn row_name(benchmark: &str, params: &[&str]) -> String {
    if params.is_empty() {
        benchmark.to_owned()
    } else {
        format!("{benchmark}({})", params.join(", "))
    }
}

/// Returns each row's threshold learnt from the files of `window`, with
/// each run's shift of the wall-time benchmarks taken out first when `remove_shifts`.
fn thresholds(
    window: &[&Values],
    suite: &BenchmarkSuite,
    factor: f64,
    remove_shifts: bool,
) -> HashMap<String, NoiseThreshold> {
    let Some(last) = window.last() else {
        return HashMap::new();
    };
    let is_time = |name: &str| kind_of(suite, name) == Some(&BenchmarkType::Time);
    let histories: Vec<(&str, Vec<(usize, Measurement)>)> = last
        .keys()
        .map(|name| {
            let points = window
                .iter()
                .enumerate()
                .map(|(run, values)| (run, values.get(name).copied().unwrap_or(Measurement::Missing)))
                .collect();
            (benchmark_of(name), points)
        })
        .collect();
    let shifts = if remove_shifts {
        let wall_time: Vec<(&str, &[(usize, Measurement)])> = last
            .keys()
            .zip(&histories)
            .filter(|(name, _)| is_time(name))
            .map(|(_, (benchmark, points))| (*benchmark, points.as_slice()))
            .collect();
        run_shifts(&wall_time)
    } else {
        HashMap::new()
    };
    last.keys()
        .zip(&histories)
        .map(|(name, (_, points))| {
            let history = if is_time(name) {
                without_run_shifts(points, &shifts)
            } else {
                points.iter().map(|(_, measurement)| *measurement).collect()
            };
            (name.clone(), noise_threshold(&history, kind_of(suite, name), factor))
        })
        .collect()
}

fn kind_of<'a>(suite: &'a BenchmarkSuite, name: &str) -> Option<&'a BenchmarkType> {
    suite.benchmarks.get(benchmark_of(name)).map(|info| &info.kind)
}

/// Returns the benchmark of a row's name, without its parameters.
fn benchmark_of(name: &str) -> &str {
    name.split('(').next().unwrap_or(name)
}

/// Returns each series' median relative change between consecutive
/// values over the whole group.
fn spreads(values: &[&Values]) -> HashMap<String, f64> {
    let mut series: HashMap<&str, Vec<f64>> = HashMap::new();
    for file in values {
        for (name, measurement) in file.iter() {
            if let Some(value) = measurement.value() {
                series.entry(name).or_default().push(value);
            }
        }
    }
    series
        .into_iter()
        .filter_map(|(name, points)| {
            let mut changes: Vec<f64> = points
                .windows(2)
                .filter_map(|pair| relative_change(pair[0], pair[1]))
                .collect();
            if changes.is_empty() {
                return None;
            }
            changes.sort_by(f64::total_cmp);
            Some((name.to_owned(), changes[changes.len() / 2]))
        })
        .collect()
}

/// Picks one row in ten, by an FNV-1a hash of the name and the pair index.
fn chosen(name: &str, pair: usize) -> bool {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes().chain(pair.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.is_multiple_of(10)
}

/// Returns a copy of `file` with the chosen rows slowed down by `slowdown`.
fn inject(file: &ResultsFile, slowdown: f64, chosen: &dyn Fn(&str) -> bool) -> ResultsFile {
    let mut file = file.clone();
    if slowdown == 0.0 {
        return file;
    }
    let factor = 1.0 + slowdown;
    for result in &mut file.benchmarks {
        for index in 0..result.combination_count() {
            let name = row_name(&result.name, &result.combination(index));
            if !chosen(&name) {
                continue;
            }
            if let Some(Outcome::Value(value)) = result.outcomes.get_mut(index) {
                *value *= factor;
            }
            if let Some(Some(stats)) = result.stats.get_mut(index) {
                stats.ci_99 = stats.ci_99.map(|(low, high)| (low * factor, high * factor));
                stats.q_25 = stats.q_25.map(|q| q * factor);
                stats.q_75 = stats.q_75.map(|q| q * factor);
            }
            if let Some(Some(samples)) = result.samples.get_mut(index) {
                samples.iter_mut().for_each(|sample| *sample *= factor);
            }
        }
    }
    file
}

/// Tallies whether the interval from the even against the odd samples of
/// each row of `file`, the odd ones multiplied by 1 + `slowdown`, contains
/// 1 + `slowdown`.
fn split_coverage(file: &ResultsFile, slowdown: f64, tally: &mut Tally) {
    for result in &file.benchmarks {
        for samples in result.samples.iter().flatten() {
            if samples.len() < 10 {
                continue;
            }
            let even: Vec<f64> = samples.iter().step_by(2).copied().collect();
            let odd: Vec<f64> = samples
                .iter()
                .skip(1)
                .step_by(2)
                .map(|x| x * (1.0 + slowdown))
                .collect();
            let interval = hodges_lehmann_ratio(&even, &odd, INTERVAL_LEVEL);
            if let Some(interval) = interval {
                tally.add(false, false, Some(interval.contains(1.0 + slowdown)));
            }
        }
    }
}

fn percent(count: usize, total: usize) -> String {
    if total == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.2}%", 100.0 * count as f64 / total as f64)
    }
}

fn print_tables(scenarios: &[Scenario], pairs: usize, groups: usize, with_split: bool) {
    println!("{pairs} pairs in {groups} machine/environment groups\n");

    println!("| rows | slowdown | rows counted | asv flags | pitot flags | interval contains the true ratio |");
    println!("|:--|--:|--:|--:|--:|--:|");
    for (scenario, slowdown) in scenarios.iter().zip(SLOWDOWNS) {
        let lines = [
            ("A/A, all", scenario.null_all),
            ("A/A, spread < 2%", scenario.null_stable),
            ("injected, all", scenario.injected_all),
            ("injected, spread < 2%", scenario.injected_stable),
        ];
        for (what, tally) in lines {
            if tally.rows == 0 {
                continue;
            }
            println!(
                "| {what} | {:.0}% | {} | {} | {} | {} of {} |",
                slowdown * 100.0,
                tally.rows,
                percent(tally.asv_flagged, tally.rows),
                percent(tally.pitot_flagged, tally.rows),
                percent(tally.covered, tally.with_interval),
                tally.with_interval,
            );
        }
    }

    println!(
        "\n| slowdown | pitot's findings on injected rows | threshold source of missed rows |"
    );
    println!("|--:|:--|:--|");
    for (scenario, slowdown) in scenarios.iter().zip(SLOWDOWNS).skip(1) {
        let list = |counts: &BTreeMap<&str, usize>| {
            counts
                .iter()
                .map(|(name, count)| format!("{name} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "| {:.0}% | {} | {} |",
            slowdown * 100.0,
            list(&scenario.injected_findings),
            list(&scenario.missed_sources)
        );
    }

    if !with_split {
        println!();
        return;
    }
    println!("\n| split of one run, 5 against 5 samples | slowdown | intervals | contain the true ratio |");
    println!("|:--|--:|--:|--:|");
    for (scenario, slowdown) in scenarios.iter().zip(SLOWDOWNS) {
        let tally = scenario.split;
        println!(
            "| even against odd samples | {:.0}% | {} | {} |",
            slowdown * 100.0,
            tally.with_interval,
            percent(tally.covered, tally.with_interval),
        );
    }
}
