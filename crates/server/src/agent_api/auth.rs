//! The `Authorization: Bearer <agent token>` check of every agent call.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::agent_tokens;
use crate::error::AppError;
use crate::secret_tokens::bearer_token;
use crate::state::AppState;

/// The agent a request's token belongs to; extracting it rejects the
/// request with 401 when the token is missing, unknown or revoked.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The token's name, recorded as the job's agent.
    pub name: String,
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
                AppError::Unauthorized(
                    "missing agent token: send Authorization: Bearer <token>".into(),
                )
            })?;
        let identity = agent_tokens::authenticate(&state.pool, token)
            .await?
            .ok_or_else(|| {
                AppError::Unauthorized("invalid agent token: it is unknown or was revoked".into())
            })?;
        Ok(Agent {
            name: identity.name,
        })
    }
}
