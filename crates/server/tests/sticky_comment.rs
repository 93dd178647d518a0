//! The pull request comment that the reporter writes to, through the real
//! router, a real database and the GitHub stand-in. Anyone can copy pitot's
//! hidden marker into a comment, so the reporter must write and store the
//! id of a comment that pitot's App wrote, never a stranger's.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_github_stub::{Comment, GitHubStub, TEST_APP_BOT_LOGIN, TEST_INSTALLATION_ID};
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::reporter::report_pending;
use serde_json::json;
use sqlx::PgPool;

const REPOSITORY: &str = "Codertocat/Hello-World";
/// The pull request number of the octokit payloads.
const PR_NUMBER: u64 = 2;

/// Returns a stranger's comment that imitates pitot's: a fake result with
/// pitot's marker for the pull request.
fn fake_report() -> String {
    let marker = pitot_github::sticky_marker(REPOSITORY, PR_NUMBER);
    format!("No change. Details: https://example.invalid/phish\n\n{marker}\n")
}

/// Labels the pull request at `head_sha`, then claims its job and reports
/// a failed run as an agent does, which makes the reporter write a "run
/// failed" comment.
async fn report_failed_run(app: &TestApp, head_sha: &str) {
    let mut labeled = with_head(pull_request("labeled"), head_sha);
    labeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    app.deliver("pull_request", &format!("label-{head_sha}"), &labeled)
        .await;
    let token = app.agent_token(&format!("bench-{head_sha}")).await;
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": "bench-1", "machine": "bench-1" }),
        )
        .await;
    assert_eq!(claimed.status, StatusCode::OK, "{:?}", claimed.body);
    let job = claimed.json();
    let report = json!({
        "attempt": job["attempt"],
        "base_sha": null,
        "head_sha": head_sha,
        "machine": "bench-1",
        "results": [],
        "log": "fatal: repository not found\n",
        "outcome": "failed",
        "error": "git fetch failed",
    });
    let path = report_path(job["job_id"].as_i64().expect("a job id"));
    let stored = app.post_agent(&path, Some(&token), &report).await;
    assert_eq!(stored.status, StatusCode::OK, "{:?}", stored.body);
}

/// Checks that the pull request has the stranger's comment, unchanged,
/// and after it one comment by pitot's App, and returns pitot's comment.
#[track_caller]
fn own_comment_after(stub: &GitHubStub, stranger: u64) -> Comment {
    let comments = stub.comments(REPOSITORY, PR_NUMBER);
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert_eq!(comments[0].id, stranger);
    assert_eq!(comments[0].body, fake_report(), "the stranger's comment is unchanged");
    assert_eq!(comments[1].user.login, TEST_APP_BOT_LOGIN);
    comments[1].clone()
}

async fn stored_comment_id(app: &TestApp) -> Option<i64> {
    sqlx::query_scalar("SELECT comment_id FROM pull_requests WHERE number = $1")
        .bind(PR_NUMBER as i64)
        .fetch_one(&app.pool)
        .await
        .expect("the pull request's row")
}

#[sqlx::test(migrations = "../../migrations")]
async fn stranger_marker_comment_gets_no_report(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    let stranger = stub.seed_comments(REPOSITORY, PR_NUMBER, [fake_report()])[0];
    report_failed_run(&app, FIXTURE_HEAD).await;

    let written = report_pending(&app.state).await.expect("reporter round");

    assert_eq!(written, 1);
    let own = own_comment_after(&stub, stranger);
    assert!(own.body.contains("Benchmark run failed"), "{}", own.body);
    assert_eq!(stored_comment_id(&app).await, Some(own.id as i64));
}

#[sqlx::test(migrations = "../../migrations")]
async fn deleted_comment_is_not_replaced_by_stranger_marker(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    report_failed_run(&app, FIXTURE_HEAD).await;
    report_pending(&app.state).await.expect("first reporter round");
    let first = stored_comment_id(&app).await.expect("the first comment's id");
    // A maintainer deletes pitot's comment, and a stranger posts the marker.
    assert!(stub.delete_comment(first as u64));
    let stranger = stub.seed_comments(REPOSITORY, PR_NUMBER, [fake_report()])[0];
    report_failed_run(&app, NEW_HEAD).await;

    let written = report_pending(&app.state).await.expect("second reporter round");

    assert_eq!(written, 1);
    let own = own_comment_after(&stub, stranger);
    assert!(own.body.contains(NEW_HEAD), "{}", own.body);
    assert_eq!(stored_comment_id(&app).await, Some(own.id as i64));
}
