//! The `Authorization: Bearer <API token>` check of the API's writes, and
//! `GET /api/v1/token`, which returns the name and scopes of a client's token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Json;
use serde_json::{json, Value};

use crate::api_tokens::{self, ApiScope};
use crate::error::AppError;
use crate::secret_tokens::bearer_token;
use crate::state::AppState;

/// The holder of a request's API token; extracting it rejects the request
/// with 401 when the token is missing, unknown or revoked. Handlers then
/// call [`ApiCaller::require`] for the scope their write needs.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// The token's name, recorded with each change it makes.
    pub name: String,
    pub scopes: Vec<ApiScope>,
}

impl ApiCaller {
    /// Fails with 403 unless the token grants `scope`.
    pub fn require(&self, scope: ApiScope) -> Result<(), AppError> {
        if self.scopes.contains(&scope) {
            return Ok(());
        }
        Err(AppError::Forbidden(format!(
            "the API token {:?} lacks the {:?} scope: create one with `pitot api-token create NAME --scope {scope}`",
            self.name,
            scope.as_str()
        )))
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
                AppError::Unauthorized(
                    "missing API token: send Authorization: Bearer <token from `pitot api-token create`>"
                        .into(),
                )
            })?;
        let holder = api_tokens::authenticate(&state.pool, token)
            .await?
            .ok_or_else(|| {
                AppError::Unauthorized("invalid API token: it is unknown or was revoked".into())
            })?;
        Ok(ApiCaller {
            name: holder.name,
            scopes: holder.scopes,
        })
    }
}

/// `GET /api/v1/token`: the name and scopes of the request's token, so the
/// dashboard can check a token before it offers the actions it allows.
pub(super) async fn whoami(caller: ApiCaller) -> Json<Value> {
    let scopes: Vec<&str> = caller.scopes.iter().map(|scope| scope.as_str()).collect();
    Json(json!({ "name": caller.name, "scopes": scopes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_names_the_missing_scope_and_the_fix() {
        let caller = ApiCaller {
            name: "octocat".into(),
            scopes: vec![ApiScope::Triage],
        };

        assert!(caller.require(ApiScope::Triage).is_ok());
        let error = caller.require(ApiScope::Quarantine).unwrap_err();
        assert!(matches!(error, AppError::Forbidden(_)), "{error}");
        assert!(error.to_string().contains("--scope quarantine"), "{error}");
    }
}
