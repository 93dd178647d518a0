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
async fn missing_unknown_and_revoked_tokens_are_refused(pool: PgPool) {
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

    let taken = create_api_token(&app.pool, "octocat", &[ApiScope::Quarantine])
        .await
        .unwrap_err();
    assert!(
        matches!(taken, CreateApiTokenError::NameTaken(_)),
        "{taken}"
    );
    assert!(taken.to_string().contains("revoke it first"), "{taken}");

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
