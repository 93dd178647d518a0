//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve
//! because the database responds and has every migration of this build).

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use pitot_store::schema_status;
use serde_json::{json, Value};

use crate::error::AppError;
use crate::state::AppState;

/// Responds 200 while the process runs; it checks nothing else, so an
/// orchestrator restarts the process only when it is truly stuck.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// How long the readiness check waits for the database. Probes time out
/// after a second or a few, and a probe without a response is less informative than a 503.
const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// Responds 200 when the database is reachable and fully migrated, else 503
/// with the reason.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let check = schema_status::missing_migrations(&state.pool);
    let missing = match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(missing)) => missing,
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness check failed to query the database");
            return Err(AppError::Unavailable("the database is unreachable".into()));
        }
        Err(_) => {
            tracing::warn!("readiness check timed out waiting for the database");
            return Err(AppError::Unavailable(format!(
                "the database did not respond within {} s",
                READY_TIMEOUT.as_secs()
            )));
        }
    };
    if let Some(first) = missing.first() {
        return Err(AppError::Unavailable(format!(
            "the database lacks {} migration(s), starting with {} ({}): run `pitot migrate`",
            missing.len(),
            first.version,
            first.description
        )));
    }
    Ok(Json(json!({ "status": "ready" })))
}
