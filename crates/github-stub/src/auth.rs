//! Authentication as GitHub checks it: App JSON Web Tokens for minting
//! installation tokens, and installation or personal tokens for the rest.
//!
//! The JWT rules follow GitHub's "Generating a JSON Web Token (JWT) for a
//! GitHub App": RS256, `iss` the App id, `iat` not in the future, `exp` at
//! most ten minutes ahead.

use std::sync::LazyLock;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::failure::github_error;
use crate::model::User;
use crate::state::StubState;

static APP_PUBLIC_KEY: LazyLock<DecodingKey> = LazyLock::new(|| {
    DecodingKey::from_rsa_pem(include_bytes!("../testdata/app-public-key.pem"))
        .expect("the test public key is valid PEM")
});

/// The longest JWT lifetime GitHub accepts.
const MAX_JWT_LIFETIME_SECS: i64 = 10 * 60;

/// Clock drift GitHub tolerates on `iat`.
const CLOCK_DRIFT_SECS: i64 = 60;

/// An installation access token the stand-in minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub installation_id: u64,
    pub expires_at: DateTime<Utc>,
    /// Set by [`crate::GitHubStub::revoke_tokens`].
    pub revoked: bool,
}

/// The sender of a request to a repository endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// An installation token of the test App.
    Installation,
    /// The personal access token.
    User,
}

impl Caller {
    pub fn user(self) -> User {
        match self {
            Caller::Installation => User::test_app_bot(),
            Caller::User => User::test_token_user(),
        }
    }
}

/// Returns the credential in `Authorization: Bearer …` or `Authorization: token …`.
fn credential(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")).then_some(credential.trim())
}

/// Checks a token for a repository endpoint: 401 unless it is the personal
/// token or an unexpired, unrevoked installation token.
pub(crate) fn authenticate(state: &StubState, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(credential) = credential(headers) else {
        return Err(github_error(StatusCode::UNAUTHORIZED, "Requires authentication"));
    };
    if credential == crate::TEST_PERSONAL_TOKEN {
        return Ok(Caller::User);
    }
    match state.find_token(credential) {
        Some(token) if !token.revoked && token.expires_at > Utc::now() => Ok(Caller::Installation),
        _ => Err(github_error(StatusCode::UNAUTHORIZED, "Bad credentials")),
    }
}

/// Checks the App JWT sent to mint an installation token.
pub(crate) fn verify_app_jwt(headers: &HeaderMap) -> Result<(), Response> {
    let rejected = |message: &str| github_error(StatusCode::UNAUTHORIZED, message);
    let Some(jwt) = credential(headers) else {
        return Err(rejected("A JSON web token could not be decoded"));
    };

    let mut validation = Validation::new(Algorithm::RS256);
    // `iss` is checked below: GitHub accepts the App id as a number, which
    // jsonwebtoken 10 reports as a missing `iss`.
    validation.set_required_spec_claims(&["exp", "iat"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(jwt, &APP_PUBLIC_KEY, &validation)
        .map_err(|_| rejected("A JSON web token could not be decoded"))?
        .claims;

    let now = Utc::now().timestamp();
    let issuer_matches = match &claims["iss"] {
        Value::Number(number) => number.as_u64() == Some(crate::TEST_APP_ID),
        Value::String(text) => text.parse::<u64>().ok() == Some(crate::TEST_APP_ID),
        _ => false,
    };
    if !issuer_matches {
        return Err(rejected("Integration not found"));
    }
    let issued_at = claims["iat"].as_i64().unwrap_or(i64::MAX);
    if issued_at > now + CLOCK_DRIFT_SECS {
        return Err(rejected(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past",
        ));
    }
    let expires_at = claims["exp"].as_i64().unwrap_or(i64::MAX);
    if expires_at > now + MAX_JWT_LIFETIME_SECS {
        return Err(rejected("'Expiration time' claim ('exp') is too far in the future"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    fn headers_with_jwt(private_key: &str, claims: &Value) -> HeaderMap {
        let key = EncodingKey::from_rsa_pem(private_key.as_bytes()).expect("test key is valid PEM");
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("signing works");
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap(),
        );
        headers
    }

    #[test]
    fn app_jwts_are_checked_as_github_does() {
        let now = Utc::now().timestamp();
        let app = crate::TEST_APP_ID;
        let cases = [
            (
                "numeric iss",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app, "iat": now - 60, "exp": now + 540}),
                true,
            ),
            (
                "string iss",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app.to_string(), "iat": now, "exp": now + 60}),
                true,
            ),
            (
                "other app",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app + 1, "iat": now, "exp": now + 60}),
                false,
            ),
            (
                "untrusted key",
                crate::UNTRUSTED_PRIVATE_KEY,
                json!({"iss": app, "iat": now, "exp": now + 60}),
                false,
            ),
            (
                "expired",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app, "iat": now - 700, "exp": now - 10}),
                false,
            ),
            (
                "exp too far ahead",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app, "iat": now, "exp": now + 3600}),
                false,
            ),
            (
                "iat in the future",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app, "iat": now + 300, "exp": now + 500}),
                false,
            ),
            (
                "no iat",
                crate::TEST_APP_PRIVATE_KEY,
                json!({"iss": app, "exp": now + 60}),
                false,
            ),
        ];

        for (case, key, claims, accepted) in cases {
            let result = verify_app_jwt(&headers_with_jwt(key, &claims));

            assert_eq!(result.is_ok(), accepted, "{case}");
        }
    }

    #[test]
    fn missing_authorization_is_rejected() {
        let result = verify_app_jwt(&HeaderMap::new());

        assert_eq!(
            result.map_err(|response| response.status()),
            Err(StatusCode::UNAUTHORIZED)
        );
    }
}
