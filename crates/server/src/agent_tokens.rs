//! Creating and checking the tokens `pitot agent` authenticates with. They
//! start with `pitot_`; see [`crate::secret_tokens`] for their form.

use pitot_store::agent_tokens::{self, AgentIdentity};
use pitot_store::StoreError;
use secrecy::SecretString;
use sqlx::PgExecutor;

use crate::secret_tokens;

const TOKEN_PREFIX: &str = "pitot_";

/// An error from creating a token.
#[derive(Debug, thiserror::Error)]
pub enum CreateTokenError {
    #[error("invalid agent name {0:?}: use 1 to 64 ASCII letters, digits, '.', '_' or '-'")]
    InvalidName(String),
    #[error("an agent token named {0:?} already exists: revoke it first or choose another name")]
    NameTaken(String),
    #[error("failed to read random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a token for the agent `name` and returns it. This is the only
/// time the token exists in clear: show it once to the operator.
pub async fn create_agent_token(
    executor: impl PgExecutor<'_>,
    name: &str,
) -> Result<SecretString, CreateTokenError> {
    if !secret_tokens::is_valid_name(name) {
        return Err(CreateTokenError::InvalidName(name.to_owned()));
    }
    let token = secret_tokens::generate(TOKEN_PREFIX).map_err(CreateTokenError::Random)?;
    match agent_tokens::insert_agent_token(executor, name, &token.sha256).await {
        Ok(_) => Ok(token.clear),
        Err(StoreError::Database(sqlx::Error::Database(error)))
            if error.constraint() == Some("agent_tokens_name_key") =>
        {
            Err(CreateTokenError::NameTaken(name.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Returns the agent that `token` belongs to, or `None` for an unknown or
/// revoked token.
pub async fn authenticate(
    executor: impl PgExecutor<'_>,
    token: &str,
) -> Result<Option<AgentIdentity>, StoreError> {
    match secret_tokens::lookup_hash(token, TOKEN_PREFIX) {
        Some(hash) => agent_tokens::find_agent_by_token(executor, &hash).await,
        None => Ok(None),
    }
}
