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
