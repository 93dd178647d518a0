//! Reading one series over its history.

use chrono::{DateTime, Utc};
use pitot_asv::Outcome;

use crate::catalog::find_repository;
use crate::{RepoName, Store, StoreError};

/// Names one series: a benchmark with one parameter combination, on one
/// machine, in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesKey {
    pub benchmark: String,
    /// Parameter values as asv's repr() strings, in parameter order; empty
    /// for a benchmark without parameters.
    pub params: Vec<String>,
    pub machine: String,
    pub environment: String,
}

/// One point of a series: the result at one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub commit: String,
    pub committed_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub ci_99: Option<(f64, f64)>,
    /// The benchmark's version hash in this run; points of different versions
    /// are not comparable.
    pub version: Option<String>,
}

impl Store {
    /// Returns one series' results ordered by commit date, oldest first
    /// (commits without a date last).
    pub async fn series_history(&self, repo: &RepoName, key: &SeriesKey) -> Result<Vec<SeriesPoint>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let repository_id = find_repository(&mut conn, repo).await?.ok_or_else(|| StoreError::NotFound {
            what: "repository",
            value: repo.to_string(),
        })?;
        let series_id = sqlx::query_scalar!(
            "SELECT s.id FROM series s
             JOIN benchmarks b ON b.id = s.benchmark_id
             JOIN machines m ON m.id = s.machine_id
             JOIN environments e ON e.id = s.environment_id
             WHERE b.repository_id = $1 AND b.name = $2 AND m.name = $3 AND e.name = $4
               AND s.params = $5::text[]",
            repository_id,
            key.benchmark,
            key.machine,
            key.environment,
            &key.params
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "series",
            value: format!(
                "{}({}) on machine {} in environment {}",
                key.benchmark,
                key.params.join(", "),
                key.machine,
                key.environment
            ),
        })?;

        // The results columns read here are all in `results_series_history`,
        // so the scan of the series range does not visit the table.
        let rows = sqlx::query!(
            r#"SELECT c.sha, r.committed_at, r.outcome::text AS "outcome!", r.value,
                      r.ci_99_low, r.ci_99_high, v.version AS "version?"
               FROM results r
               JOIN commits c ON c.id = r.commit_id
               LEFT JOIN benchmark_versions v ON v.id = r.version_id
               WHERE r.series_id = $1
               ORDER BY r.committed_at, c.sha"#,
            series_id
        )
        .fetch_all(&mut *conn)
        .await?;

        let points = rows
            .into_iter()
            .map(|row| SeriesPoint {
                commit: row.sha,
                committed_at: row.committed_at,
                outcome: match (row.outcome.as_str(), row.value) {
                    ("value", Some(value)) => Outcome::Value(value),
                    ("skipped", _) => Outcome::Skipped,
                    _ => Outcome::Failed,
                },
                ci_99: row.ci_99_low.zip(row.ci_99_high),
                version: row.version,
            })
            .collect();
        Ok(points)
    }
}

/// The recent default-branch results of one series, for its noise
/// threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentSeries {
    pub benchmark: String,
    /// Parameter values as asv's repr() strings, as in [`SeriesKey`].
    pub params: Vec<String>,
    /// Oldest first; the base commit's own result is the last point when
    /// it is stored.
    pub points: Vec<SeriesPoint>,
}

impl Store {
    /// Returns, for every series of `benchmarks` on `machine` in
    /// `environment`, its latest `limit` results at commits no newer than
    /// `base` (base included), in one round trip.
    ///
    /// "Default branch" means: commits that are not the head of any pull
    /// request job of the repository. pitot stores no branch names, and
    /// the only commits it stores from pull requests are their heads;
    /// merge-bases and imported history come from the default branch.
    /// A series without such results is left out. An unknown repository or
    /// base commit, or one without a commit date, gives no series, so
    /// every threshold falls back to the default.
    pub async fn recent_default_branch_values(
        &self,
        repo: &RepoName,
        machine: &str,
        environment: &str,
        base: &str,
        benchmarks: &[String],
        limit: usize,
    ) -> Result<Vec<RecentSeries>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One LATERAL descent of `results_series_history` per series, newest
        // first, stops after `limit` points that pass the pull-request
        // filter; the outer ORDER BY puts each series back oldest first.
        let rows = sqlx::query!(
            r#"WITH base AS (
                   SELECT c.repository_id, c.committed_at
                   FROM commits c
                   JOIN repositories repo ON repo.id = c.repository_id
                   WHERE lower(repo.name) = lower($1) AND c.sha = $2
               ),
               wanted AS (
                   SELECT s.id, b.name AS benchmark, s.params
                   FROM base
                   JOIN benchmarks b ON b.repository_id = base.repository_id
                   JOIN series s ON s.benchmark_id = b.id
                   JOIN machines m ON m.id = s.machine_id
                   JOIN environments e ON e.id = s.environment_id
                   WHERE b.name = ANY($3::text[]) AND m.name = $4 AND e.name = $5
               )
               SELECT w.benchmark AS "benchmark!", w.params AS "params!",
                      p.sha AS "sha!", p.committed_at, p.outcome AS "outcome!", p.value,
                      p.ci_99_low, p.ci_99_high, p.version AS "version?"
               FROM wanted w
               CROSS JOIN base
               CROSS JOIN LATERAL (
                   SELECT c.sha, r.committed_at, r.outcome::text AS outcome, r.value,
                          r.ci_99_low, r.ci_99_high, v.version
                   FROM results r
                   JOIN commits c ON c.id = r.commit_id
                   LEFT JOIN benchmark_versions v ON v.id = r.version_id
                   WHERE r.series_id = w.id
                     AND r.committed_at <= base.committed_at
                     AND NOT EXISTS (
                         SELECT 1 FROM jobs j
                         WHERE j.repository_id = base.repository_id
                           AND j.pr_number IS NOT NULL
                           AND j.head_sha = c.sha
                     )
                   ORDER BY r.committed_at DESC, c.sha DESC
                   LIMIT $6
               ) p
               ORDER BY w.benchmark, w.params, p.committed_at, p.sha"#,
            repo.as_str(),
            base,
            benchmarks,
            machine,
            environment,
            limit
        )
        .fetch_all(&self.pool)
        .await?;

        let mut series: Vec<RecentSeries> = Vec::new();
        for row in rows {
            let point = SeriesPoint {
                commit: row.sha,
                committed_at: row.committed_at,
                outcome: match (row.outcome.as_str(), row.value) {
                    ("value", Some(value)) => Outcome::Value(value),
                    ("skipped", _) => Outcome::Skipped,
                    _ => Outcome::Failed,
                },
                ci_99: row.ci_99_low.zip(row.ci_99_high),
                version: row.version,
            };
            match series.last_mut() {
                Some(last) if last.benchmark == row.benchmark && last.params == row.params => {
                    last.points.push(point);
                }
                _ => series.push(RecentSeries {
                    benchmark: row.benchmark,
                    params: row.params,
                    points: vec![point],
                }),
            }
        }
        Ok(series)
    }
}
