//! The in-memory cache of commit hashes: order, repeated ids, ids it has
//! not seen, unknown ids and the bound on its size.

use pitot_store::commit_shas::CommitShas;
use pitot_store::StoreError;
use sqlx::PgPool;

/// Stores `count` commits of one repository and returns their ids and
/// hashes, in insertion order.
async fn commits(pool: &PgPool, count: i64) -> Vec<(i64, String)> {
    let repository: i32 =
        sqlx::query_scalar("INSERT INTO repositories (name) VALUES ('o/r') RETURNING id")
            .fetch_one(pool)
            .await
            .expect("repository");
    sqlx::query_as(
        "INSERT INTO commits (repository_id, sha)
         SELECT $1, lpad(to_hex(i), 40, 'a') FROM generate_series(1, $2) AS i
         RETURNING id, sha",
    )
    .bind(repository)
    .bind(count)
    .fetch_all(pool)
    .await
    .expect("commits")
}

#[sqlx::test(migrations = "../../migrations")]
async fn resolves_in_order_reading_each_id_once(pool: PgPool) {
    let stored = commits(&pool, 3).await;
    let cache = CommitShas::default();
    let (first, second, third) = (&stored[0], &stored[1], &stored[2]);

    let shas = cache
        .resolve(&pool, &[third.0, first.0, third.0])
        .await
        .expect("resolve");
    assert_eq!(shas, [third.1.as_str(), &first.1, &third.1]);
    assert_eq!(cache.len(), 2, "a repeated id is one entry");

    // Hashes in the cache need no query: after the rows are deleted, the
    // result is the same.
    sqlx::query("DELETE FROM commits")
        .execute(&pool)
        .await
        .expect("delete");
    let shas = cache
        .resolve(&pool, &[first.0, third.0])
        .await
        .expect("cached");
    assert_eq!(shas, [first.1.as_str(), &third.1]);

    let error = cache
        .resolve(&pool, &[first.0, second.0])
        .await
        .expect_err("the second commit was never read and is gone");
    assert!(
        matches!(&error, StoreError::NotFound { what: "commit", value } if *value == format!("id {}", second.0)),
        "{error:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn starts_again_when_full(pool: PgPool) {
    let stored = commits(&pool, 5).await;
    let ids: Vec<i64> = stored.iter().map(|(id, _)| *id).collect();
    let cache = CommitShas::with_capacity(3);

    cache.resolve(&pool, &ids[..3]).await.expect("first three");
    assert_eq!(cache.len(), 3);
    let shas = cache.resolve(&pool, &ids[2..]).await.expect("last three");
    assert_eq!(shas, [stored[2].1.as_str(), &stored[3].1, &stored[4].1]);
    assert_eq!(cache.len(), 2, "the full cache was emptied before the two new hashes went in");
}
