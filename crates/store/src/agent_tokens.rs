//! The tokens agents authenticate with, stored as SHA-256 hashes.
//!
//! The caller generates the token and hashes it; this module never receives a
//! token in clear, so it cannot log or store one by mistake.

use sqlx::PgExecutor;

use crate::StoreError;

/// An agent token's row, found by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub id: i32,
    pub name: String,
}

/// Stores the hash of a new token under `name` and returns its id. Fails
/// with a database error naming `agent_tokens_name_key` when the name is taken.
pub async fn insert_agent_token(
    executor: impl PgExecutor<'_>,
    name: &str,
    token_sha256: &[u8; 32],
) -> Result<i32, StoreError> {
    let id = sqlx::query_scalar!(
        "INSERT INTO agent_tokens (name, token_sha256) VALUES ($1, $2) RETURNING id",
        name,
        token_sha256.as_slice(),
    )
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Returns the agent whose unrevoked token has this hash, if any.
pub async fn find_agent_by_token(
    executor: impl PgExecutor<'_>,
    token_sha256: &[u8; 32],
) -> Result<Option<AgentIdentity>, StoreError> {
    let agent = sqlx::query_as!(
        AgentIdentity,
        "SELECT id, name FROM agent_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
        token_sha256.as_slice(),
    )
    .fetch_optional(executor)
    .await?;
    Ok(agent)
}

/// Revokes the token named `name` and returns whether one was active.
pub async fn revoke_agent_token(
    executor: impl PgExecutor<'_>,
    name: &str,
) -> Result<bool, StoreError> {
    let revoked = sqlx::query_scalar!(
        "UPDATE agent_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id",
        name,
    )
    .fetch_optional(executor)
    .await?;
    Ok(revoked.is_some())
}
