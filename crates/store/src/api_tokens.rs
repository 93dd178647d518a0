//! The tokens that authorize writes through the JSON API, stored as SHA-256
//! hashes with the scopes they grant.
//!
//! As in [`crate::agent_tokens`], the caller hashes the token: this module
//! never receives one in clear. Scopes are stored as the server names them,
//! and the server checks them.

use sqlx::PgExecutor;

use crate::StoreError;

/// An API token's row, found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenIdentity {
    pub id: i32,
    pub name: String,
    pub scopes: Vec<String>,
}

/// Stores the hash of a new token under `name` with `scopes` and returns
/// its id. Fails with a database error naming `api_tokens_name_key` when
/// the name is taken.
pub async fn insert_api_token(
    executor: impl PgExecutor<'_>,
    name: &str,
    token_sha256: &[u8; 32],
    scopes: &[String],
) -> Result<i32, StoreError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO api_tokens (name, token_sha256, scopes) VALUES ($1, $2, $3) RETURNING id",
        name,
        token_sha256.as_slice(),
        scopes,
    )
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Returns the holder of the unrevoked token with this hash, if any.
pub async fn find_api_token(
    executor: impl PgExecutor<'_>,
    token_sha256: &[u8; 32],
) -> Result<Option<ApiTokenIdentity>, StoreError> {
    let identity = sqlx::query_as!(
        ApiTokenIdentity,
        "SELECT id, name, scopes FROM api_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
        token_sha256.as_slice(),
    )
    .fetch_optional(executor)
    .await?;
    Ok(identity)
}

/// Revokes the token named `name` and returns whether one was active.
pub async fn revoke_api_token(
    executor: impl PgExecutor<'_>,
    name: &str,
) -> Result<bool, StoreError> {
    let revoked = sqlx::query_scalar!(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id",
        name,
    )
    .fetch_optional(executor)
    .await?;
    Ok(revoked.is_some())
}
