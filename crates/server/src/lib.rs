//! pitot's HTTP server: the GitHub webhook endpoint, health checks, the
//! agent API and the background workers.
//!
//! Handlers stay thin: they verify, parse into domain types, call one step
//! of the store and answer. Slow work (GitHub calls, asv runs, rendering)
//! happens in workers, never on the request path.

pub mod config;
