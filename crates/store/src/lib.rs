//! PostgreSQL storage for pitot: ingesting asv results files, the benchmark
//! suite and machine descriptions, and reading runs and series back.
//!
//! This crate owns the SQL and the schema's invariants. It has no code for
//! HTTP, GitHub or the command line, and takes its inputs as the typed values
//! of `pitot_asv`. Every public method returns `StoreError`.
//!
//! Queries go through sqlx's checked macros; their metadata is committed in
//! `.sqlx/` at the workspace root, so building needs no database. After
//! changing a query or a migration, run `scripts/sqlx-prepare`.

mod benchmark_entries;
mod catalog;
mod catalog_cache;
mod claim;
mod commit_sha;
mod copy;
mod error;
mod history;
mod ingest;
mod keys;
mod load;
mod prepare;
mod repo_name;
mod suite;

// The job queue, webhook deliveries, installations and agent tokens.
pub mod actions_jobs;
pub mod agent_tokens;
pub mod api_tokens;
pub mod calibrations;
pub mod commands;
pub mod commit_jobs;
pub mod commit_shas;
pub mod confirm_jobs;
pub mod dashboard;
pub mod deliveries;
pub mod installations;
pub mod job_reports;
pub mod jobs;
pub mod pull_requests;
pub mod quarantines;
pub mod regressions;
pub mod releases;
pub mod reporting;
pub mod retention;
pub mod schema_status;

use std::sync::Arc;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

pub use error::StoreError;
pub use history::{RecentSeries, SeriesKey, SeriesPoint};
pub use ingest::{ExistingRuns, IngestOutcome};
pub use repo_name::{InvalidRepoName, RepoName};

/// Returns the SHA-256 of a results file's bytes, the `raw_sha256` that
/// `Store::ingest` expects.
pub fn file_sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Connections `Store::connect` opens at most. Ingest uses one per
/// transaction being written; a handful is enough to keep a 2- to 8-core
/// server busy.
const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// A handle to pitot's database: a connection pool plus the ingest settings.
/// Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    asynchronous_commit: bool,
    catalog_cache: Option<Arc<catalog_cache::CatalogCache>>,
}

impl Store {
    /// Connects to `database_url` with a pool of up to 8 connections.
    pub async fn connect(database_url: &str) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(DEFAULT_MAX_CONNECTIONS)
            .connect(database_url)
            .await?;
        Ok(Store::from_pool(pool))
    }

    /// Wraps an existing pool.
    pub fn from_pool(pool: PgPool) -> Store {
        Store {
            pool,
            asynchronous_commit: false,
            catalog_cache: None,
        }
    }

    /// Returns the connection pool, for callers that run their own queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Sets whether `ingest` commits without waiting for the WAL flush.
    ///
    /// With `synchronous_commit = off` a commit returns before its WAL record
    /// reaches the disk, so a server crash can lose the last few hundred
    /// milliseconds of committed ingests (PostgreSQL bounds it at three times
    /// `wal_writer_delay`). It never corrupts data or leaves a run half
    /// written, because all rows of a file are written in one atomic
    /// transaction. A bulk import can afford that, because it is idempotent
    /// and re-running it restores what was lost; a webhook-driven ingest
    /// should keep the default.
    pub fn with_asynchronous_commit(mut self, enabled: bool) -> Store {
        self.asynchronous_commit = enabled;
        self
    }

    /// Gives this handle and its clones a cache of catalog ids for `ingest`.
    ///
    /// With it, ingests skip the lookups of repositories, machines,
    /// environments, commits, benchmarks, versions and series that an
    /// earlier ingest through the same cache already committed. Meant for a
    /// bulk import, which ends with the handle: the cache is never cleared,
    /// so a long-lived handle would keep ids of rows deleted later.
    pub fn with_catalog_cache(mut self) -> Store {
        self.catalog_cache = Some(Arc::default());
        self
    }

    /// Applies the pending migrations from the workspace's `migrations/` folder.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("../../migrations").run(&self.pool).await?;
        Ok(())
    }

    /// Updates the planner statistics and the visibility map of the results
    /// tables, so history queries can be served from the index alone.
    ///
    /// Autovacuum does the same eventually; a bulk import calls this so that
    /// queries are fast right after it.
    pub async fn vacuum_analyze(&self) -> Result<(), StoreError> {
        // Two statements on two connections, so that the server works on
        // the large table and the others at the same time.
        let results = sqlx::raw_sql("VACUUM (ANALYZE) results").execute(&self.pool);
        let catalog = sqlx::raw_sql("VACUUM (ANALYZE) series, runs, commits").execute(&self.pool);
        tokio::try_join!(results, catalog)?;
        Ok(())
    }
}
