//! Quarantines through the real router against a real database: who may
//! set and lift them, the input checks, the history and the expiry.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_server::api_tokens::ApiScope;
use serde_json::{json, Value};
use sqlx::PgPool;

const REPO: &str = "Owner/Project";
const LIST: &str = "/api/v1/repositories/owner/project/quarantines";
const SORT: &str = "/api/v1/repositories/owner/project/quarantines/bench.Suite.time_sort";

async fn app_with_repository(pool: PgPool) -> TestApp {
    sqlx::query("INSERT INTO repositories (name) VALUES ($1)")
        .bind(REPO)
        .execute(&pool)
        .await
        .expect("repository");
    TestApp::new(pool)
}

fn noisy() -> Value {
    json!({ "kind": "noisy", "reason": "shared runner jitter" })
}

#[track_caller]
fn benchmarks(list: &Value) -> Vec<&str> {
    list["quarantines"]
        .as_array()
        .expect("a quarantines array")
        .iter()
        .map(|quarantine| quarantine["benchmark"].as_str().expect("a name"))
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn put_list_and_lift(pool: PgPool) {
    let app = app_with_repository(pool).await;
    let token = app.api_token("octocat", &[ApiScope::Quarantine]).await;

    let set = app
        .send_api("PUT", SORT, Some(&token), Some(&noisy()))
        .await;
    let listed = app.send_api("GET", LIST, None, None).await;
    let lifted = app.send_api("DELETE", SORT, Some(&token), None).await;
    let after = app.send_api("GET", LIST, None, None).await;
    let history = app
        .send_api("GET", &format!("{LIST}?all=true"), None, None)
        .await;

    assert_eq!(set.status, StatusCode::OK, "{}", set.error());
    assert_eq!(set.json()["benchmark"], "bench.Suite.time_sort");
    assert_eq!(set.json()["kind"], "noisy");
    assert_eq!(set.json()["created_by"], "octocat");
    assert_eq!(set.json()["active"], true);
    assert_eq!(listed.json()["repository"], REPO);
    assert_eq!(benchmarks(&listed.json()), ["bench.Suite.time_sort"]);
    assert_eq!(lifted.status, StatusCode::OK, "{}", lifted.error());
    assert_eq!(lifted.json()["lifted_by"], "octocat");
    assert_eq!(lifted.json()["active"], false);
    assert!(benchmarks(&after.json()).is_empty());
    let history = history.json();
    assert_eq!(benchmarks(&history), ["bench.Suite.time_sort"]);
    assert_eq!(history["quarantines"][0]["reason"], "shared runner jitter");
    assert_eq!(history["quarantines"][0]["active"], false);
}

#[sqlx::test(migrations = "../../migrations")]
async fn put_replaces_the_active_one(pool: PgPool) {
    let app = app_with_repository(pool).await;
    let token = app.api_token("octocat", &[ApiScope::Quarantine]).await;
    let ignored = json!({
        "kind": "ignored",
        "reason": "measures the disk cache",
        "expires_at": "2999-01-31T00:00:00Z",
    });

    app.send_api("PUT", SORT, Some(&token), Some(&noisy()))
        .await;
    let replaced = app
        .send_api("PUT", SORT, Some(&token), Some(&ignored))
        .await;
    let listed = app.send_api("GET", LIST, None, None).await.json();
    let history = app
        .send_api("GET", &format!("{LIST}?all=true"), None, None)
        .await
        .json();

    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.error());
    assert_eq!(listed["quarantines"].as_array().map(Vec::len), Some(1));
    assert_eq!(listed["quarantines"][0]["kind"], "ignored");
    assert_eq!(
        listed["quarantines"][0]["expires_at"],
        "2999-01-31T00:00:00Z"
    );
    assert_eq!(history["quarantines"].as_array().map(Vec::len), Some(2));
    assert_eq!(history["quarantines"][1]["kind"], "noisy");
    assert_eq!(history["quarantines"][1]["lifted_by"], "octocat");
}

#[sqlx::test(migrations = "../../migrations")]
async fn expired_quarantine_is_inactive(pool: PgPool) {
    let app = app_with_repository(pool).await;
    let token = app.api_token("octocat", &[ApiScope::Quarantine]).await;
    app.send_api("PUT", SORT, Some(&token), Some(&noisy()))
        .await;

    // The API rejects a past expiry, so the row is moved into the past.
    sqlx::query("UPDATE quarantines SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .expect("expired");
    let listed = app.send_api("GET", LIST, None, None).await.json();
    let history = app
        .send_api("GET", &format!("{LIST}?all=true"), None, None)
        .await
        .json();
    let lift = app.send_api("DELETE", SORT, Some(&token), None).await;
    let again = app
        .send_api("PUT", SORT, Some(&token), Some(&noisy()))
        .await;

    assert!(benchmarks(&listed).is_empty(), "{listed}");
    assert_eq!(history["quarantines"][0]["active"], false);
    assert_eq!(history["quarantines"][0]["lifted_at"], Value::Null);
    assert_eq!(lift.status, StatusCode::NOT_FOUND);
    assert!(
        lift.error().contains("no active quarantine"),
        "{}",
        lift.error()
    );
    assert_eq!(again.status, StatusCode::OK, "{}", again.error());
}

#[sqlx::test(migrations = "../../migrations")]
async fn writes_need_a_token_with_the_scope(pool: PgPool) {
    let app = app_with_repository(pool).await;
    let triage = app.api_token("triager", &[ApiScope::Triage]).await;

    let cases = [
        ("PUT", None, StatusCode::UNAUTHORIZED, "missing API token"),
        (
            "DELETE",
            None,
            StatusCode::UNAUTHORIZED,
            "missing API token",
        ),
        (
            "PUT",
            Some(&triage),
            StatusCode::FORBIDDEN,
            "--scope quarantine",
        ),
        (
            "DELETE",
            Some(&triage),
            StatusCode::FORBIDDEN,
            "--scope quarantine",
        ),
    ];
    for (method, token, status, message) in cases {
        let response = app
            .send_api(method, SORT, token.map(String::as_str), Some(&noisy()))
            .await;
        assert_eq!(response.status, status, "{method} with {token:?}");
        assert!(
            response.error().contains(message),
            "{method}: {}",
            response.error()
        );
    }
    assert_eq!(app.count("quarantines").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_input_names_the_value(pool: PgPool) {
    let app = app_with_repository(pool).await;
    let token = app.api_token("octocat", &[ApiScope::Quarantine]).await;
    let parameterized = "/api/v1/repositories/owner/project/quarantines/bench.time_x(10)";

    let cases = [
        (
            SORT,
            json!({ "kind": "flaky", "reason": "why" }),
            "unknown quarantine kind \"flaky\"",
        ),
        (
            SORT,
            json!({ "kind": "noisy", "reason": " " }),
            "missing reason",
        ),
        (SORT, json!({ "kind": "noisy" }), "missing field `reason`"),
        (
            SORT,
            json!({ "kind": "noisy", "reason": "x", "until": "2999-01-01" }),
            "unknown field `until`",
        ),
        (
            SORT,
            json!({ "kind": "noisy", "reason": "x", "expires_at": "2001-01-01T00:00:00Z" }),
            "is in the past",
        ),
        (
            SORT,
            json!({ "kind": "noisy", "reason": "x", "expires_at": "soon" }),
            "expires_at",
        ),
        (parameterized, noisy(), "without parameters"),
    ];
    for (path, body, message) in cases {
        let response = app.send_api("PUT", path, Some(&token), Some(&body)).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.error()
        );
        assert!(
            response.error().contains(message),
            "{body}: {}",
            response.error()
        );
    }
    assert_eq!(app.count("quarantines").await, 0, "nothing half written");
}

#[sqlx::test(migrations = "../../migrations")]
async fn unknown_repository_is_not_found(pool: PgPool) {
    let app = app_with_repository(pool).await;
    let token = app.api_token("octocat", &[ApiScope::Quarantine]).await;
    let path = "/api/v1/repositories/owner/missing/quarantines/bench.time_x";

    let put = app
        .send_api("PUT", path, Some(&token), Some(&noisy()))
        .await;
    let list = app
        .send_api(
            "GET",
            "/api/v1/repositories/owner/missing/quarantines",
            None,
            None,
        )
        .await;
    let lift = app.send_api("DELETE", SORT, Some(&token), None).await;

    assert_eq!(put.status, StatusCode::NOT_FOUND);
    assert!(put.error().contains("owner/missing"), "{}", put.error());
    assert_eq!(list.status, StatusCode::NOT_FOUND);
    assert_eq!(lift.status, StatusCode::NOT_FOUND, "nothing to lift");
}
