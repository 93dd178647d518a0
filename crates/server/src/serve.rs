//! Running the server with its workers until a shutdown signal.

use std::future::Future;

use tokio::net::TcpListener;

use crate::routes::router;
use crate::state::AppState;
use crate::workers::spawn_workers;

/// Serves pitot on `listener` with its background workers until
/// `shutdown_signal` completes.
///
/// On the signal the server stops accepting connections and waiting claims
/// return 204 at once. Requests in flight run to completion, the workers
/// stop, and then this function returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown_signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = spawn_workers(&state);
    let shutdown = state.shutdown.clone();
    if let Ok(address) = listener.local_addr() {
        tracing::info!(%address, "pitot server listening");
    }

    let result = axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown_signal.await;
            tracing::info!("shutting down: waiting for requests in flight");
            shutdown.cancel();
        })
        .await;

    // Also stop the workers when serving failed before any signal.
    state.shutdown.cancel();
    workers.join().await;
    tracing::info!("pitot server stopped");
    result
}
