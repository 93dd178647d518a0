//! Running change-point detection over stored default-branch history and
//! storing what it finds as regressions to triage.
//!
//! The reporter calls [`detect_for_commit`] after a history or release
//! job's results are stored, for the series that job measured. `pitot
//! detect` calls [`detect_in_repository`] for every series of a
//! repository, for history imported with `pitot import`.

use anyhow::Context as _;
use pitot_stats::change_points::{detect_change_points, ChangePointOptions};
use pitot_stats::{direction_of, Direction};
use pitot_store::regressions::{self, DetectionPoint, NewRegression, SeriesKind};
use sqlx::PgPool;

use crate::blocking::run_blocking;

/// How many series are loaded and stored together. A series of django's
/// history has about 35 points on average and at most about 4,700, so a
/// chunk stays within a few megabytes.
const SERIES_PER_CHUNK: usize = 500;

/// The counts of one detection run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectionSummary {
    pub series: usize,
    /// Change points found, old and new.
    pub change_points: usize,
    /// Change points stored for the first time.
    pub new: u64,
}

/// Detects change points in the series that have a result at commit `sha`.
pub async fn detect_for_commit(
    pool: &PgPool,
    repository_id: i32,
    sha: &str,
    options: ChangePointOptions,
) -> anyhow::Result<DetectionSummary> {
    let series = regressions::series_at_commit(pool, repository_id, sha)
        .await
        .context("failed to list the series of the commit")?;
    detect_in_series(pool, repository_id, &series, options).await
}

/// Detects change points in every series of a repository.
pub async fn detect_in_repository(
    pool: &PgPool,
    repository: &str,
    options: ChangePointOptions,
) -> anyhow::Result<DetectionSummary> {
    let repository_id = regressions::find_repository_id(pool, repository)
        .await?
        .with_context(|| {
            format!(
                "repository {repository:?} not found: import its results with `pitot import` first"
            )
        })?;
    let series = regressions::repository_series(pool, repository_id)
        .await
        .context("failed to list the repository's series")?;
    detect_in_series(pool, repository_id, &series, options).await
}

/// Detects change points in `series_ids` and stores them, one transaction
/// per chunk of [`SERIES_PER_CHUNK`] series.
pub async fn detect_in_series(
    pool: &PgPool,
    repository_id: i32,
    series_ids: &[i64],
    options: ChangePointOptions,
) -> anyhow::Result<DetectionSummary> {
    let mut summary = DetectionSummary::default();
    for chunk in series_ids.chunks(SERIES_PER_CHUNK) {
        let points = regressions::default_branch_points(pool, repository_id, chunk)
            .await
            .context("failed to load the series' history")?;
        let kinds = regressions::series_kinds(pool, chunk)
            .await
            .context("failed to load the series' benchmark types")?;
        let found = run_blocking(move || find_in_points(&points, &kinds, &options)).await?;

        let mut tx = pool.begin().await?;
        let new = regressions::record_detections(&mut tx, repository_id, chunk, &found)
            .await
            .context("failed to store the change points")?;
        tx.commit().await?;
        summary.series += chunk.len();
        summary.change_points += found.len();
        summary.new += new;
    }
    Ok(summary)
}

/// Runs the detector over `points`, which are grouped by series, oldest
/// first, separately for each stretch of one benchmark version.
fn find_in_points(
    points: &[DetectionPoint],
    kinds: &[SeriesKind],
    options: &ChangePointOptions,
) -> Vec<NewRegression> {
    let mut found = Vec::new();
    for stretch in
        points.chunk_by(|a, b| a.series_id == b.series_id && a.version_id == b.version_id)
    {
        let series_id = stretch[0].series_id;
        let direction = kinds
            .iter()
            .find(|kind| kind.series_id == series_id)
            .map(|kind| direction_of(kind.kind.as_ref(), kind.unit.as_deref()))
            .unwrap_or(Direction::LowerIsBetter);
        let values: Vec<f64> = stretch.iter().map(|point| point.value).collect();
        for change in detect_change_points(&values, options) {
            let rose = change.mean_after > change.mean_before;
            let worse = rose == (direction == Direction::LowerIsBetter);
            found.push(NewRegression {
                series_id,
                before_commit_id: stretch[change.index - 1].commit_id,
                after_commit_id: stretch[change.index].commit_id,
                mean_before: change.mean_before,
                mean_after: change.mean_after,
                ratio: change.ratio(),
                p_value: change.p_value,
                direction: if worse { "worse" } else { "better" },
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use pitot_asv::BenchmarkType;

    fn points(
        series_id: i64,
        version_id: Option<i32>,
        first_commit: i64,
        values: &[f64],
    ) -> Vec<DetectionPoint> {
        values
            .iter()
            .enumerate()
            .map(|(offset, &value)| DetectionPoint {
                series_id,
                commit_id: first_commit + offset as i64,
                value,
                version_id,
            })
            .collect()
    }

    fn step(before: usize, after: usize, low: f64, high: f64) -> Vec<f64> {
        let mut values = vec![low; before];
        values.extend(std::iter::repeat_n(high, after));
        values
    }

    #[test]
    fn range_and_direction_of_a_slowdown() {
        let points = points(7, Some(1), 100, &step(10, 10, 1.0, 2.0));
        let kinds = [SeriesKind {
            series_id: 7,
            kind: Some(BenchmarkType::Time),
            unit: Some("seconds".into()),
        }];

        let found = find_in_points(&points, &kinds, &ChangePointOptions::default());

        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].before_commit_id, 109);
        assert_eq!(found[0].after_commit_id, 110);
        assert_eq!(found[0].ratio, Some(2.0));
        assert_eq!(found[0].direction, "worse");
    }

    #[test]
    fn rising_speedup_is_better() {
        let points = points(7, None, 1, &step(10, 10, 1.0, 2.0));
        let kinds = [SeriesKind {
            series_id: 7,
            kind: Some(BenchmarkType::Track),
            unit: Some("speedup".into()),
        }];

        let found = find_in_points(&points, &kinds, &ChangePointOptions::default());

        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].direction, "better");
    }

    #[test]
    fn version_change_is_not_a_change_point() {
        let mut all = points(7, Some(1), 1, &[1.0; 10]);
        all.extend(points(7, Some(2), 11, &[2.0; 10]));

        let found = find_in_points(&all, &[], &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn series_are_detected_apart() {
        let mut all = points(7, None, 1, &[1.0; 10]);
        all.extend(points(8, None, 1, &[2.0; 10]));

        let found = find_in_points(&all, &[], &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }
}
