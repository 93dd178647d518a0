//! The router: every endpoint, its body limit, the security headers and
//! the request log.

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::routing::{get, post};
use axum::Router;
use pitot_runner::api::CLAIM_PATH;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;

use crate::error::AppError;
use crate::state::AppState;
use crate::{
    agent_api, api, charts, health, job_page, metrics, security_headers, web_assets, webhook,
};

/// Builds pitot's HTTP router on `state`; `pitot serve` and the tests use
/// this same function.
pub fn router(state: AppState) -> Router {
    let webhooks = Router::new()
        .route("/webhooks/github", post(webhook::receive))
        .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes));
    // The paths are those of `pitot_runner::api`.
    let agent_api = Router::new()
        .route(CLAIM_PATH, post(agent_api::claim))
        .route(
            "/api/agent/jobs/{job_id}/heartbeat",
            post(agent_api::heartbeat),
        )
        .route("/api/agent/jobs/{job_id}/report", post(agent_api::report))
        .layer(DefaultBodyLimit::max(state.config.server.max_report_bytes));

    let mut router = Router::new();
    if state.config.metrics.enabled {
        router = router.route("/metrics", get(metrics::metrics));
    }
    router
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/jobs/{job_id}", get(job_page::job_page))
        .route("/charts/jobs/{job_id}/{file}", get(charts::chart_png))
        .route("/", get(web_assets::index))
        .route("/assets/{*path}", get(web_assets::asset))
        .merge(api::routes())
        .merge(webhooks)
        .merge(agent_api)
        .fallback(not_found)
        // Layers run outside in from the last one added: the request id is
        // set first, so the log line and the response carry it.
        .layer(axum::middleware::map_response(
            security_headers::add_security_headers,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                )
                .on_body_chunk(())
                .on_eos(())
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::NotFound("no such endpoint".into())
}

/// Creates the span of the one `info` line logged per request when the
/// response is sent, with status and latency. Headers and bodies are not logged.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
