//! The ids of repositories that webhook deliveries name, kept in memory so
//! that a delivery's transaction does not look them up each time.
//!
//! pitot never deletes or renames a repository's row. A row deleted by
//! hand stays in this cache until the server restarts, and until then the
//! deliveries of that repository fail on the foreign keys that point at it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use pitot_store::{pull_requests, RepoName, StoreError};
use sqlx::PgConnection;

/// The maximum number of cached ids, after which the cache starts over. It
/// is far more repositories than one installation of pitot serves.
const MAX_REPOSITORY_IDS: usize = 10_000;

/// Repository ids by lower-cased `owner/name`, as `repositories_name_key`
/// compares names.
#[derive(Debug, Default)]
pub struct RepositoryIds {
    ids: Mutex<HashMap<String, i32>>,
}

impl RepositoryIds {
    /// Returns the id of `repository`, creating its row if needed.
    ///
    /// Call it before the transaction of `conn` creates any repository row.
    /// Only ids of rows that were there before are kept: a row created in
    /// the transaction is gone again if the transaction rolls back.
    pub async fn ensure(
        &self,
        conn: &mut PgConnection,
        repository: &RepoName,
    ) -> Result<i32, StoreError> {
        let key = repository.as_str().to_lowercase();
        if let Some(&id) = self.lock().get(&key) {
            return Ok(id);
        }
        if let Some(id) = pull_requests::find_repository(&mut *conn, repository).await? {
            let mut ids = self.lock();
            if ids.len() >= MAX_REPOSITORY_IDS {
                ids.clear();
            }
            ids.insert(key, id);
            return Ok(id);
        }
        pull_requests::ensure_repository(conn, repository).await
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, i32>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
