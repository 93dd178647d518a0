//! Ingesting results files: each file whole or not at all, idempotent, and
//! one transaction for one file (`Store::ingest`) or for several
//! (`Store::ingest_batch`, `Store::ingest_all_or_nothing`).

use std::collections::HashSet;

use pitot_asv::{BenchmarkSuite, ResultsFile};
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use crate::benchmark_entries::{self, RunEntries};
use crate::catalog_cache::{CatalogCache, CatalogIds};
use crate::claim::{claim_runs, Claim};
use crate::copy::{CopyBuffer, ResultRow, COPY_RESULTS};
use crate::keys::{self, FileIds, RunKeys};
use crate::prepare::PreparedFile;
use crate::{RepoName, Store, StoreError};

/// What `Store::ingest` did with a results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// The run was new, and `values` result rows were written.
    Inserted { values: u64 },
    /// The run existed with a different file, whose rows were replaced by
    /// `values` new ones.
    Replaced { values: u64 },
    /// The run already holds a file with the same SHA-256, so nothing changed.
    Unchanged,
    /// The run was stored before from another file, which was kept because
    /// the caller passed [`ExistingRuns::Keep`].
    Kept,
}

/// The choice of an ingest for a run stored before from a different file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingRuns {
    /// The new file replaces the stored one, as a re-import does.
    Replace,
    /// The stored file stays, and so does a stored benchmark description. A
    /// pull request's job passes this: its runner runs untrusted code, which
    /// must not rewrite what a history job, a release or an import stored.
    Keep,
}

/// A checked file, its `raw_sha256`, and where its outcome goes.
pub(crate) struct Pending<'f> {
    pub prepared: PreparedFile<'f>,
    pub raw_sha256: [u8; 32],
    pub index: usize,
}

impl Store {
    /// Stores one parsed results file as a run, in one transaction.
    ///
    /// A run is identified by repository, machine, environment and commit.
    /// If that run already holds a file with the same `raw_sha256` (the
    /// SHA-256 of the file's bytes) nothing is written; if it holds another
    /// file, the old rows are deleted and the new ones written in the same
    /// transaction. On any error the transaction rolls back, so a run is never
    /// left half-written and an older run being replaced stays as it was.
    #[tracing::instrument(skip_all, fields(repo = %repo, commit = %file.commit_hash, machine = %file.machine))]
    pub async fn ingest(
        &self,
        repo: &RepoName,
        file: &ResultsFile,
        raw_sha256: [u8; 32],
    ) -> Result<IngestOutcome, StoreError> {
        let pending = Pending {
            prepared: PreparedFile::new(file)?,
            raw_sha256,
            index: 0,
        };
        let outcomes = self.ingest_together(repo, std::slice::from_ref(&pending)).await?;
        Ok(outcomes[0])
    }

    /// Stores several parsed results files of one repository, as `ingest`
    /// does, but in one transaction, and returns one result per file in the
    /// same order.
    ///
    /// Each file is still written whole or not at all. When the shared
    /// transaction fails, every file is ingested again in a transaction of
    /// its own, so a file that cannot be stored fails alone and the others
    /// are stored. A file that fails the checks of `ingest` before any SQL
    /// runs gets its error without affecting the others.
    #[tracing::instrument(skip_all, fields(repo = %repo, files = files.len()))]
    pub async fn ingest_batch(
        &self,
        repo: &RepoName,
        files: &[(&ResultsFile, [u8; 32])],
    ) -> Vec<Result<IngestOutcome, StoreError>> {
        let mut outcomes: Vec<Result<IngestOutcome, StoreError>> = Vec::with_capacity(files.len());
        let mut pending = Vec::with_capacity(files.len());
        for (index, (file, raw_sha256)) in files.iter().enumerate() {
            match PreparedFile::new(file) {
                Ok(prepared) => {
                    pending.push(Pending {
                        prepared,
                        raw_sha256: *raw_sha256,
                        index,
                    });
                    // A placeholder, overwritten below.
                    outcomes.push(Ok(IngestOutcome::Unchanged));
                }
                Err(error) => outcomes.push(Err(error)),
            }
        }

        // Two files of one run would both claim it in one statement; one
        // transaction each replaces the first with the second, as `ingest`
        // does.
        let together = if pending.len() > 1 && distinct_runs(&pending) {
            match self.ingest_together(repo, &pending).await {
                Ok(stored) => Some(stored),
                Err(error) => {
                    let files = pending.len();
                    tracing::info!(%error, files, "batch ingest failed, so its files are retried one per transaction");
                    None
                }
            }
        } else {
            None
        };
        match together {
            Some(stored) => {
                for (file, outcome) in pending.iter().zip(stored) {
                    outcomes[file.index] = Ok(outcome);
                }
            }
            None => {
                for file in &pending {
                    let stored = self.ingest_together(repo, std::slice::from_ref(file)).await;
                    outcomes[file.index] = stored.map(|stored| stored[0]);
                }
            }
        }
        outcomes
    }

    /// Stores an optional benchmark suite and several results files of one
    /// repository in one transaction, and returns one outcome per file in
    /// the same order.
    ///
    /// Unlike `ingest_batch`, the files fail together: when any file fails
    /// the checks of `ingest` or any statement fails, the transaction rolls
    /// back and nothing of the suite or of any file is stored. Files that
    /// name the same run are written one after the other, so the last one
    /// replaces the others, as separate `ingest` calls would. With
    /// [`ExistingRuns::Keep`], a run stored from a different file keeps
    /// that file, so of several files that name one run the first is stored.
    /// A benchmark that a suite described before then keeps its description.
    #[tracing::instrument(skip_all, fields(repo = %repo, files = files.len()))]
    pub async fn ingest_all_or_nothing(
        &self,
        repo: &RepoName,
        suite: Option<&BenchmarkSuite>,
        files: &[(&ResultsFile, [u8; 32])],
        existing: ExistingRuns,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let mut pending = Vec::with_capacity(files.len());
        for (index, (file, raw_sha256)) in files.iter().enumerate() {
            pending.push(Pending {
                prepared: PreparedFile::new(file)?,
                raw_sha256: *raw_sha256,
                index,
            });
        }
        let groups: Vec<&[Pending<'_>]> = if distinct_runs(&pending) {
            vec![&pending[..]]
        } else {
            pending.chunks(1).collect()
        };

        let mut tx = self.begin_ingest().await?;
        if let Some(suite) = suite {
            Store::write_suite(&mut tx, repo, suite, existing).await?;
        }
        // A savepoint, so that the refreshes of unchanged files can be
        // undone while the suite is kept.
        let mut files_tx = Connection::begin(&mut *tx).await?;
        let uncached = CatalogCache::default();
        let cache = self.cache_or(&uncached);
        let mut found = CatalogIds::default();
        let mut outcomes = Vec::with_capacity(pending.len());
        for group in groups {
            outcomes.extend(write_files(&mut files_tx, cache, &mut found, repo, group, existing).await?);
        }
        if all_unchanged(&outcomes) {
            files_tx.rollback().await?;
            forget_refreshed(&mut found);
        } else {
            files_tx.commit().await?;
        }
        tx.commit().await?;
        cache.remember(found);
        Ok(outcomes)
    }

    /// Writes `files` in one transaction and returns their outcomes in order.
    async fn ingest_together(&self, repo: &RepoName, files: &[Pending<'_>]) -> Result<Vec<IngestOutcome>, StoreError> {
        let uncached = CatalogCache::default();
        let cache = self.cache_or(&uncached);
        let mut tx = self.begin_ingest().await?;
        let mut found = CatalogIds::default();
        let outcomes = write_files(&mut tx, cache, &mut found, repo, files, ExistingRuns::Replace).await?;
        if all_unchanged(&outcomes) {
            tx.rollback().await?;
            forget_refreshed(&mut found);
        } else {
            tx.commit().await?;
        }
        // Only now: ids of rows created by a transaction that rolled back
        // would name rows that do not exist.
        cache.remember(found);
        Ok(outcomes)
    }

    /// Returns the handle's catalog cache, or `uncached` when it has none.
    fn cache_or<'c>(&'c self, uncached: &'c CatalogCache) -> &'c CatalogCache {
        self.catalog_cache.as_deref().unwrap_or(uncached)
    }

    /// Starts an ingest's transaction, with `synchronous_commit` off for a
    /// handle made with `with_asynchronous_commit(true)`.
    async fn begin_ingest(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let tx = if self.asynchronous_commit {
            // See `Store::with_asynchronous_commit` for why this is safe. Sent
            // with BEGIN as one simple query, which saves a round trip.
            self.pool.begin_with("BEGIN; SET LOCAL synchronous_commit = off").await?
        } else {
            self.pool.begin().await?
        };
        Ok(tx)
    }
}

/// Writes the runs and result rows of `files` through `conn`, which is in a
/// transaction, and returns their outcomes in order. Writes nothing but the
/// catalog lookups when every file is unchanged. The catalog ids found or
/// created go to `found`.
async fn write_files(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repo: &RepoName,
    files: &[Pending<'_>],
    existing: ExistingRuns,
) -> Result<Vec<IngestOutcome>, StoreError> {
    let prepared: Vec<&PreparedFile<'_>> = files.iter().map(|file| &file.prepared).collect();
    let keys = keys::resolve_run_keys(conn, cache, found, repo, &prepared, existing).await?;
    let claims = claim_runs(conn, &keys, files, existing).await?;

    let mut rows = CopyBuffer::new();
    let mut entries = RunEntries::default();
    let mut outcomes = Vec::with_capacity(files.len());
    for ((file, keys), claim) in files.iter().zip(&keys).zip(claims) {
        let (run_id, outcome) = match claim {
            Claim::Unchanged => {
                outcomes.push(IngestOutcome::Unchanged);
                continue;
            }
            Claim::Kept => {
                outcomes.push(IngestOutcome::Kept);
                continue;
            }
            Claim::New(run_id) => (run_id, IngestOutcome::Inserted { values: file.prepared.value_count }),
            Claim::Replacing(run_id) => (run_id, IngestOutcome::Replaced { values: file.prepared.value_count }),
        };
        let ids = keys::resolve_file_ids(conn, cache, found, keys, &file.prepared).await?;
        push_results(&mut rows, keys, &ids, run_id, &file.prepared);
        entries.push(run_id, benchmark_entries::to_json(&file.prepared, &ids));
        outcomes.push(outcome);
    }
    if !all_unchanged(&outcomes) {
        benchmark_entries::store(conn, &entries).await?;
        copy_results(conn, rows).await?;
    }
    Ok(outcomes)
}

/// Returns whether no file wrote anything: each was unchanged or kept.
fn all_unchanged(outcomes: &[IngestOutcome]) -> bool {
    outcomes
        .iter()
        .all(|outcome| matches!(outcome, IngestOutcome::Unchanged | IngestOutcome::Kept))
}

/// Drops the ids that a rolled-back transaction of unchanged files may have
/// refreshed or created.
///
/// Nothing is written for unchanged files, so the refresh of an
/// environment's description or a commit's date is undone too. The other
/// ids name rows that existed before, as every file's run did.
fn forget_refreshed(found: &mut CatalogIds) {
    found.environments.clear();
    found.commits.clear();
}

/// Returns whether no two files name the same run. The names stand for the
/// ids: machines and environments are looked up by name, commits by sha.
fn distinct_runs(files: &[Pending<'_>]) -> bool {
    let mut seen = HashSet::new();
    files.iter().all(|file| {
        let prepared = &file.prepared;
        seen.insert((&prepared.file.machine, &prepared.file.env_name, &prepared.sha))
    })
}

/// Appends the result rows of one file's run to a `COPY_RESULTS` payload.
fn push_results(rows: &mut CopyBuffer, keys: &RunKeys, ids: &FileIds<'_>, run_id: i64, prepared: &PreparedFile<'_>) {
    for benchmark in &prepared.file.benchmarks {
        let benchmark_id = ids.benchmarks[benchmark.name.as_str()];
        let version_id = benchmark.version.as_deref().map(|version| ids.versions[&(benchmark_id, version)]);
        for (index, outcome) in benchmark.outcomes.iter().enumerate() {
            rows.push_result(&ResultRow {
                run_id,
                series_id: ids.series[&(benchmark_id, benchmark.combination(index))],
                commit_id: keys.commit_id,
                committed_at: keys.committed_at,
                benchmark_id,
                // `PreparedFile::new` checked that the count fits.
                combination: index as i32,
                version_id,
                outcome: *outcome,
                stats: benchmark.stats.get(index).and_then(Option::as_ref),
                samples: benchmark.samples.get(index).and_then(Option::as_deref),
            });
        }
    }
}

async fn copy_results(conn: &mut PgConnection, rows: CopyBuffer) -> Result<(), StoreError> {
    let mut copy = conn.copy_in_raw(COPY_RESULTS).await?;
    copy.send(rows.finish()).await?;
    copy.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests;
