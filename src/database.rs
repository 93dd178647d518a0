//! Choosing the database: the server named by `DATABASE_URL`, or else the
//! embedded default, a private PostgreSQL server under `$PITOT_HOME`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::embedded_pg::{self, EmbeddedPostgres};

/// Command-line options shared by every subcommand that uses the database.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL. Without it, pitot starts its own private
    /// PostgreSQL server in $PITOT_HOME/postgres (the embedded default).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Folder for pitot's own data, such as the embedded PostgreSQL server.
    /// Default: ~/.local/share/pitot, or /var/lib/pitot when run as root.
    #[arg(long, env = "PITOT_HOME")]
    pub pitot_home: Option<PathBuf>,

    /// Maximum number of database connections in the pool.
    #[arg(long, env = "PITOT_DATABASE_MAX_CONNECTIONS", default_value_t = 8)]
    pub max_connections: u32,
}

/// An open, migrated store, and the embedded server behind it if pitot
/// started one. Dropping it closes nothing by itself: call [`Database::close`]
/// so the pool disconnects before the embedded server stops.
pub struct Database {
    pub store: pitot_store::Store,
    pool: sqlx::PgPool,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL` or starts the embedded server, then applies migrations.
    ///
    /// Several processes may do this at once, such as server replicas
    /// starting together: sqlx's migrator holds a PostgreSQL advisory lock
    /// while it runs, so one process applies the migrations and the others
    /// wait, then find nothing left to apply.
    pub async fn open(args: &DatabaseArgs) -> anyhow::Result<Database> {
        let database = Database::connect(args, Duration::from_secs(30)).await?;
        database.store.migrate().await.context("failed to apply database migrations")?;
        Ok(database)
    }

    /// Connects to `DATABASE_URL` or starts the embedded server, without
    /// applying migrations; a connection waits at most `connect_timeout`.
    pub async fn connect(args: &DatabaseArgs, connect_timeout: Duration) -> anyhow::Result<Database> {
        let (options, embedded) = match &args.database_url {
            Some(url) => {
                let options: PgConnectOptions = url
                    .parse()
                    .context("DATABASE_URL is not a valid PostgreSQL URL (expected postgres://USER@HOST:PORT/DATABASE)")?;
                (options, None)
            }
            None => {
                let home = match &args.pitot_home {
                    Some(home) => home.clone(),
                    None => default_pitot_home()?,
                };
                let server = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&home))
                    .await
                    .context("the embedded PostgreSQL start-up task panicked")??;
                let options = PgConnectOptions::new()
                    .socket(server.socket_dir())
                    .username(embedded_pg::DATABASE_NAME)
                    .database(embedded_pg::DATABASE_NAME);
                create_embedded_database(&options).await?;
                (options, Some(server))
            }
        };
        let pool = PgPoolOptions::new()
            .max_connections(args.max_connections)
            .acquire_timeout(connect_timeout)
            .connect_with(options)
            .await
            .context("failed to connect to PostgreSQL")?;
        let store = pitot_store::Store::from_pool(pool.clone());
        Ok(Database { store, pool, embedded })
    }

    /// Returns the connection pool.
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Closes the pool, then stops the embedded server if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(server) = self.embedded {
            // Stopping waits for the server to exit, so it runs off the async runtime.
            let _ = tokio::task::spawn_blocking(move || drop(server)).await;
        }
    }
}

/// Returns `$PITOT_HOME`'s default. As root, the embedded server runs as an
/// unprivileged user who cannot enter /root, so root's data lives in /var/lib/pitot.
pub fn default_pitot_home() -> anyhow::Result<PathBuf> {
    if embedded_pg::is_root() {
        return Ok(PathBuf::from("/var/lib/pitot"));
    }
    if let Some(data_home) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data_home).join("pitot"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("neither PITOT_HOME nor HOME is set: set PITOT_HOME to a folder for pitot's data")?;
    Ok(PathBuf::from(home).join(".local/share/pitot"))
}

/// Creates the `pitot` database in a fresh embedded server; initdb only makes `postgres`.
async fn create_embedded_database(options: &PgConnectOptions) -> anyhow::Result<()> {
    let admin = options.clone().database("postgres");
    let mut connection = admin
        .connect()
        .await
        .context("failed to connect to the embedded PostgreSQL server")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(embedded_pg::DATABASE_NAME)
        .fetch_one(&mut connection)
        .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {}", embedded_pg::DATABASE_NAME))
            .execute(&mut connection)
            .await
            .context("failed to create the pitot database in the embedded server")?;
    }
    connection.close().await?;
    Ok(())
}

/// Runs `pitot migrate`: applies pending migrations and exits.
pub fn run_migrate(args: DatabaseArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async {
        let database = Database::open(&args).await?;
        database.close().await;
        println!("migrations applied");
        Ok(ExitCode::SUCCESS)
    })
}
