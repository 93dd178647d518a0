//! pitot's HTTP server: the GitHub webhook endpoint, health checks, the
//! agent API, the chart images, the dashboard with its JSON API, and the
//! background workers.
//!
//! Handlers stay thin: they verify, parse into domain types, call one step
//! of the store and answer. Slow work (GitHub calls, asv runs) happens in
//! workers, never on the request path. Chart images are drawn when they are
//! requested, on the blocking thread pool (`blocking::run_blocking`), and
//! cached by clients under URLs that change with their content.
//!
//! Handlers return [`AppError`]; workers and start-up code use `anyhow`.
//! This crate depends on `pitot-store` for SQL, `pitot-github` for webhook
//! verification and events, and `pitot-runner` only for the agent API types.

pub mod actions;
pub mod agent_tokens;
pub mod api_tokens;
pub mod api;
pub mod calibrations;
pub mod commands;
pub mod comparison_cache;
pub mod change_points;
mod commit_reports;
mod confirmation;
pub mod config;
mod job_page;
pub mod nightly;
pub mod quarantines;
pub mod releases;
pub mod reporter;
pub mod retention;
pub mod service;
pub mod workers;

mod agent_api;
mod base_drift;
mod blocking;
mod charts;
mod error;
mod health;
mod job_comparison;
mod job_report_store;
mod metrics;
mod noise_thresholds;
mod queue_events;
mod repository_ids;
mod routes;
mod secret_tokens;
mod security_headers;
mod serve;
mod web_assets;
mod state;
mod webhook;

pub use error::AppError;
pub use metrics::Metrics;
pub use queue_events::{JobAnnouncer, QueueEvents};
pub use routes::router;
pub use serve::serve;
pub use state::AppState;
pub use webhook::{apply_deferred, DELIVERY_LOCK_TIMEOUT, MAX_QUEUED_HISTORY_JOBS};
