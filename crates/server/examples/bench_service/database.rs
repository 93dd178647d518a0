//! The scratch database: created and migrated at the start, emptied
//! between runs, dropped at the end.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _, PgConnection, PgPool};

/// The `application_name` of the benchmark's own connections, so that
/// samples of `pg_stat_activity` can leave them out.
pub const BENCH_APPLICATION: &str = "pitot-bench";

/// A database this process created and drops.
pub struct ScratchDatabase {
    admin: PgConnectOptions,
    /// Connection options for the scratch database itself.
    pub options: PgConnectOptions,
    pub name: String,
    /// A small pool for the benchmark's own queries (counts, resets, the
    /// agent token), separate from the server's pool.
    pub pool: PgPool,
}

impl ScratchDatabase {
    /// Creates `pitot_bench_service_<pid>` next to the database of
    /// `admin_url` and applies pitot's migrations to it.
    pub async fn create(admin_url: &str) -> anyhow::Result<ScratchDatabase> {
        let admin: PgConnectOptions = admin_url.parse().with_context(|| {
            format!(
                "invalid --database-url {admin_url:?}: expected postgres://USER@HOST:PORT/DATABASE"
            )
        })?;
        let admin = admin.disable_statement_logging();
        let name = format!("pitot_bench_service_{}", std::process::id());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .with_context(|| format!("failed to connect to {admin_url}"))?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("failed to create the scratch database {name}"))?;
        conn.close().await.ok();

        let options = admin.clone().database(&name);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone().application_name(BENCH_APPLICATION))
            .await
            .with_context(|| format!("failed to connect to the scratch database {name}"))?;
        let scratch = ScratchDatabase {
            admin,
            options,
            name,
            pool,
        };
        pitot_store::Store::from_pool(scratch.pool.clone())
            .migrate()
            .await
            .context("failed to apply pitot's migrations")?;
        Ok(scratch)
    }

    /// Removes every job, delivery, pull request, repository (with its
    /// stored results) and agent token, so that each run starts empty.
    ///
    /// `results` is named on its own: it has no foreign keys (the bulk
    /// import dropped them), so `CASCADE` does not reach it, and its rows
    /// would collide with the next run's restarted run ids.
    pub async fn reset(&self) -> anyhow::Result<()> {
        sqlx::raw_sql(
            "TRUNCATE deliveries, jobs, pull_requests, repositories, agent_tokens, installations,
                      results
             RESTART IDENTITY CASCADE",
        )
        .execute(&self.pool)
        .await
        .context("failed to empty the scratch database")?;
        // No VACUUM ANALYZE here: TRUNCATE leaves the tables marked as
        // never analyzed, as on a new installation. Statistics of empty
        // tables would make PostgreSQL plan sequential scans for the
        // webhook's statements, which the pool's connections then cache.
        Ok(())
    }

    /// Returns the number of rows of `table` that match `condition`.
    pub async fn count(&self, table: &str, condition: &str) -> anyhow::Result<i64> {
        let count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {condition}"))
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("failed to count the rows of {table}"))?;
        Ok(count)
    }

    /// Returns the server's `version()`, `synchronous_commit` and `fsync`.
    pub async fn settings(&self) -> anyhow::Result<(String, String, String)> {
        let row = sqlx::query_as(
            "SELECT version(), current_setting('synchronous_commit'), current_setting('fsync')",
        )
        .fetch_one(&self.pool)
        .await
        .context("failed to read the server's settings")?;
        Ok(row)
    }

    /// Drops the database and closes any connection left open. A failure
    /// is printed instead of returned, because the measurements are done.
    pub async fn drop_database(self) {
        self.pool.close().await;
        let result = async {
            let mut conn = PgConnection::connect_with(&self.admin).await?;
            sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await?;
            conn.close().await
        }
        .await;
        if let Err(error) = result {
            eprintln!(
                "failed to drop the scratch database {}: {error}; drop it with DROP DATABASE {} WITH (FORCE)",
                self.name, self.name
            );
        }
    }
}

/// The settings of a pool for the server or the transaction measurement.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// Whether the pool pings a connection each time it is acquired, as
    /// sqlx 0.8 does by default (`test_before_acquire`).
    pub ping_on_acquire: bool,
}

/// Opens a pool on `options` with `settings` and the acquire timeout that
/// `pitot serve` uses.
pub async fn open_server_pool(
    options: PgConnectOptions,
    settings: PoolSettings,
) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .test_before_acquire(settings.ping_on_acquire)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .context("failed to open the server's pool")
}
