//! Reading a delivery's body: the size limit, the two content types GitHub
//! sends, and the JSON.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, StatusCode};
use pitot_github::Event;

use crate::error::AppError;

/// Maps a failure to read the body to a response: 413 over the limit.
pub fn body_error(rejection: &BytesRejection, limit: usize) -> AppError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge { limit }
    } else {
        AppError::BadRequest(format!("failed to read the request body: {rejection}"))
    }
}

/// Returns the JSON document of a delivery.
///
/// A webhook set to `application/x-www-form-urlencoded` sends the JSON in
/// the `payload` form field. The signature covers the form body as sent,
/// which is why it is checked before this runs.
pub fn json_bytes(headers: &HeaderMap, body: Bytes) -> Result<Bytes, AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        // GitHub always sends a content type; a bare POST is taken as JSON.
        None | Some("application/json") => Ok(body),
        Some("application/x-www-form-urlencoded") => form_payload(&body),
        Some(other) => Err(AppError::UnsupportedMediaType(format!(
            "unsupported Content-Type {other:?}: expected application/json or application/x-www-form-urlencoded"
        ))),
    }
}

fn form_payload(body: &[u8]) -> Result<Bytes, AppError> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| Bytes::from(value.into_owned()))
        .ok_or_else(|| AppError::BadRequest("the form-encoded body has no payload field".into()))
}

/// Parses the delivery as the event its header names. Any malformed JSON is
/// a 400, also for events pitot ignores, so a broken sender is noticed.
///
/// The payload is read once when it parses as the event: serde_json reads
/// the whole document for that, skipped fields included, so a payload that
/// parses is valid JSON. It is read a second time in two cases. An ignored
/// event's parse drops its errors. A failed parse's message must tell a
/// malformed document from one of the wrong shape.
pub fn parse_event(event_name: &str, payload: &[u8]) -> Result<Event, AppError> {
    let parsed = Event::parse(event_name, payload);
    if matches!(parsed, Ok(Event::Ignored { .. }) | Err(_)) {
        serde_json::from_slice::<serde::de::IgnoredAny>(payload).map_err(|error| {
            AppError::BadRequest(format!(
                "the {event_name} payload is not valid JSON: {error}"
            ))
        })?;
    }
    parsed.map_err(|error| AppError::BadRequest(error.to_string()))
}
