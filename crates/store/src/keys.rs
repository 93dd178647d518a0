//! Resolving the ids that a results file's rows refer to. Each id comes from
//! the import's catalog cache if it has one, else from the catalog tables.
//!
//! Every id found or created here is also added to `found`, the ids of the
//! ingest's transaction. Later files of the same transaction look there
//! too, and the cache takes them over once the transaction commits.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::catalog::{self, EnvironmentFields, SeriesScope, StoredCommit};
use crate::catalog_cache::{CatalogCache, CatalogIds, SeriesIdentity};
use crate::prepare::PreparedFile;
use crate::{ExistingRuns, RepoName, StoreError};

/// The ids a run refers to.
pub(crate) struct RunKeys {
    pub repository_id: i32,
    pub machine_id: i32,
    pub environment_id: i32,
    pub commit_id: i64,
    pub committed_at: Option<DateTime<Utc>>,
}

/// The benchmark, version and series ids of one file's rows.
pub(crate) struct FileIds<'f> {
    pub benchmarks: HashMap<&'f str, i32>,
    pub versions: HashMap<(i32, &'f str), i32>,
    pub series: HashMap<(i32, Vec<&'f str>), i64>,
}

/// Finds or creates the repository, machine, environment and commit of each
/// file's run, and returns their ids in the order of `files`.
pub(crate) async fn resolve_run_keys(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repo: &RepoName,
    files: &[&PreparedFile<'_>],
    existing: ExistingRuns,
) -> Result<Vec<RunKeys>, StoreError> {
    let repository_id = resolve_repository(conn, cache, found, repo).await?;
    let commits = resolve_commits(conn, cache, found, repository_id, files).await?;

    // Machines, then environments, each in the order of their names, so
    // that concurrent ingests take these rows' locks in one order and
    // cannot deadlock. Each sort is stable and starts from the files'
    // order, so of several files that describe one environment
    // differently the last still wins.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|a, b| files[*a].file.machine.cmp(&files[*b].file.machine));
    let mut machine_ids = vec![0; files.len()];
    for &index in &order {
        let machine = &files[index].file.machine;
        machine_ids[index] = resolve_machine(conn, cache, found, repository_id, machine).await?;
    }
    order = (0..files.len()).collect();
    order.sort_by(|a, b| files[*a].file.env_name.cmp(&files[*b].file.env_name));
    let mut environment_ids = vec![0; files.len()];
    for &index in &order {
        environment_ids[index] =
            resolve_environment(conn, cache, found, repository_id, files[index], existing).await?;
    }

    let keys = commits
        .into_iter()
        .zip(machine_ids.into_iter().zip(environment_ids))
        .map(|((commit_id, committed_at), (machine_id, environment_id))| RunKeys {
            repository_id,
            machine_id,
            environment_id,
            commit_id,
            committed_at,
        })
        .collect();
    Ok(keys)
}

async fn resolve_repository(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repo: &RepoName,
) -> Result<i32, StoreError> {
    let key = repo.as_str().to_lowercase();
    let cached = cache
        .ids()
        .repositories
        .get(&key)
        .or(found.repositories.get(&key))
        .copied();
    if let Some(id) = cached {
        return Ok(id);
    }
    let id = catalog::ensure_repository(conn, repo).await?;
    found.repositories.insert(key, id);
    Ok(id)
}

async fn resolve_machine(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repository_id: i32,
    name: &str,
) -> Result<i32, StoreError> {
    let key = (repository_id, name.to_owned());
    let cached = cache.ids().machines.get(&key).or(found.machines.get(&key)).copied();
    if let Some(id) = cached {
        return Ok(id);
    }
    let id = catalog::ensure_machine(conn, repository_id, name).await?;
    found.machines.insert(key, id);
    Ok(id)
}

/// Returns the environment's id. With [`ExistingRuns::Replace`] a cached id
/// is used only when the cached description equals the file's, so a changed
/// description still reaches `catalog::ensure_environment`, which updates
/// the row. With [`ExistingRuns::Keep`] a stored description stays as it is.
async fn resolve_environment(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repository_id: i32,
    prepared: &PreparedFile<'_>,
    existing: ExistingRuns,
) -> Result<i32, StoreError> {
    let file = prepared.file;
    let requirements = serde_json::to_value(&file.requirements).unwrap_or_default();
    let key = (repository_id, file.env_name.clone());
    let cached = cache
        .ids()
        .environments
        .get(&key)
        .or(found.environments.get(&key))
        .cloned();
    let refresh = existing == ExistingRuns::Replace;
    if let Some(stored) = cached {
        if !refresh || (stored.python == file.python && stored.requirements == requirements) {
            return Ok(stored.id);
        }
    }

    let fields = EnvironmentFields {
        name: &file.env_name,
        python: file.python.as_deref(),
        requirements: &file.requirements,
    };
    let stored = catalog::ensure_environment(conn, repository_id, &fields, refresh).await?;
    let id = stored.id;
    found.environments.insert(key, stored);
    Ok(id)
}

/// Returns the id and date of each file's commit, with one statement for
/// all commits that the cache does not have.
async fn resolve_commits(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repository_id: i32,
    files: &[&PreparedFile<'_>],
) -> Result<Vec<StoredCommit>, StoreError> {
    let mut known = HashMap::new();
    // Per missing sha, the first date that any of its files gives. Sorted,
    // because `catalog::ensure_commits` expects sorted shas.
    let mut missing: BTreeMap<&str, Option<DateTime<Utc>>> = BTreeMap::new();
    {
        let cached = cache.ids();
        for prepared in files {
            let key = (repository_id, prepared.sha.clone());
            match cached.commits.get(&key).or(found.commits.get(&key)) {
                // A cached commit without a date is looked up again when a
                // file has one, so that the date gets stored.
                Some(&commit) if commit.1.is_some() || prepared.committed_at.is_none() => {
                    known.insert(prepared.sha.as_str(), commit);
                }
                _ => {
                    let date = missing.entry(prepared.sha.as_str()).or_default();
                    *date = date.or(prepared.committed_at);
                }
            }
        }
    }

    if !missing.is_empty() {
        let missing: Vec<(&str, Option<DateTime<Utc>>)> = missing.into_iter().collect();
        let stored = catalog::ensure_commits(conn, repository_id, &missing).await?;
        for ((sha, _), commit) in missing.into_iter().zip(stored) {
            found.commits.insert((repository_id, sha.to_owned()), commit);
            known.insert(sha, commit);
        }
    }
    Ok(files.iter().map(|prepared| known[prepared.sha.as_str()]).collect())
}

/// Finds or creates the benchmarks, versions and series that the file's rows
/// name.
pub(crate) async fn resolve_file_ids<'f>(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    keys: &RunKeys,
    prepared: &PreparedFile<'f>,
) -> Result<FileIds<'f>, StoreError> {
    let benchmarks = resolve_benchmarks(conn, cache, found, keys.repository_id, prepared).await?;
    let versions = resolve_versions(conn, cache, found, prepared, &benchmarks).await?;
    let series = resolve_series(conn, cache, found, keys, prepared, &benchmarks).await?;
    Ok(FileIds {
        benchmarks,
        versions,
        series,
    })
}

async fn resolve_benchmarks<'f>(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    repository_id: i32,
    prepared: &PreparedFile<'f>,
) -> Result<HashMap<&'f str, i32>, StoreError> {
    let mut ids = HashMap::new();
    // Sorted, because `catalog::ensure_benchmarks` expects sorted names.
    let mut missing = BTreeSet::new();
    {
        let cached = cache.ids();
        for benchmark in &prepared.file.benchmarks {
            let name = benchmark.name.as_str();
            let key = (repository_id, name.to_owned());
            if let Some(id) = cached.benchmarks.get(&key).or(found.benchmarks.get(&key)) {
                ids.insert(name, *id);
            } else {
                missing.insert(name);
            }
        }
    }
    if missing.is_empty() {
        return Ok(ids);
    }

    let missing: Vec<&str> = missing.into_iter().collect();
    let created = catalog::ensure_benchmarks(conn, repository_id, &missing).await?;
    for (name, id) in missing.into_iter().zip(created) {
        found.benchmarks.insert((repository_id, name.to_owned()), id);
        ids.insert(name, id);
    }
    Ok(ids)
}

async fn resolve_versions<'f>(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    prepared: &PreparedFile<'f>,
    benchmark_ids: &HashMap<&str, i32>,
) -> Result<HashMap<(i32, &'f str), i32>, StoreError> {
    let mut ids = HashMap::new();
    let mut missing = BTreeSet::new();
    {
        let cached = cache.ids();
        for benchmark in &prepared.file.benchmarks {
            let Some(version) = benchmark.version.as_deref() else {
                continue;
            };
            let benchmark_id = benchmark_ids[benchmark.name.as_str()];
            let key = (benchmark_id, version.to_owned());
            if let Some(id) = cached.versions.get(&key).or(found.versions.get(&key)) {
                ids.insert((benchmark_id, version), *id);
            } else {
                missing.insert((benchmark_id, version));
            }
        }
    }
    if missing.is_empty() {
        return Ok(ids);
    }

    let missing: Vec<(i32, &str)> = missing.into_iter().collect();
    let created = catalog::ensure_versions(conn, &missing).await?;
    for ((benchmark_id, version), id) in missing.into_iter().zip(created) {
        found.versions.insert((benchmark_id, version.to_owned()), id);
        ids.insert((benchmark_id, version), id);
    }
    Ok(ids)
}

async fn resolve_series<'f>(
    conn: &mut PgConnection,
    cache: &CatalogCache,
    found: &mut CatalogIds,
    keys: &RunKeys,
    prepared: &PreparedFile<'f>,
    benchmark_ids: &HashMap<&str, i32>,
) -> Result<HashMap<(i32, Vec<&'f str>), i64>, StoreError> {
    let identity = |benchmark_id: i32, params: &[&str]| SeriesIdentity {
        benchmark_id,
        machine_id: keys.machine_id,
        environment_id: keys.environment_id,
        params: params.iter().map(|value| (*value).to_owned()).collect(),
    };
    let mut ids = HashMap::new();
    // A set both removes duplicate combinations (a parameter listing the
    // same value twice) and sorts the keys for the insert.
    let mut missing = BTreeSet::new();
    {
        let cached = cache.ids();
        for benchmark in &prepared.file.benchmarks {
            let benchmark_id = benchmark_ids[benchmark.name.as_str()];
            for index in 0..benchmark.outcomes.len() {
                let params = benchmark.combination(index);
                let key = identity(benchmark_id, &params);
                if let Some(id) = cached.series.get(&key).or(found.series.get(&key)) {
                    ids.insert((benchmark_id, params), *id);
                } else {
                    missing.insert((benchmark_id, params));
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok(ids);
    }

    let missing: Vec<(i32, Vec<&str>)> = missing.into_iter().collect();
    let scope = SeriesScope {
        machine_id: keys.machine_id,
        environment_id: keys.environment_id,
    };
    let created = catalog::ensure_series(conn, &scope, &missing).await?;
    for ((benchmark_id, params), id) in missing.into_iter().zip(created) {
        found.series.insert(identity(benchmark_id, &params), id);
        ids.insert((benchmark_id, params), id);
    }
    Ok(ids)
}
