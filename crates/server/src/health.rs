//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve
//! because the database responds and has every migration of this build).

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

/// Responds 200 when the database is reachable and fully migrated, else 503
/// with the reason.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    let missing = schema_status::missing_migrations(&state.pool)
        .await
        .map_err(|error| {
            tracing::warn!(error = %error, "readiness check failed to query the database");
            AppError::Unavailable("the database is unreachable".into())
        })?;
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
