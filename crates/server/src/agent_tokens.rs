//! Creating and checking the tokens `pitot agent` authenticates with.
//!
//! A token is 32 random bytes from the operating system, written as
//! `pitot_` and 64 hexadecimal digits (the prefix lets secret scanners
//! recognise a leaked one). The database keeps only its SHA-256.

use pitot_store::agent_tokens::{self, AgentIdentity};
use pitot_store::StoreError;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

const TOKEN_PREFIX: &str = "pitot_";
const TOKEN_BYTES: usize = 32;
const MAX_NAME_LEN: usize = 64;

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
    let name_is_valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !name_is_valid {
        return Err(CreateTokenError::InvalidName(name.to_owned()));
    }

    let mut random = [0u8; TOKEN_BYTES];
    getrandom::getrandom(&mut random).map_err(CreateTokenError::Random)?;
    let token = SecretString::from(format!("{TOKEN_PREFIX}{}", hex::encode(random)));

    match agent_tokens::insert_agent_token(executor, name, &hash_token(token.expose_secret())).await
    {
        Ok(_) => Ok(token),
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
    // A token of the wrong shape cannot match; skipping the lookup also
    // keeps arbitrary header values away from the database.
    let well_formed = token.strip_prefix(TOKEN_PREFIX).is_some_and(|digits| {
        digits.len() == 2 * TOKEN_BYTES && digits.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if !well_formed {
        return Ok(None);
    }
    agent_tokens::find_agent_by_token(executor, &hash_token(token)).await
}

fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_of_the_token_text() {
        let hash = hash_token("abc");

        assert_eq!(
            hex::encode(hash),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
