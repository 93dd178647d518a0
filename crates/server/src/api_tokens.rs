//! Creating and checking the tokens that authorize writes through the JSON
//! API. They start with `pitot_api_` (see [`crate::secret_tokens`]) and
//! grant one or more [`ApiScope`]s.

use std::fmt;
use std::str::FromStr;

use pitot_store::api_tokens;
use pitot_store::StoreError;
use secrecy::SecretString;
use sqlx::PgExecutor;

use crate::secret_tokens;

const TOKEN_PREFIX: &str = "pitot_api_";

/// A permission an API token grants: one kind of write. Reading needs no
/// token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiScope {
    /// Mark benchmarks as noisy or ignored, and lift those marks.
    Quarantine,
    /// Set the triage state of detected regressions.
    Triage,
    /// Run a finished pull request job again.
    Rerun,
    /// Queue A/A calibration jobs, which hold a benchmark machine for
    /// several asv runs; a separate scope, so a token that may rerun one
    /// pull request cannot fill the queue with calibrations.
    Calibrate,
}

impl ApiScope {
    pub const ALL: [ApiScope; 4] = [
        ApiScope::Quarantine,
        ApiScope::Triage,
        ApiScope::Rerun,
        ApiScope::Calibrate,
    ];

    /// Returns the scope's name, as stored and as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Quarantine => "quarantine",
            ApiScope::Triage => "triage",
            ApiScope::Rerun => "rerun",
            ApiScope::Calibrate => "calibrate",
        }
    }
}

impl fmt::Display for ApiScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiScope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ApiScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = ApiScope::ALL.iter().map(|scope| scope.as_str()).collect();
                format!(
                    "unknown API scope {text:?}: use one of {}",
                    known.join(", ")
                )
            })
    }
}

/// The holder of a valid API token and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenHolder {
    pub name: String,
    pub scopes: Vec<ApiScope>,
}

/// An error from creating a token.
#[derive(Debug, thiserror::Error)]
pub enum CreateApiTokenError {
    #[error("invalid API token name {0:?}: use 1 to 64 ASCII letters, digits, '.', '_' or '-'")]
    InvalidName(String),
    #[error("no scope given: pass at least one --scope (quarantine, triage, rerun or calibrate)")]
    NoScopes,
    #[error("an API token named {0:?} already exists: revoke it first or choose another name")]
    NameTaken(String),
    #[error("failed to read random bytes from the operating system: {0}")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a token for `name` granting `scopes` and returns it. This is the
/// only time the token exists in clear: show it once to its holder.
pub async fn create_api_token(
    executor: impl PgExecutor<'_>,
    name: &str,
    scopes: &[ApiScope],
) -> Result<SecretString, CreateApiTokenError> {
    if !secret_tokens::is_valid_name(name) {
        return Err(CreateApiTokenError::InvalidName(name.to_owned()));
    }
    if scopes.is_empty() {
        return Err(CreateApiTokenError::NoScopes);
    }
    let mut names: Vec<String> = scopes
        .iter()
        .map(|scope| scope.as_str().to_owned())
        .collect();
    names.sort();
    names.dedup();

    let token = secret_tokens::generate(TOKEN_PREFIX).map_err(CreateApiTokenError::Random)?;
    match api_tokens::insert_api_token(executor, name, &token.sha256, &names).await {
        Ok(_) => Ok(token.clear),
        Err(StoreError::Database(sqlx::Error::Database(error)))
            if error.constraint() == Some("api_tokens_name_key") =>
        {
            Err(CreateApiTokenError::NameTaken(name.to_owned()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Returns the holder of `token`, or `None` for an unknown or revoked one.
/// Scope names this server version does not know are left out.
pub async fn authenticate(
    executor: impl PgExecutor<'_>,
    token: &str,
) -> Result<Option<ApiTokenHolder>, StoreError> {
    let Some(hash) = secret_tokens::lookup_hash(token, TOKEN_PREFIX) else {
        return Ok(None);
    };
    let identity = api_tokens::find_api_token(executor, &hash).await?;
    Ok(identity.map(|identity| ApiTokenHolder {
        name: identity.name,
        scopes: identity
            .scopes
            .iter()
            .filter_map(|scope| scope.parse().ok())
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_names() {
        for scope in ApiScope::ALL {
            assert_eq!(scope.as_str().parse::<ApiScope>(), Ok(scope));
        }
        let error = "admin".parse::<ApiScope>().unwrap_err();
        assert!(
            error.contains("\"admin\"") && error.contains("triage"),
            "{error}"
        );
    }
}
