//! Building the charts' inputs from a job's comparison and the store, and
//! the URLs that carry their digests.

use std::collections::HashSet;

use anyhow::Context as _;
use pitot_asv::Outcome;
use pitot_charts::{HistoryChart, HistoryPoint, NoiseBand, SummaryChart, Verdict};
use pitot_report::{ChartLink, CommentCharts, Quarantines};
use pitot_stats::{Comparison, Row, Side};
use pitot_store::{reporting, RepoName, SeriesKey, SeriesPoint, Store, StoreError};

use super::{MAX_HISTORY_LINKS, MAX_HISTORY_POINTS};
use crate::state::AppState;

/// The job a chart belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChartJob<'a> {
    pub(crate) job_id: i64,
    pub(crate) repository_id: i32,
    /// `owner/name`.
    pub(crate) repository: &'a str,
    /// The merge-base that was benchmarked.
    pub(crate) base_sha: &'a str,
    pub(crate) head_sha: &'a str,
}

/// A job's comparison as its charts draw it, with the repository's
/// quarantines.
///
/// Benchmarks quarantined as ignored are left out, as the comment leaves
/// them out of its tables. Those quarantined as noisy are drawn in their
/// own colour and get no history link. The comment and the chart route
/// both build their charts from this, so the digests in the comment's URLs
/// are the ones the route computes.
pub(crate) struct Charted {
    pub(crate) comparison: Comparison,
    quarantines: Quarantines,
}

impl Charted {
    /// Applies quarantines to `comparison`: `quarantines` when given, else
    /// those the job's comment was drawn with, else those in force now.
    pub(crate) async fn load(
        state: &AppState,
        job: &ChartJob<'_>,
        comparison: &Comparison,
        quarantines: Option<&Quarantines>,
    ) -> anyhow::Result<Charted> {
        let quarantines = match quarantines {
            Some(quarantines) => quarantines.clone(),
            None => match reporting::chart_quarantines(&state.pool, job.job_id).await? {
                Some(recorded) => crate::quarantines::kinds_from_json(&recorded),
                None => {
                    crate::quarantines::comment_quarantines(&state.pool, job.repository_id)
                        .await?
                }
            },
        };
        Ok(Charted {
            comparison: quarantines.shown(comparison),
            quarantines,
        })
    }

    fn is_quarantined(&self, row: &Row) -> bool {
        self.quarantines.of(row).is_some()
    }

    /// Returns the summary chart, with asv's noise band for the
    /// comparison's factor.
    pub(crate) fn summary(&self) -> anyhow::Result<SummaryChart> {
        Ok(SummaryChart::from_comparison(
            &self.comparison,
            noise_band(&self.comparison)?,
            |row| self.is_quarantined(row),
        ))
    }

    /// Returns the indices of the rows that pitot judged changed, that
    /// are not quarantined and have a value on both sides. Worse rows come
    /// first, then better ones. Within each, the ratio furthest from 1 on
    /// a log scale comes first.
    fn flagged_rows(&self) -> Vec<usize> {
        let mut flagged: Vec<(usize, Verdict, f64)> = self
            .comparison
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| !self.is_quarantined(row))
            .filter_map(|(index, row)| {
                let verdict = Verdict::of(row);
                let ratio = row
                    .ratio
                    .filter(|ratio| ratio.is_finite() && *ratio > 0.0)?;
                let changed = matches!(verdict, Verdict::Worse | Verdict::Better);
                changed.then_some((index, verdict, ratio.ln().abs()))
            })
            .collect();
        flagged.sort_by(|a, b| {
            let worse_first = (b.1 == Verdict::Worse).cmp(&(a.1 == Verdict::Worse));
            worse_first.then_with(|| b.2.total_cmp(&a.2))
        });
        flagged.into_iter().map(|(index, _, _)| index).collect()
    }
}

fn noise_band(comparison: &Comparison) -> anyhow::Result<NoiseBand> {
    NoiseBand::from_factor(comparison.options.factor).context("the comparison's factor")
}

pub(crate) fn summary_path(job_id: i64, digest: &str) -> String {
    format!("/charts/jobs/{job_id}/summary-{digest}.png")
}

pub(crate) fn history_path(job_id: i64, row: usize, digest: &str) -> String {
    format!("/charts/jobs/{job_id}/history-{row}-{digest}.png")
}

/// Returns the summary URL and the history links of the comparison's
/// changed benchmarks ([`Charted::flagged_rows`]), worst first and at most
/// [`MAX_HISTORY_LINKS`], each URL starting with `base_url` (empty for
/// paths). `quarantines` are as for [`Charted::load`].
pub(crate) async fn chart_links(
    state: &AppState,
    job: &ChartJob<'_>,
    comparison: &Comparison,
    quarantines: Option<&Quarantines>,
    base_url: &str,
) -> anyhow::Result<CommentCharts> {
    let charted = Charted::load(state, job, comparison, quarantines).await?;
    let summary = charted.summary()?;
    let flagged = charted.flagged_rows();
    let mut histories = Vec::new();
    for &row in flagged.iter().take(MAX_HISTORY_LINKS) {
        let Some(chart) = history_chart(state, job, &charted.comparison, row).await? else {
            continue;
        };
        histories.push(ChartLink {
            name: chart.title.clone(),
            url: format!(
                "{base_url}{}",
                history_path(job.job_id, row, &chart.digest())
            ),
        });
    }
    Ok(CommentCharts {
        summary_url: format!("{base_url}{}", summary_path(job.job_id, &summary.digest())),
        histories,
        histories_omitted: flagged.len().saturating_sub(MAX_HISTORY_LINKS),
    })
}

/// Returns the history chart of row `row` of the comparison, or `None`
/// when the comparison has no such row.
pub(crate) async fn history_chart(
    state: &AppState,
    job: &ChartJob<'_>,
    comparison: &Comparison,
    row: usize,
) -> anyhow::Result<Option<HistoryChart>> {
    let Some(compared) = comparison.rows.get(row) else {
        return Ok(None);
    };
    let history = branch_history(state, job, compared).await?;
    let title = if comparison.has_multiple_environments() {
        format!("{} [{}]", compared.name, compared.environment())
    } else {
        compared.name.clone()
    };
    Ok(Some(HistoryChart {
        title,
        unit: compared.unit.clone(),
        history,
        base: side_point(job.base_sha, &compared.before),
        head: side_point(job.head_sha, &compared.after),
        head_verdict: Verdict::of(compared),
        noise: noise_band(comparison)?,
    }))
}

fn side_point(commit: &str, side: &Side) -> HistoryPoint {
    HistoryPoint {
        commit: commit.to_owned(),
        value: side.measurement.value(),
        interval: side.stats.and_then(|stats| stats.ci_99),
    }
}

/// Returns the row's series on the base branch, as described in the
/// module documentation.
async fn branch_history(
    state: &AppState,
    job: &ChartJob<'_>,
    row: &Row,
) -> anyhow::Result<Vec<HistoryPoint>> {
    let repo: RepoName = job
        .repository
        .parse()
        .with_context(|| format!("repository name {:?}", job.repository))?;
    let key = SeriesKey {
        benchmark: row.benchmark.clone(),
        params: row.params.clone(),
        machine: row.machine.clone(),
        environment: row.env_name.clone(),
    };
    let store = Store::from_pool(state.pool.clone());
    let points = match store.series_history(&repo, &key).await {
        Ok(points) => points,
        // A benchmark that only the head has, or a job whose results were
        // never stored, has no series yet.
        Err(StoreError::NotFound { .. }) => Vec::new(),
        Err(error) => return Err(error).context("failed to load the benchmark's history"),
    };

    let shas: Vec<String> = points.iter().map(|point| point.commit.clone()).collect();
    let pull_request_heads: HashSet<String> =
        reporting::pull_request_heads_among(&state.pool, job.repository_id, &shas)
            .await
            .context("failed to look up pull request heads")?
            .into_iter()
            .collect();
    Ok(select_branch_points(
        points,
        job.base_sha,
        &pull_request_heads,
    ))
}

/// Keeps the points at commits that are not pull-request heads and not
/// the base itself, dated no later than the base (all dated points when
/// the base has no stored date), and returns the newest
/// [`MAX_HISTORY_POINTS`] of them, oldest first.
fn select_branch_points(
    points: Vec<SeriesPoint>,
    base_sha: &str,
    pull_request_heads: &HashSet<String>,
) -> Vec<HistoryPoint> {
    let base_date = points
        .iter()
        .find(|point| point.commit == base_sha)
        .and_then(|point| point.committed_at);
    let mut kept: Vec<HistoryPoint> = points
        .into_iter()
        .filter(|point| point.commit != base_sha && !pull_request_heads.contains(&point.commit))
        .filter(|point| match (point.committed_at, base_date) {
            (Some(date), Some(base_date)) => date <= base_date,
            (Some(_), None) => true,
            // Without a date a commit has no place in the order.
            (None, _) => false,
        })
        .map(|point| HistoryPoint {
            commit: point.commit,
            value: match point.outcome {
                Outcome::Value(value) => Some(value),
                Outcome::Failed | Outcome::Skipped => None,
            },
            interval: point.ci_99,
        })
        .collect();
    let excess = kept.len().saturating_sub(MAX_HISTORY_POINTS);
    kept.drain(..excess);
    kept
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;

    fn point(commit: &str, day: Option<u32>, value: f64) -> SeriesPoint {
        SeriesPoint {
            commit: commit.to_owned(),
            committed_at: day.map(|day| {
                Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0)
                    .single()
                    .expect("a valid date")
            }),
            outcome: Outcome::Value(value),
            ci_99: None,
            version: None,
        }
    }

    #[test]
    fn branch_points_stop_at_the_base_and_skip_pull_requests() {
        let points = vec![
            point("old", Some(1), 1.0),
            point("pr-head", Some(2), 9.0),
            point("base", Some(3), 1.1),
            point("newer", Some(4), 1.2),
            point("undated", None, 1.3),
        ];
        let heads: HashSet<String> = ["pr-head".to_owned()].into();

        let kept = select_branch_points(points, "base", &heads);

        let commits: Vec<&str> = kept.iter().map(|point| point.commit.as_str()).collect();
        assert_eq!(commits, ["old"]);
    }

    #[test]
    fn branch_points_keep_the_newest() {
        let points: Vec<SeriesPoint> = (0..MAX_HISTORY_POINTS + 5)
            .map(|index| point(&format!("c{index}"), Some(1), index as f64))
            .collect();

        let kept = select_branch_points(points, "missing-base", &HashSet::new());

        assert_eq!(kept.len(), MAX_HISTORY_POINTS);
        assert_eq!(kept[0].commit, "c5");
    }
}
