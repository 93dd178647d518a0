//! Commit hashes by commit id, kept in memory by a server.
//!
//! A series' history names its commits by id, and joining those ids to
//! `commits` cost the history query more than reading the series itself:
//! a hash of every stored commit and a sort of the points afterwards. A
//! commit's hash never changes and an id is never given out twice, so an
//! entry of this cache can never be wrong, only unused. The history reads
//! its points in index order and looks up their hashes here. Only the ids
//! the cache has not seen yet go to the database.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use sqlx::PgExecutor;

use crate::StoreError;

/// The number of hashes a cache keeps by default: about 17 MB (an
/// estimate), enough for the histories of 20 repositories of 10,000
/// commits each.
pub const DEFAULT_CAPACITY: usize = 200_000;

/// The cache; see the module documentation. One per server, shared by its
/// requests.
#[derive(Debug)]
pub struct CommitShas {
    known: RwLock<HashMap<i64, Box<str>>>,
    capacity: usize,
}

impl Default for CommitShas {
    fn default() -> Self {
        CommitShas::with_capacity(DEFAULT_CAPACITY)
    }
}

impl CommitShas {
    /// Creates an empty cache of at most `capacity` hashes. When a
    /// lookup would go past it, the cache starts again from empty, which
    /// keeps its memory bounded without bookkeeping per entry.
    pub fn with_capacity(capacity: usize) -> CommitShas {
        CommitShas {
            known: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// Returns the hash of each of `ids`, in the same order. Ids missing
    /// from the cache are read in one query. An id with no commit row is an
    /// error, since every id a caller has came from a stored row.
    pub async fn resolve(
        &self,
        executor: impl PgExecutor<'_>,
        ids: &[i64],
    ) -> Result<Vec<String>, StoreError> {
        let mut shas: Vec<Option<String>> = {
            let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
            ids.iter()
                .map(|id| known.get(id).map(|sha| sha.to_string()))
                .collect()
        };
        let mut missing: Vec<i64> = ids
            .iter()
            .zip(&shas)
            .filter(|(_, sha)| sha.is_none())
            .map(|(id, _)| *id)
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            let fetched: HashMap<i64, String> =
                sqlx::query!("SELECT id, sha FROM commits WHERE id = ANY($1)", &missing)
                    .fetch_all(executor)
                    .await?
                    .into_iter()
                    .map(|row| (row.id, row.sha))
                    .collect();
            for (sha, id) in shas.iter_mut().zip(ids) {
                if sha.is_none() {
                    *sha = fetched.get(id).cloned();
                }
            }
            // The map only ever gains rows the database returned, so a
            // panic of another holder cannot leave it inconsistent.
            let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
            if known.len() + fetched.len() > self.capacity {
                known.clear();
            }
            known.extend(
                fetched
                    .into_iter()
                    .map(|(id, sha)| (id, sha.into_boxed_str())),
            );
        }
        ids.iter()
            .zip(shas)
            .map(|(id, sha)| {
                sha.ok_or_else(|| StoreError::NotFound {
                    what: "commit",
                    value: format!("id {id}"),
                })
            })
            .collect()
    }

    /// Returns the number of hashes in the cache.
    pub fn len(&self) -> usize {
        self.known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Returns true when the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
