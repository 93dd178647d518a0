//! Noise thresholds for a pull request's comparison, learnt from each
//! series' recent default-branch history in the store.
//!
//! Where a series has fewer than `MIN_HISTORY_POINTS` usable history
//! points, the newest A/A calibration of the same series (benchmark,
//! parameters, machine and environment) sets the threshold instead of
//! asv's factor. That threshold is `CALIBRATION_MULTIPLIER` times the
//! difference between the calibration's passes, and at least the time
//! floor for wall-time benchmarks. Without a calibration the factor applies.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context as _;
use pitot_stats::calibration::calibrated_threshold;
use pitot_asv::BenchmarkType;
use pitot_stats::noise::{noise_threshold, run_shifts, without_run_shifts, HISTORY_WINDOW};
use pitot_stats::{Comparison, Measurement, NoiseThreshold, Row, ThresholdSource};
use pitot_store::calibrations::{self, SeriesNoise};
use pitot_store::{RecentSeries, RepoName, Store};

use crate::blocking::run_blocking;

/// A row's series within one comparison: name with parameters, machine,
/// environment.
type SeriesId = (String, String, String);

/// The runs in which a comparison's two sides were measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sides {
    /// In one run on one machine, as a job measures base and head. A shift
    /// that the suite's wall-time benchmarks share between history runs is
    /// not noise such a comparison can show, so it is taken out of their
    /// values before learning.
    OneRun,
    /// In runs that may differ in machine or time, as two stored commits
    /// picked on the dashboard. The thresholds keep the shifts between
    /// runs, which such a comparison shows too.
    SeparateRuns,
}

/// A row's series with what learning its threshold needs: its history
/// points as (commit, measurement).
struct History {
    id: SeriesId,
    benchmark: String,
    kind: Option<BenchmarkType>,
    wall_time: bool,
    points: Vec<(String, Measurement)>,
}

/// The thresholds of a comparison's rows, by series.
pub(crate) struct Thresholds {
    by_series: HashMap<SeriesId, NoiseThreshold>,
    factor: f64,
}

impl Thresholds {
    /// Returns the row's threshold, or the default when its series has no
    /// stored history.
    pub(crate) fn of(&self, row: &Row) -> NoiseThreshold {
        self.by_series
            .get(&series_id(row))
            .copied()
            .unwrap_or_else(|| NoiseThreshold::without_history(0, self.factor))
    }
}

/// Loads the recent default-branch values of every row's series up to
/// and including `base_sha`, one query per machine and environment of the
/// comparison (a pull request's run usually has one), and learns each
/// threshold.
///
/// Points from another benchmark version than base's are dropped, because
/// asv does not compare across versions either. The history comes from
/// separate runs, often on different machines, so for a comparison of
/// [`Sides::OneRun`] each run's shift (`pitot_stats::noise::run_shifts`,
/// estimated from the comparison's wall-time series) is taken out of
/// those series' values before learning.
///
/// NOTE: what is left still shows more noise than a pull request's base and
/// head measured in one run. `docs/detection.md` measures what that costs in
/// missed regressions.
pub(crate) async fn load_thresholds(
    store: &Store,
    repo: &RepoName,
    comparison: &Comparison,
    base_sha: &str,
    sides: Sides,
) -> anyhow::Result<Thresholds> {
    let factor = comparison.options.factor;
    let environments: BTreeSet<(&str, &str)> = comparison
        .rows
        .iter()
        .map(|row| (row.machine.as_str(), row.env_name.as_str()))
        .collect();
    let rows_by_series: HashMap<SeriesId, &Row> = comparison
        .rows
        .iter()
        .map(|row| (series_id(row), row))
        .collect();

    let mut by_series = HashMap::new();
    for (machine, environment) in environments {
        let benchmarks: Vec<String> = comparison
            .rows
            .iter()
            .filter(|row| row.machine == machine && row.env_name == environment)
            .map(|row| row.benchmark.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let history = store
            .recent_default_branch_values(
                repo,
                machine,
                environment,
                &base_sha.to_ascii_lowercase(),
                &benchmarks,
                HISTORY_WINDOW,
            )
            .await
            .with_context(|| {
                format!(
                    "failed to load the history of machine {machine}, environment {environment}"
                )
            })?;
        let mut learnt = Vec::new();
        for series in history {
            let id = (
                display_name(&series),
                machine.to_owned(),
                environment.to_owned(),
            );
            let Some(row) = rows_by_series.get(&id) else {
                continue;
            };
            learnt.push(History {
                id,
                benchmark: row.benchmark.clone(),
                kind: row.kind.clone(),
                wall_time: is_wall_time(row),
                points: same_version_points(series, row),
            });
        }
        // The run shifts of a suite of pandas' size took 45 ms in the
        // `run_shifts` bench, too long to hold a runtime thread.
        let thresholds = run_blocking(move || learn(learnt, sides, factor)).await?;
        by_series.extend(thresholds);
    }
    apply_calibrations(store, repo, comparison, &mut by_series).await?;
    Ok(Thresholds { by_series, factor })
}

/// Learns the threshold of each series of one machine and environment,
/// with the run shifts taken out of the wall-time series for
/// [`Sides::OneRun`].
fn learn(learnt: Vec<History>, sides: Sides, factor: f64) -> Vec<(SeriesId, NoiseThreshold)> {
    let shifts = match sides {
        Sides::OneRun => {
            let series: Vec<(&str, &[(String, Measurement)])> = learnt
                .iter()
                .filter(|history| history.wall_time)
                .map(|history| (history.benchmark.as_str(), history.points.as_slice()))
                .collect();
            run_shifts(&series)
        }
        Sides::SeparateRuns => HashMap::new(),
    };
    learnt
        .iter()
        .map(|history| {
            let values = if history.wall_time {
                without_run_shifts(&history.points, &shifts)
            } else {
                history.points.iter().map(|(_, measurement)| *measurement).collect()
            };
            let threshold = noise_threshold(&values, history.kind.as_ref(), factor);
            (history.id.clone(), threshold)
        })
        .collect()
}

/// Returns whether the row measures wall time: its type in
/// `benchmarks.json`, or without one the `time_` prefix by which asv
/// recognizes a timing benchmark. A machine's speed moves only those.
fn is_wall_time(row: &Row) -> bool {
    match &row.kind {
        Some(kind) => *kind == BenchmarkType::Time,
        None => {
            let function = row.benchmark.rsplit('.').next().unwrap_or(&row.benchmark);
            function.starts_with("time_") || function.starts_with("timeraw_")
        }
    }
}

/// Applies pitot's verdict to a confirmation run's `comparison` with the
/// thresholds that `judged`, the first run's comparison, was judged by, so
/// both runs are held to the same rule. A row the first run did not judge
/// gets the default threshold.
pub(crate) fn assess_like(judged: &Comparison, comparison: &mut Comparison) -> anyhow::Result<()> {
    let factor = comparison.options.factor;
    let thresholds: HashMap<SeriesId, NoiseThreshold> = judged
        .rows
        .iter()
        .filter_map(|row| Some((series_id(row), row.detection.as_ref()?.threshold)))
        .collect();
    pitot_stats::assess(
        comparison,
        |row| {
            thresholds
                .get(&series_id(row))
                .copied()
                .unwrap_or_else(|| NoiseThreshold::without_history(0, factor))
        },
        &pitot_stats::DetectionOptions::default(),
    )
    .context("failed to apply pitot's verdict to the confirmation run")?;
    Ok(())
}

/// Replaces the default threshold of every row with too little history by
/// one from the newest calibration of its series, where one exists.
async fn apply_calibrations(
    store: &Store,
    repo: &RepoName,
    comparison: &Comparison,
    by_series: &mut HashMap<SeriesId, NoiseThreshold>,
) -> anyhow::Result<()> {
    let short_history = |row: &&Row| match by_series.get(&series_id(row)) {
        None => true,
        Some(threshold) => matches!(threshold.source, ThresholdSource::Default { .. }),
    };
    let rows: Vec<&Row> = comparison.rows.iter().filter(short_history).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let Some(repository_id) =
        pitot_store::regressions::find_repository_id(store.pool(), repo.as_str()).await?
    else {
        return Ok(());
    };

    let environments: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|row| (row.machine.as_str(), row.env_name.as_str()))
        .collect();
    for (machine, environment) in environments {
        let names: Vec<String> = rows
            .iter()
            .filter(|row| row.machine == machine && row.env_name == environment)
            .map(|row| row.name.clone())
            .collect();
        let noise: HashMap<String, SeriesNoise> =
            calibrations::latest_series_noise(store.pool(), repository_id, machine, environment, &names)
                .await
                .with_context(|| format!("failed to load the calibrations of machine {machine}"))?
                .into_iter()
                .map(|noise| (noise.series_name.clone(), noise))
                .collect();
        for row in rows.iter().filter(|row| row.machine == machine && row.env_name == environment) {
            let Some(calibration) = noise.get(&row.name) else {
                continue;
            };
            let Some(difference) = calibration.relative_difference else {
                continue;
            };
            let id = series_id(row);
            let points = match by_series.get(&id).map(|threshold| threshold.source) {
                Some(ThresholdSource::Default { points }) => points,
                _ => 0,
            };
            let passes = usize::try_from(calibration.passes).unwrap_or(0);
            by_series.insert(id, calibrated_threshold(difference, passes, points, row.kind.as_ref()));
        }
    }
    Ok(())
}

fn series_id(row: &Row) -> SeriesId {
    (row.name.clone(), row.machine.clone(), row.env_name.clone())
}

/// Returns asv's name of a series: `benchmark(param1, param2)`.
fn display_name(series: &RecentSeries) -> String {
    if series.params.is_empty() {
        series.benchmark.clone()
    } else {
        format!("{}({})", series.benchmark, series.params.join(", "))
    }
}

/// Returns the series' points of base's benchmark version as (commit,
/// measurement).
fn same_version_points(series: RecentSeries, row: &Row) -> Vec<(String, Measurement)> {
    series
        .points
        .into_iter()
        .filter(|point| match (&point.version, &row.before.version) {
            (Some(point), Some(base)) => point == base,
            _ => true,
        })
        .map(|point| (point.commit, Measurement::from_outcome(point.outcome)))
        .collect()
}

/// Applies pitot's verdict to `comparison`, with each series' noise
/// threshold learnt from the store's history up to `base_sha`. The reporter
/// and the chart endpoint both call it, so a chart's colours and URL match
/// the comment's.
pub(crate) async fn assess_with_history(
    store: &Store,
    repo: &RepoName,
    comparison: &mut Comparison,
    base_sha: &str,
    sides: Sides,
) -> anyhow::Result<()> {
    let thresholds = load_thresholds(store, repo, comparison, base_sha, sides).await?;
    pitot_stats::assess(
        comparison,
        |row| thresholds.of(row),
        &pitot_stats::DetectionOptions::default(),
    )
    .context("failed to apply pitot's verdict to the comparison")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use pitot_asv::{BenchmarkInfo, BenchmarkResult, BenchmarkSuite, Outcome, ResultsFile};
    use pitot_stats::{compare, CompareOptions};
    use sqlx::PgPool;

    use super::*;

    /// Builds run `index` of six benchmarks, each measured at `speed`
    /// times its own level.
    fn run(index: u64, speed: f64) -> ResultsFile {
        let benchmarks = (0..6)
            .map(|number| BenchmarkResult {
                name: format!("bench.time_{number}"),
                outcomes: vec![Outcome::Value(speed * f64::from(number + 1))],
                version: Some("v1".into()),
                ..BenchmarkResult::default()
            })
            .collect();
        ResultsFile {
            schema_version: 2,
            machine: "m1".into(),
            env_name: "py3.12".into(),
            commit_hash: format!("{index:040x}"),
            date: Some(1_700_000_000_000 + 60_000 * i64::try_from(index).expect("small")),
            python: Some("3.12".into()),
            benchmarks,
            ..ResultsFile::default()
        }
    }

    /// Describes the six benchmarks of [`run`] as wall-time benchmarks.
    fn suite() -> BenchmarkSuite {
        let benchmarks = (0..6)
            .map(|number| {
                let name = format!("bench.time_{number}");
                let info = BenchmarkInfo {
                    name: name.clone(),
                    kind: BenchmarkType::Time,
                    unit: "seconds".into(),
                    params: Vec::new(),
                    param_names: Vec::new(),
                    version: Some("v1".into()),
                };
                (name, info)
            })
            .collect();
        BenchmarkSuite { benchmarks }
    }

    #[sqlx::test(migrations = "../../migrations")]
    async fn thresholds_ignore_machine_speed(pool: PgPool) {
        let store = Store::from_pool(pool);
        let repo: RepoName = "o/r".parse().expect("valid name");
        // Every other run happened on a machine that ran the whole suite
        // 30% slower; the benchmarks themselves never moved.
        let runs: Vec<ResultsFile> = (1..=20)
            .map(|index| run(index, if index % 2 == 0 { 1.3 } else { 1.0 }))
            .collect();
        for (index, file) in runs.iter().enumerate() {
            let hash = [u8::try_from(index).expect("small"); 32];
            store.ingest(&repo, file, hash).await.expect("ingest");
        }
        let base = &runs[19];
        let head = run(21, 1.0);
        let comparison = compare(
            std::slice::from_ref(base),
            std::slice::from_ref(&head),
            &suite(),
            &CompareOptions::default(),
        )
        .expect("comparison");

        let one_run = load_thresholds(&store, &repo, &comparison, &base.commit_hash, Sides::OneRun)
            .await
            .expect("thresholds");
        let separate_runs =
            load_thresholds(&store, &repo, &comparison, &base.commit_hash, Sides::SeparateRuns)
                .await
                .expect("thresholds");

        assert_eq!(comparison.rows.len(), 6);
        for row in &comparison.rows {
            // Identical wall times after the shift, so the time floor.
            let threshold = one_run.of(row);
            assert_eq!(threshold.source, ThresholdSource::Floor { points: 20 }, "{}", row.name);
            // Every change between runs is 30%, so the fence is 30%.
            let threshold = separate_runs.of(row);
            assert!((threshold.relative - 0.3).abs() < 1e-9, "{}: {threshold:?}", row.name);
        }
    }
}
