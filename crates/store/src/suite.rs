//! The benchmark suite (`benchmarks.json`) and machine descriptions
//! (`machine.json`).

use std::collections::BTreeMap;

use pitot_asv::{BenchmarkInfo, BenchmarkSuite, BenchmarkType, MachineInfo};
use sqlx::PgConnection;

use crate::catalog::{ensure_repository, find_repository};
use crate::{ExistingRuns, RepoName, Store, StoreError};

impl Store {
    /// Creates or updates one row per benchmark of `suite`, in one transaction.
    ///
    /// Benchmarks that the suite does not list keep their rows: their results
    /// stay, and `benchmarks.json` only ever describes the newest suite.
    pub async fn upsert_suite(&self, repo: &RepoName, suite: &BenchmarkSuite) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Store::write_suite(&mut tx, repo, suite, ExistingRuns::Replace).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the rows of `upsert_suite` in the caller's transaction. With
    /// [`ExistingRuns::Keep`], a benchmark that a suite described before
    /// keeps that description, and only new or undescribed ones are written.
    pub(crate) async fn write_suite(
        conn: &mut PgConnection,
        repo: &RepoName,
        suite: &BenchmarkSuite,
        existing: ExistingRuns,
    ) -> Result<(), StoreError> {
        let repository_id = ensure_repository(conn, repo).await?;

        let count = suite.benchmarks.len();
        let mut names = Vec::with_capacity(count);
        let mut kinds = Vec::with_capacity(count);
        let mut units = Vec::with_capacity(count);
        let mut param_names = Vec::with_capacity(count);
        let mut params = Vec::with_capacity(count);
        let mut versions = Vec::with_capacity(count);
        for info in suite.benchmarks.values() {
            names.push(info.name.clone());
            kinds.push(kind_label(&info.kind).to_owned());
            units.push(info.unit.clone());
            param_names.push(serde_json::json!(info.param_names));
            params.push(serde_json::json!(info.params));
            versions.push(info.version.clone());
        }
        // The insert is sorted by name so that it takes row locks in the same
        // order as the ingest's benchmark inserts.
        sqlx::query!(
            "INSERT INTO benchmarks (repository_id, name, kind, unit, param_names, params, version)
             SELECT $1, input.name, input.kind, input.unit,
                    ARRAY(SELECT value FROM jsonb_array_elements_text(input.param_names) WITH ORDINALITY
                          AS element(value, position) ORDER BY position),
                    input.params, input.version
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[])
                  AS input(name, kind, unit, param_names, params, version)
             ORDER BY input.name
             ON CONFLICT ON CONSTRAINT benchmarks_repository_name_key DO UPDATE
             SET kind = excluded.kind, unit = excluded.unit, param_names = excluded.param_names,
                 params = excluded.params, version = excluded.version
             WHERE $8 OR benchmarks.kind IS NULL",
            repository_id,
            &names,
            &kinds,
            &units,
            &param_names,
            &params,
            &versions as &[Option<String>],
            existing == ExistingRuns::Replace,
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Returns the benchmarks whose type and unit are known, that is those some
    /// `benchmarks.json` listed, with the parameters it last gave them.
    ///
    /// Benchmarks known only from results files are left out, because the
    /// suite format has no way to say "unknown type".
    pub async fn load_suite(&self, repo: &RepoName) -> Result<BenchmarkSuite, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let repository_id = find_repository(&mut conn, repo).await?.ok_or_else(|| StoreError::NotFound {
            what: "repository",
            value: repo.to_string(),
        })?;
        let rows = sqlx::query!(
            r#"SELECT name, kind AS "kind!", unit AS "unit!", param_names, params, version
               FROM benchmarks
               WHERE repository_id = $1 AND kind IS NOT NULL AND unit IS NOT NULL
               ORDER BY name"#,
            repository_id
        )
        .fetch_all(&mut *conn)
        .await?;

        let mut benchmarks = BTreeMap::new();
        for row in rows {
            let info = BenchmarkInfo {
                name: row.name.clone(),
                kind: parse_kind(&row.kind),
                unit: row.unit,
                params: row.params.map(string_lists).unwrap_or_default(),
                param_names: row.param_names.unwrap_or_default(),
                version: row.version,
            };
            benchmarks.insert(row.name, info);
        }
        Ok(BenchmarkSuite { benchmarks })
    }

    /// Creates or replaces the stored description of one machine.
    pub async fn upsert_machine(&self, repo: &RepoName, machine: &MachineInfo) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let repository_id = ensure_repository(&mut tx, repo).await?;
        let info = serde_json::to_value(&machine.fields).unwrap_or_default();
        sqlx::query!(
            "INSERT INTO machines (repository_id, name, info) VALUES ($1, $2, $3)
             ON CONFLICT ON CONSTRAINT machines_repository_name_key DO UPDATE SET info = excluded.info",
            repository_id,
            machine.machine,
            info
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The `type` string asv writes for a benchmark type.
fn kind_label(kind: &BenchmarkType) -> &str {
    match kind {
        BenchmarkType::Time => "time",
        BenchmarkType::Memory => "memory",
        BenchmarkType::PeakMemory => "peakmemory",
        BenchmarkType::Track => "track",
        BenchmarkType::Other(other) => other,
    }
}

pub(crate) fn parse_kind(label: &str) -> BenchmarkType {
    match label {
        "time" => BenchmarkType::Time,
        "memory" => BenchmarkType::Memory,
        "peakmemory" => BenchmarkType::PeakMemory,
        "track" => BenchmarkType::Track,
        other => BenchmarkType::Other(other.to_owned()),
    }
}

/// Reads a JSON list of lists of strings, as the store writes parameter
/// values; anything else (only a hand-edited row) reads as no parameters.
pub(crate) fn string_lists(value: serde_json::Value) -> Vec<Vec<String>> {
    serde_json::from_value(value).unwrap_or_default()
}
