//! `pitot check-config` against a real PostgreSQL server and the local
//! GitHub stand-in: a valid configuration passes, and each broken setting
//! fails with a line that names the value and the fix.

use std::path::Path;
use std::process::{Command, Output};

use pitot_github_stub::{GitHubStub, TEST_APP_ID, TEST_APP_PRIVATE_KEY, UNTRUSTED_PRIVATE_KEY};
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

/// Writes a configuration for the stand-in with the App key `key`, plus
/// `extra` TOML lines, and returns its folder and path.
fn write_config(stub: &GitHubStub, key: &str, extra: &str) -> (TempDir, std::path::PathBuf) {
    let folder = TempDir::new().expect("folder");
    let key_path = folder.path().join("app.pem");
    std::fs::write(&key_path, key).expect("write key");
    let config = format!(
        "{extra}\n[github]\napi_url = \"{}\"\napp_id = {TEST_APP_ID}\nprivate_key_path = \"{}\"\nwebhook_secret = \"check-config-secret\"\n",
        stub.url(),
        key_path.display()
    );
    let path = folder.path().join("pitot.toml");
    std::fs::write(&path, config).expect("write config");
    (folder, path)
}

async fn check_config(config: &Path, database_url: &str) -> Output {
    let config = config.to_path_buf();
    let database_url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_pitot"))
            .arg("check-config")
            .arg("--config")
            .arg(&config)
            .env("DATABASE_URL", database_url)
            .env_remove("PITOT_CONFIG")
            .output()
            .expect("pitot runs")
    })
    .await
    .expect("join")
}

/// Returns the printed line of `check`, such as `github`.
#[track_caller]
fn line<'o>(stdout: &'o str, check: &str) -> &'o str {
    stdout
        .lines()
        .find(|line| line.split_whitespace().nth(1) == Some(&format!("{check}:")))
        .unwrap_or_else(|| panic!("no line for {check}: {stdout}"))
}

#[sqlx::test]
async fn valid_config_passes(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let (_folder, config) = write_config(&stub, TEST_APP_PRIVATE_KEY, "");
    pitot_store::Store::from_pool(pool.clone())
        .migrate()
        .await
        .expect("migrate");

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(line(&stdout, "configuration").starts_with("ok"), "{stdout}");
    assert!(line(&stdout, "database").starts_with("ok"), "{stdout}");
    assert!(line(&stdout, "migrations").starts_with("ok"), "{stdout}");
    let github = line(&stdout, "github");
    assert!(github.starts_with("ok"), "{stdout}");
    assert!(github.contains("pitot-test"), "names the App: {github}");
    let app_calls = stub
        .requests()
        .iter()
        .filter(|request| request.path == "/app")
        .count();
    assert_eq!(app_calls, 1, "one authenticated GET /app");
}

// The root package's `sqlx::test` applies `migrations/` unless this is set.
#[sqlx::test(migrations = false)]
async fn pending_migrations_are_a_warning(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let (_folder, config) = write_config(&stub, TEST_APP_PRIVATE_KEY, "");

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let migrations = line(&stdout, "migrations");
    assert!(migrations.starts_with("warning"), "{migrations}");
    assert!(migrations.contains("pitot migrate"), "{migrations}");
    let applied: Option<i64> = sqlx::query_scalar("SELECT to_regclass('jobs')::oid::bigint")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert_eq!(applied, None, "check-config applied no migration");
}

#[sqlx::test]
async fn unknown_key_fails(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let (_folder, config) = write_config(
        &stub,
        TEST_APP_PRIVATE_KEY,
        "[server]\nlisen = \"0.0.0.0:80\"",
    );

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let configuration = line(&stdout, "configuration");
    assert!(configuration.starts_with("failed"), "{configuration}");
    assert!(
        configuration.contains("lisen"),
        "names the key: {configuration}"
    );
    assert!(
        configuration.contains("expected one of"),
        "lists the valid keys: {configuration}"
    );
    assert!(line(&stdout, "database").starts_with("skipped"), "{stdout}");
}

#[sqlx::test]
async fn unreachable_database_fails(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let (_folder, config) = write_config(&stub, TEST_APP_PRIVATE_KEY, "");
    // Port 1 on the loopback address: nothing listens there.
    let unreachable = "postgres://postgres@127.0.0.1:1/pitot";
    drop(pool);

    let output = check_config(&config, unreachable).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let database = line(&stdout, "database");
    assert!(database.starts_with("failed"), "{database}");
    assert!(
        database.contains("127.0.0.1:1"),
        "names the URL: {database}"
    );
    assert!(
        database.contains("DATABASE_URL"),
        "names the setting to fix: {database}"
    );
    assert!(
        line(&stdout, "github").starts_with("ok"),
        "GitHub is still checked: {stdout}"
    );
}

#[sqlx::test]
async fn wrong_app_key_fails(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let (folder, config) = write_config(&stub, UNTRUSTED_PRIVATE_KEY, "");

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let github = line(&stdout, "github");
    assert!(github.starts_with("failed"), "{github}");
    let key_path = folder.path().join("app.pem");
    assert!(
        github.contains(&key_path.display().to_string()),
        "names the key file: {github}"
    );
    assert!(
        github.contains(&format!("github.app_id={TEST_APP_ID}")),
        "names the App: {github}"
    );
    assert!(
        github.contains("generate a private key"),
        "says the fix: {github}"
    );
}

#[sqlx::test]
async fn key_that_is_not_pem_fails(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let (folder, config) = write_config(&stub, "not a key", "");

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let github = line(&stdout, "github");
    assert!(
        github.contains("not a valid RSA key in PEM form"),
        "{github}"
    );
    let key_path = folder.path().join("app.pem");
    assert!(
        github.contains(&key_path.display().to_string()),
        "names the key file: {github}"
    );
    assert!(
        stub.requests().is_empty(),
        "nothing sent with an unusable key"
    );
}

#[sqlx::test]
async fn actions_without_credentials_warns(pool: PgPool) {
    let folder = TempDir::new().expect("folder");
    let config = folder.path().join("pitot.toml");
    let text = "[github]\nwebhook_secret = \"check-config-secret\"\n\n[[repositories]]\nname = \"scipy/scipy\"\nbackend = \"actions\"\n\n[[repositories]]\nname = \"numpy/numpy\"\n";
    std::fs::write(&config, text).expect("write config");

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "a warning is no failure: {stdout}");
    let repositories = line(&stdout, "repositories");
    assert!(repositories.starts_with("warning"), "{repositories}");
    assert!(repositories.contains("scipy/scipy use backend = \"actions\""), "{repositories}");
    assert!(!repositories.contains("numpy/numpy"), "an agent repository is fine: {repositories}");
    assert!(repositories.contains("github.token"), "says the fix: {repositories}");
}

#[sqlx::test]
async fn actions_with_credentials_has_no_warning(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let extra = "[[repositories]]\nname = \"scipy/scipy\"\nbackend = \"actions\"\n";
    let (_folder, config) = write_config(&stub, TEST_APP_PRIVATE_KEY, extra);

    let output = check_config(&config, &database_url(&pool).await).await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("repositories:"), "{stdout}");
}
