//! `POST /webhooks/github`: GitHub webhook deliveries.
//!
//! Follows GitHub's "Validating webhook deliveries" and "Best practices for
//! using webhooks": the HMAC is checked over the raw body before anything is
//! parsed, the response is sent within GitHub's 10-second limit without
//! calling GitHub or running anything, and `X-GitHub-Delivery` makes
//! redeliveries harmless.

mod apply;
mod deferred;
mod history;
mod payload;
mod workflow_run;

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pitot_github::{verify_signature, Event, PullRequestAction};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tracing::instrument;

use crate::blocking::run_blocking;
use crate::error::AppError;
use crate::state::AppState;

pub use apply::{Recorded, DELIVERY_LOCK_TIMEOUT};
pub use deferred::{apply_deferred, run_deferred};
pub use history::MAX_QUEUED_HISTORY_JOBS;
pub(crate) use apply::{enqueue_job, job_backend};

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const DELIVERY_HEADER: &str = "x-github-delivery";
const EVENT_HEADER: &str = "x-github-event";

/// The maximum length of a delivery id or event name. GitHub sends a GUID
/// and a short snake_case word.
const MAX_HEADER_LEN: usize = 100;

/// Verifies, records and acts on one delivery, then responds `202 Accepted`.
#[instrument(skip_all, fields(delivery_id, event, repo, pr))]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let received = Instant::now();
    let mut verified_event = None;
    let result = accept(&state, &headers, body, received, &mut verified_event).await;

    // Only a verified event name becomes a label: a forged delivery could
    // otherwise add a series per made-up name.
    let event = verified_event.unwrap_or("unverified");
    let outcome = match &result {
        Ok(Recorded::Redelivery) => "redelivery",
        Ok(Recorded::New { outcome, .. }) => outcome.as_str(),
        Err(AppError::Internal(_) | AppError::Unavailable(_) | AppError::LockTimeout) => "error",
        Err(_) => "rejected",
    };
    state.metrics.count_delivery(event, outcome);

    let recorded = result?;
    Ok((StatusCode::ACCEPTED, Json(response_body(&recorded))))
}

/// Does the work of [`receive`], setting `verified_event` once the
/// signature and headers have been checked.
async fn accept<'h>(
    state: &AppState,
    headers: &'h HeaderMap,
    body: Result<Bytes, BytesRejection>,
    received: Instant,
    verified_event: &mut Option<&'h str>,
) -> Result<Recorded, AppError> {
    let body = body
        .map_err(|rejection| payload::body_error(&rejection, state.config.server.max_body_bytes))?;
    verify(state, headers, &body)?;

    let delivery_id = required_header(headers, DELIVERY_HEADER)?;
    let event_name = required_header(headers, EVENT_HEADER)?;
    *verified_event = Some(event_name);
    let span = tracing::Span::current();
    span.record("delivery_id", delivery_id);
    span.record("event", event_name);

    let payload = payload::json_bytes(headers, body)?;
    let parse_name = event_name.to_owned();
    let parse_payload = payload.clone();
    let event =
        run_blocking(move || payload::parse_event(&parse_name, &parse_payload)).await??;
    match &event {
        Event::PullRequest(pull_request) => {
            span.record("repo", pull_request.repository.full_name.as_str());
            span.record("pr", pull_request.number);
        }
        Event::Push(push) => {
            span.record("repo", push.repository.full_name.as_str());
        }
        Event::Release(release) => {
            span.record("repo", release.repository.full_name.as_str());
        }
        _ => {}
    }
    if let Event::WorkflowRun(run) = &event {
        span.record("repo", run.repository.full_name.as_str());
    }

    apply::record_delivery(state, delivery_id, event_name, &event, &payload, received).await
}

/// Checks `X-Hub-Signature-256` against the configured secret.
fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), AppError> {
    let Some(secret) = &state.config.github.webhook_secret else {
        return Err(AppError::Unavailable(
            "webhooks are disabled because no webhook secret is configured: set PITOT_WEBHOOK_SECRET".into(),
        ));
    };
    let header = match headers.get(SIGNATURE_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            AppError::Unauthorized(
                "the X-Hub-Signature-256 header is malformed: it is not ASCII".into(),
            )
        })?),
    };
    verify_signature(secret.expose_secret().as_bytes(), body, header)
        .map_err(|error| AppError::Unauthorized(error.to_string()))
}

/// Returns a header that every delivery carries, or a 400 naming it.
fn required_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, AppError> {
    let display = match name {
        DELIVERY_HEADER => "X-GitHub-Delivery",
        _ => "X-GitHub-Event",
    };
    let value = headers
        .get(name)
        .ok_or_else(|| AppError::BadRequest(format!("the {display} header is missing")))?;
    let value = value
        .to_str()
        .ok()
        .filter(|value| !value.is_empty() && value.len() <= MAX_HEADER_LEN && value.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "the {display} header is invalid: expected 1 to {MAX_HEADER_LEN} printable ASCII characters"
            ))
        })?;
    Ok(value)
}

fn response_body(recorded: &Recorded) -> Value {
    match recorded {
        Recorded::Redelivery => json!({ "outcome": "redelivery" }),
        Recorded::New { outcome, job_id } => {
            json!({ "outcome": outcome.as_str(), "job_id": job_id })
        }
    }
}

/// Returns the payload's `action` as GitHub spells it.
fn action_name(event: &Event) -> Option<&str> {
    match event {
        Event::PullRequest(pull_request) => Some(match &pull_request.action {
            PullRequestAction::Labeled { .. } => "labeled",
            PullRequestAction::Unlabeled { .. } => "unlabeled",
            PullRequestAction::Synchronize => "synchronize",
            PullRequestAction::Closed => "closed",
            PullRequestAction::Other(action) => action.as_str(),
        }),
        Event::Installation(installation) => Some(installation.action.as_str()),
        Event::IssueComment(comment) => Some(comment.action.as_str()),
        Event::WorkflowRun(run) => Some(run.action.as_str()),
        Event::Release(release) => Some(release.action.as_str()),
        Event::Push(_) => None,
        Event::Ignored { action, .. } => action.as_deref(),
        Event::Ping { .. } => None,
    }
}
