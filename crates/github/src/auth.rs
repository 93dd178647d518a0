//! Credentials and installation access tokens.
//!
//! A GitHub App signs a short JSON Web Token (JWT) with its private key and
//! exchanges it for an installation access token, which GitHub makes valid
//! for one hour ("Generating an installation access token for a GitHub
//! App"). The client keeps one token per installation and mints a new one a
//! margin before expiry, or when GitHub rejects the cached one with 401.
//! A personal access token is used as it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use octocrab::auth::AppAuth;
use octocrab::models::AppId;
use secrecy::{ExposeSecret, SecretString};

use crate::error::GitHubError;

/// The credentials the client authenticates to GitHub with.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A GitHub App: its numeric id and its private key in PEM form, as
    /// downloaded from the App's settings page. Needed for check runs.
    App { app_id: u64, private_key_pem: SecretString },
    /// A personal access token (classic or fine-grained). GitHub lets only
    /// Apps create check runs, so with a token the client skips them.
    Token(SecretString),
}

/// An installation access token and the expiry time GitHub returned with it.
#[derive(Clone)]
pub(crate) struct InstallationToken {
    pub secret: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// The source of each request's `Authorization` header.
pub(crate) enum Authenticator {
    Token(SecretString),
    App(AppTokens),
}

/// The App's signing key and the cached installation tokens.
pub(crate) struct AppTokens {
    app: AppAuth,
    /// One slot per installation; the async lock makes concurrent callers of
    /// one installation wait for a single mint instead of minting several.
    slots: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<Option<InstallationToken>>>>>,
}

impl AppTokens {
    /// Parses the App's private key; the error names what is wrong, never the key.
    pub fn new(app_id: u64, private_key_pem: &SecretString) -> Result<AppTokens, jsonwebtoken::errors::Error> {
        let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())?;
        Ok(AppTokens {
            app: AppAuth {
                app_id: AppId(app_id),
                key,
            },
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// Returns the App id from the configuration.
    pub fn app_id(&self) -> u64 {
        self.app.app_id.0
    }

    /// Returns a fresh App JWT (RS256, `iss` the App id, valid for about ten minutes).
    pub fn jwt(&self) -> Result<SecretString, GitHubError> {
        let jwt = self
            .app
            .generate_bearer_token()
            .map_err(|error| GitHubError::InvalidInput(format!("cannot sign the GitHub App JWT: {error}")))?;
        Ok(SecretString::from(jwt))
    }

    /// Returns the token slot of `installation_id`, creating it when new.
    pub fn slot(&self, installation_id: u64) -> Arc<tokio::sync::Mutex<Option<InstallationToken>>> {
        // The map is only touched for a moment and never across an await;
        // a panic elsewhere cannot leave it half-written.
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(installation_id).or_default().clone()
    }
}

/// Returns whether `token` is still good to send, given the refresh margin.
pub(crate) fn is_fresh(token: &InstallationToken, margin: std::time::Duration, now: DateTime<Utc>) -> bool {
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::MAX);
    now.checked_add_signed(margin)
        .is_some_and(|refresh_at| refresh_at < token.expires_at)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn token_expiring_in(seconds: i64, now: DateTime<Utc>) -> InstallationToken {
        InstallationToken {
            secret: SecretString::from("ghs_test"),
            expires_at: now + chrono::Duration::seconds(seconds),
        }
    }

    #[test]
    fn token_freshness_honours_margin() {
        let now = Utc::now();
        let margin = Duration::from_secs(300);
        let cases = [
            ("an hour left", 3600, true),
            ("just over the margin left", 301, true),
            ("exactly the margin left", 300, false),
            ("inside the margin", 120, false),
            ("expired", -5, false),
        ];

        for (case, seconds_left, expected) in cases {
            let fresh = is_fresh(&token_expiring_in(seconds_left, now), margin, now);

            assert_eq!(fresh, expected, "{case}");
        }
    }

    #[test]
    fn invalid_private_key_is_rejected() {
        let pem = SecretString::from("-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n");

        let result = AppTokens::new(1, &pem);

        assert!(result.is_err());
    }
}
