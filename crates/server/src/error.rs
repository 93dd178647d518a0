//! The one error type of every handler, and how it becomes a response.
//!
//! A 4xx response names the input that was wrong so the caller can fix it.
//! A 5xx response states only that the server failed. The cause is logged
//! here, once, with the request's span, and is not sent to the client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pitot_store::StoreError;
use serde_json::json;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed; the message names the bad input.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or invalid credentials: a webhook signature, an agent
    /// token or an API token.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials that do not grant what the request needs, such as
    /// an API token without the scope a write needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the resource's state, such as a lost lease.
    #[error("{0}")]
    Conflict(String),
    /// The resource existed but was deleted on purpose, such as a report
    /// removed by data retention; the message says when and why.
    #[error("{0}")]
    Gone(String),
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The server cannot serve the request now; the message is safe to show.
    #[error("{0}")]
    Unavailable(String),
    /// A statement waited for a row lock longer than its `lock_timeout`.
    /// The response is a 503, as for [`AppError::Unavailable`].
    #[error("{LOCK_TIMEOUT}")]
    LockTimeout,
    /// Any other failure: logged, and sent to the client as a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// Returns whether the request failed because a statement waited for a
    /// row lock longer than its `lock_timeout`, also when the error was
    /// wrapped in context on the way.
    pub fn is_lock_timeout(&self) -> bool {
        match self {
            AppError::LockTimeout => true,
            AppError::Internal(error) => chain_has(error, is_lock_timeout),
            _ => false,
        }
    }

    /// Returns whether the same request would fail the same way on every
    /// try: a client error, or a database error about the data (SQLSTATE
    /// classes 22 and 23), as opposed to an outage, a lock timeout or
    /// another passing failure.
    pub fn is_permanent(&self) -> bool {
        match self {
            AppError::Internal(error) => chain_has(error, is_data_error),
            AppError::Unavailable(_) | AppError::LockTimeout => false,
            _ => true,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unavailable(_) | AppError::LockTimeout => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::InvalidCommit { .. } | StoreError::AmbiguousCommit { .. } => {
                AppError::BadRequest(error.to_string())
            }
            StoreError::NotFound { .. } => AppError::NotFound(error.to_string()),
            StoreError::Database(error) => error.into(),
            error => AppError::Internal(anyhow::Error::new(error)),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if is_outage(&error) {
            tracing::warn!(error = %error, "the database is unavailable");
            return AppError::Unavailable(DATABASE_UNAVAILABLE.into());
        }
        if is_lock_timeout(&error) {
            tracing::warn!(error = %error, "timed out waiting for a database lock");
            return AppError::LockTimeout;
        }
        AppError::Internal(anyhow::Error::new(error))
    }
}

const DATABASE_UNAVAILABLE: &str = "the database is unavailable: retry later";

const LOCK_TIMEOUT: &str =
    "timed out waiting for a database lock that another task holds: send the request again in a few seconds";

/// Returns whether `error` is PostgreSQL's `lock_not_available` (SQLSTATE
/// 55P03), which a statement raises when `lock_timeout` ran out.
fn is_lock_timeout(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.code().as_deref() == Some("55P03"))
}

/// Returns whether `error` is PostgreSQL's verdict on the data itself:
/// SQLSTATE class 22 (data exception) or 23 (integrity constraint
/// violation).
fn is_data_error(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Database(database)
            if database.code().is_some_and(|code| code.starts_with("22") || code.starts_with("23"))
    )
}

/// Returns whether `error` means the database could not be reached at all,
/// rather than that a query failed, so the caller may retry the request later.
fn is_outage(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

/// Returns whether a database error in the chain of an error wrapped in a
/// handler's `anyhow` context passes `test`.
fn chain_has(error: &anyhow::Error, test: fn(&sqlx::Error) -> bool) -> bool {
    error.chain().any(|cause| {
        let sqlx_error = cause.downcast_ref::<sqlx::Error>().or_else(|| {
            match cause.downcast_ref::<StoreError>() {
                Some(StoreError::Database(error)) => Some(error),
                _ => None,
            }
        });
        sqlx_error.is_some_and(test)
    })
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(error) = &self {
            // A 503 response makes GitHub and agents retry the request.
            if chain_has(error, is_outage) {
                tracing::warn!(error = format!("{error:#}"), "the database is unavailable");
                return AppError::Unavailable(DATABASE_UNAVAILABLE.into()).into_response();
            }
            if chain_has(error, is_lock_timeout) {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "timed out waiting for a database lock"
                );
                return AppError::LockTimeout.into_response();
            }
        }
        let status = self.status();
        let message = match &self {
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                "internal server error: see the server log".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (status, Json(json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
