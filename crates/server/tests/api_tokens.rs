//! API tokens through the real router against a real database: who may
//! write, and the errors that tell the others how to get a token.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_server::api_tokens::{create_api_token, ApiScope, CreateApiTokenError};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../../migrations")]
async fn token_names_its_holder_and_scopes(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app
        .api_token(
            "octocat",
            &[ApiScope::Triage, ApiScope::Quarantine, ApiScope::Triage],
        )
        .await;

    let response = app
        .send_api("GET", "/api/v1/token", Some(&token), None)
        .await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.error());
    assert_eq!(
        response.json(),
        json!({ "name": "octocat", "scopes": ["quarantine", "triage"] })
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_tokens_get_401(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.api_token("octocat", &[ApiScope::Triage]).await;
    let agent_token = app.agent_token("bench-1").await;

    let missing = app.send_api("GET", "/api/v1/token", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(
        missing.error().contains("pitot api-token create"),
        "{}",
        missing.error()
    );
    assert_eq!(missing.headers["www-authenticate"], "Bearer");

    // An agent's token is not an API token, even though both are valid.
    let wrong_kind = app
        .send_api("GET", "/api/v1/token", Some(&agent_token), None)
        .await;
    assert_eq!(wrong_kind.status, StatusCode::UNAUTHORIZED);

    let mut altered = token.clone();
    altered.replace_range(
        altered.len() - 1..,
        if token.ends_with('0') { "1" } else { "0" },
    );
    let unknown = app
        .send_api("GET", "/api/v1/token", Some(&altered), None)
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(
        unknown.error().contains("unknown or was revoked"),
        "{}",
        unknown.error()
    );

    assert!(
        pitot_store::api_tokens::revoke_api_token(&app.pool, "octocat")
            .await
            .unwrap()
    );
    let revoked = app
        .send_api("GET", "/api/v1/token", Some(&token), None)
        .await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_token_requests_name_the_fix(pool: PgPool) {
    let app = TestApp::new(pool);
    app.api_token("octocat", &[ApiScope::Triage]).await;

    let duplicate = create_api_token(&app.pool, "octocat", &[ApiScope::Quarantine])
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, CreateApiTokenError::NameTaken(_)),
        "{duplicate}"
    );
    assert!(
        duplicate.to_string().contains("revoke it first"),
        "{duplicate}"
    );

    let no_scopes = create_api_token(&app.pool, "hubot", &[]).await.unwrap_err();
    assert!(
        matches!(no_scopes, CreateApiTokenError::NoScopes),
        "{no_scopes}"
    );

    let bad_name = create_api_token(&app.pool, "two words", &[ApiScope::Triage])
        .await
        .unwrap_err();
    assert!(bad_name.to_string().contains("\"two words\""), "{bad_name}");
    assert_eq!(
        app.count("api_tokens").await,
        1,
        "failed creations store nothing"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn rerun_queues_only_the_latest_finished_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.api_token("octocat", &[ApiScope::Rerun]).await;
    let triage_only = app.api_token("hubot", &[ApiScope::Triage]).await;
    let queued = app
        .deliver("pull_request", "labelled", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");
    let path = format!("/api/v1/jobs/{job_id}/rerun");

    let busy = app.send_api("POST", &path, Some(&token), None).await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(busy.error().contains("is queued"), "{}", busy.error());

    app.deliver("pull_request", "unlabelled", &pull_request("unlabeled"))
        .await;
    assert_eq!(app.jobs().await, vec![(job_id, "cancelled".to_owned())]);
    let forbidden = app.send_api("POST", &path, Some(&triage_only), None).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(
        forbidden.error().contains("\"rerun\""),
        "{}",
        forbidden.error()
    );

    let rerun = app.send_api("POST", &path, Some(&token), None).await;
    assert_eq!(rerun.status, StatusCode::ACCEPTED, "{}", rerun.error());
    assert_eq!(rerun.json(), json!({ "job_id": job_id, "state": "queued" }));
    assert_eq!(app.jobs().await, vec![(job_id, "queued".to_owned())]);

    // A newer head's job makes this one stale: running it again would
    // replace the newer results in the comment.
    let newer = app
        .deliver(
            "pull_request",
            "newer-head",
            &with_head(pull_request("labeled"), NEW_HEAD),
        )
        .await;
    let stale = app.send_api("POST", &path, Some(&token), None).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let expected = format!("run job {} again instead", newer["job_id"]);
    assert!(stale.error().contains(&expected), "{}", stale.error());

    let missing = app
        .send_api("POST", "/api/v1/jobs/999999/rerun", Some(&token), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let malformed = app
        .send_api("POST", "/api/v1/jobs/latest/rerun", Some(&token), None)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}
