//! Migrations applied by several processes at once, as when server
//! replicas start together: sqlx's migrator takes a PostgreSQL advisory
//! lock, so one applies them and the others find nothing left to do.

use pitot_store::{schema_status, Store};
use sqlx::PgPool;

/// How many "replicas" migrate at once.
const REPLICAS: usize = 6;

#[sqlx::test(migrations = false)]
async fn concurrent_migrations_apply_each_once(pool: PgPool) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..REPLICAS {
        // Each task gets its own pool, as a separate process would.
        let options = pool.connect_options().as_ref().clone();
        tasks.spawn(async move {
            let replica = PgPool::connect_with(options).await.expect("connect");
            let result = Store::from_pool(replica.clone()).migrate().await;
            replica.close().await;
            result
        });
    }

    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined.expect("task") {
            failures.push(error.to_string());
        }
    }

    assert!(failures.is_empty(), "failed migrations: {failures:?}");
    let missing = schema_status::missing_migrations(&pool)
        .await
        .expect("status");
    assert!(missing.is_empty(), "{missing:?}");
    let (rows, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(rows, distinct, "a migration was recorded twice");
    let unknown = schema_status::unknown_migrations(&pool)
        .await
        .expect("status");
    assert!(unknown.is_empty(), "{unknown:?}");
}

#[sqlx::test(migrations = false)]
async fn unknown_migration_is_reported(pool: PgPool) {
    Store::from_pool(pool.clone())
        .migrate()
        .await
        .expect("migrate");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000000, 'from a newer pitot', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .expect("insert");

    let unknown = schema_status::unknown_migrations(&pool)
        .await
        .expect("status");

    assert_eq!(unknown, vec![29_991_231_000_000]);
}
