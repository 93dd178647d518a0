//! `pitot prune` against a real PostgreSQL server: the dry run prints
//! what would go and deletes nothing, the real run deletes it.

use std::process::{Command, Output};

use sqlx::PgPool;
use tempfile::TempDir;

/// Returns the URL of the test's own database.
async fn database_url(pool: &PgPool) -> String {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .expect("database name");
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL for sqlx::test");
    let server = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    format!("{server}/{database}")
}

async fn prune(config: &std::path::Path, database_url: &str, dry_run: bool) -> Output {
    let config = config.to_path_buf();
    let database_url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pitot"));
        command.arg("prune").arg("--config").arg(&config);
        if dry_run {
            command.arg("--dry-run");
        }
        command
            .env("DATABASE_URL", database_url)
            .env_remove("PITOT_CONFIG")
            .output()
            .expect("pitot runs")
    })
    .await
    .expect("join")
}

async fn deliveries(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM deliveries")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test]
async fn dry_run_then_prune(pool: PgPool) {
    sqlx::query(
        "INSERT INTO deliveries (delivery_id, event, outcome, received_at)
         SELECT 'old-' || n, 'ping', 'ignored', now() - interval '40 days'
         FROM generate_series(1, 3) AS n",
    )
    .execute(&pool)
    .await
    .expect("deliveries inserted");
    let folder = TempDir::new().expect("folder");
    let config = folder.path().join("pitot.toml");
    std::fs::write(
        &config,
        "[retention]\ndeliveries_days = 30\nsamples_days = 0\n",
    )
    .expect("write config");
    let url = database_url(&pool).await;

    let dry_run = prune(&config, &url, true).await;
    let after_dry_run = deliveries(&pool).await;
    let real = prune(&config, &url, false).await;

    let dry_stdout = String::from_utf8_lossy(&dry_run.stdout);
    assert!(
        dry_run.status.success(),
        "{dry_stdout} {}",
        String::from_utf8_lossy(&dry_run.stderr)
    );
    assert!(
        dry_stdout.contains("retention.deliveries_days = 30: would delete 3 webhook deliveries"),
        "{dry_stdout}"
    );
    assert!(
        dry_stdout.contains("retention.samples_days = 0: kept forever"),
        "{dry_stdout}"
    );
    assert_eq!(after_dry_run, 3, "the dry run deletes nothing");
    let stdout = String::from_utf8_lossy(&real.stdout);
    assert!(real.status.success(), "{stdout}");
    assert!(stdout.contains("deleted 3 webhook deliveries"), "{stdout}");
    assert_eq!(deliveries(&pool).await, 0);
}

#[sqlx::test]
async fn negative_days_fail_naming_the_key(pool: PgPool) {
    let folder = TempDir::new().expect("folder");
    let config = folder.path().join("pitot.toml");
    std::fs::write(&config, "[retention]\nreports_days = -3\n").expect("write config");

    let output = prune(&config, &database_url(&pool).await, true).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("retention.reports_days = -3 is negative"),
        "{stderr}"
    );
}
