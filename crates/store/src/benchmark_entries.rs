//! The per-benchmark entries of a run, stored as the `jsonb` array
//! `runs.benchmarks`: what asv records once per benchmark of a results file
//! rather than once per parameter combination.

use serde::Serialize;
use sqlx::PgConnection;

use crate::keys::FileIds;
use crate::prepare::PreparedFile;
use crate::StoreError;

/// One element of `runs.benchmarks`. The migration that created the column
/// describes the keys; absent values are left out rather than written as
/// null, which keeps a failed build's entries short.
#[derive(Serialize)]
struct BenchmarkEntry<'a> {
    benchmark_id: i32,
    /// One list of repr() strings per parameter, as the file lists them.
    params: &'a [Vec<String>],
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<i32>,
    /// Milliseconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<i64>,
    /// Seconds; left out when NaN or infinite, which JSON cannot represent.
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
}

/// Returns the `runs.benchmarks` array of a file as JSON text, one entry per
/// benchmark in the file's order.
pub(crate) fn to_json(prepared: &PreparedFile<'_>, ids: &FileIds<'_>) -> String {
    let entries: Vec<BenchmarkEntry<'_>> = prepared
        .file
        .benchmarks
        .iter()
        .map(|benchmark| {
            let benchmark_id = ids.benchmarks[benchmark.name.as_str()];
            BenchmarkEntry {
                benchmark_id,
                params: &benchmark.params,
                version_id: benchmark.version.as_deref().map(|version| ids.versions[&(benchmark_id, version)]),
                started_at: benchmark.started_at,
                duration: benchmark.duration.filter(|seconds| seconds.is_finite()),
            }
        })
        .collect();
    // Integers, finite floats and strings always serialize.
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_owned())
}

/// The `runs.benchmarks` arrays of the runs one transaction writes.
#[derive(Default)]
pub(crate) struct RunEntries {
    run_ids: Vec<i64>,
    arrays: Vec<String>,
}

impl RunEntries {
    /// Adds the array of one run, as returned by [`to_json`].
    pub fn push(&mut self, run_id: i64, array: String) {
        self.run_ids.push(run_id);
        self.arrays.push(array);
    }
}

/// Sets `runs.benchmarks` of the runs in `entries`, in one statement.
///
/// A separate statement because the entries name benchmark and version ids,
/// which an ingest resolves only once the claim has told it which files are
/// new or changed. The claim inserted or locked these run rows in the same
/// transaction, so the update waits for no other one.
pub(crate) async fn store(conn: &mut PgConnection, entries: &RunEntries) -> Result<(), StoreError> {
    if entries.run_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE runs SET benchmarks = input.benchmarks::jsonb
         FROM UNNEST($1::bigint[], $2::text[]) AS input(id, benchmarks)
         WHERE runs.id = input.id",
    )
    .bind(&entries.run_ids)
    .bind(&entries.arrays)
    .execute(conn)
    .await?;
    Ok(())
}
