//! The dashboard's JSON API under `/api/v1/`. Reading needs no login;
//! writes need an API token with the right scope (see [`auth`]).
//!
//! `openapi.json` beside this file documents every route. The router and
//! [`API_PATHS`] come from one list below, so a test can check that the
//! document covers the router. Handlers parse the path and query into
//! domain values, call one store function or the comparison, and answer
//! with JSON. Dates are RFC 3339 strings, except in a series' history,
//! whose columns carry epoch milliseconds for the chart.

mod auth;
mod calibrations;
mod compare;
mod jobs;
mod params;
mod quarantines;
mod regressions;
mod suite;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::Router;

pub use auth::ApiCaller;

use crate::state::AppState;

/// The OpenAPI 3 document of this API, written by hand.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Defines [`API_PATHS`] and [`routes`] from one list of `path =>
/// method router` entries, such as `get(handler)` or
/// `put(set).delete(lift)`, so each path is listed once with all its
/// methods.
macro_rules! api_routes {
    ($($path:literal => $methods:expr,)*) => {
        /// Every path of the API as the router declares it.
        pub const API_PATHS: &[&str] = &[$($path),*];

        /// Returns the API's routes.
        pub(crate) fn routes() -> Router<AppState> {
            Router::new()$(.route($path, $methods))*
        }
    };
}

api_routes! {
    "/api/v1/openapi.json" => get(openapi),
    "/api/v1/token" => get(auth::whoami),
    "/api/v1/repositories" => get(suite::repositories),
    "/api/v1/repositories/{owner}/{name}/benchmarks" => get(suite::overview),
    "/api/v1/repositories/{owner}/{name}/benchmarks/{benchmark}" => get(suite::benchmark),
    "/api/v1/repositories/{owner}/{name}/series/{series_id}" => get(suite::series_history),
    "/api/v1/repositories/{owner}/{name}/quarantines" => get(quarantines::list),
    "/api/v1/repositories/{owner}/{name}/quarantines/{benchmark}" =>
        put(quarantines::put).delete(quarantines::lift),
    "/api/v1/repositories/{owner}/{name}/jobs" => get(jobs::list),
    "/api/v1/repositories/{owner}/{name}/calibrations" =>
        get(calibrations::list).post(calibrations::create),
    "/api/v1/repositories/{owner}/{name}/compare" => get(compare::compare_commits),
    "/api/v1/jobs/{job_id}" => get(jobs::detail),
    "/api/v1/jobs/{job_id}/log" => get(jobs::log),
    "/api/v1/jobs/{job_id}/files/{*path}" => get(jobs::file),
    "/api/v1/jobs/{job_id}/rerun" => post(jobs::rerun),
    "/api/v1/repositories/{owner}/{name}/regressions" => get(regressions::list),
    "/api/v1/regressions/{id}" => patch(regressions::triage),
}

async fn openapi() -> Response {
    let mut response = OPENAPI_JSON.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
