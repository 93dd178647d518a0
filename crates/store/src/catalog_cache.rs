//! Ids of catalog rows kept in memory for one bulk import.
//!
//! The files of one asv history name the same repository, machines,
//! environments, benchmarks, versions and series again and again, and
//! looking them up per file took more round trips than writing the file's
//! values. The cache holds only ids of rows that a committed ingest found or
//! created, and a `Store` has one only when `Store::with_catalog_cache`
//! asked for it, so it never outlives the import that filled it.
//!
//! NOTE: a catalog row deleted by hand during an import stays in the cache.
//! A run that names a deleted repository, machine, environment or commit is
//! still rejected by the foreign keys of `runs`, but results that name a
//! deleted benchmark, version or series are written without a check.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::catalog::StoredCommit;

/// The shared cache; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    ids: Mutex<CatalogIds>,
}

/// Ids by natural key. Each map is keyed like the table's unique constraint.
#[derive(Debug, Default)]
pub(crate) struct CatalogIds {
    /// By lower-cased `owner/name`, as `repositories_name_key` compares.
    pub repositories: HashMap<String, i32>,
    /// By repository id and machine name.
    pub machines: HashMap<(i32, String), i32>,
    /// By repository id and environment name, with the description stored.
    pub environments: HashMap<(i32, String), StoredEnvironment>,
    /// By repository id and full sha, with the commit date stored.
    pub commits: HashMap<(i32, String), StoredCommit>,
    /// By repository id and benchmark name.
    pub benchmarks: HashMap<(i32, String), i32>,
    /// By benchmark id and version hash.
    pub versions: HashMap<(i32, String), i32>,
    pub series: HashMap<SeriesIdentity, i64>,
}

/// An environment row's id and its stored description.
#[derive(Debug, Clone)]
pub(crate) struct StoredEnvironment {
    pub id: i32,
    pub python: Option<String>,
    pub requirements: serde_json::Value,
}

/// The columns of `series_identity_key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SeriesIdentity {
    pub benchmark_id: i32,
    pub machine_id: i32,
    pub environment_id: i32,
    pub params: Vec<String>,
}

impl CatalogCache {
    /// Locks the cache for reading.
    pub fn ids(&self) -> MutexGuard<'_, CatalogIds> {
        // The maps stay consistent even if a holder panicked, because every
        // update is a plain insert of a committed row's id.
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the ids an ingest found or created, once its transaction has
    /// committed.
    pub fn remember(&self, found: CatalogIds) {
        let mut ids = self.ids();
        ids.repositories.extend(found.repositories);
        ids.machines.extend(found.machines);
        ids.environments.extend(found.environments);
        ids.commits.extend(found.commits);
        ids.benchmarks.extend(found.benchmarks);
        ids.versions.extend(found.versions);
        ids.series.extend(found.series);
    }
}
