//! Running CPU-bound work off the async runtime.

use tracing::Instrument as _;

/// Runs `work` on tokio's blocking thread pool, inside the caller's tracing
/// span, and returns its result. A panic in `work` becomes an error.
pub async fn run_blocking<T, F>(work: F) -> anyhow::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .in_current_span()
        .await
        .map_err(|error| anyhow::anyhow!("a blocking task failed: {error}"))
}
