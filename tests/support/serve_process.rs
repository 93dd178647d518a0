//! Running the real `pitot serve` binary as a child process, for tests that
//! read its output or kill it.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// Returns the URL of the database behind `pool`, the one `sqlx::test`
/// created for the test.
pub async fn database_url(pool: &PgPool) -> String {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .expect("database name");
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL for sqlx::test");
    let server = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{server}/{database}")
}

/// Returns a port nothing listens on at the moment.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}

/// Builds the command for `pitot serve` on `port` with `database_url`, the
/// webhook secret `secret`, no in-process agent, and `home` as its home
/// folder. The caller adds arguments and output handling.
pub fn serve_command(database_url: &str, home: &Path, port: u16, secret: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pitot"));
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("PITOT_HOME", home)
        .env("PITOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("PITOT_IN_PROCESS_AGENT", "false")
        .env("PITOT_WEBHOOK_SECRET", secret);
    command
}

/// A server process, killed when the test ends, even on a failed assertion.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `/healthz` at `url` returns 200, for at most a minute.
pub async fn wait_until_healthy(client: &reqwest::Client, url: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(response) = client.get(format!("{url}/healthz")).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("pitot serve did not become healthy within 60 seconds");
}
