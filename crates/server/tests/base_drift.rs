//! The warning about a target branch that moved on since a run's
//! merge-base, through the real router, a real database and the GitHub
//! stand-in. A labelled pull request is claimed and reported by an agent
//! with real asv results files. The reporter then reads the branch from
//! the compare API and writes the comment and the check run.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_github_stub::{Failure, GitHubStub, RequestMatch, TEST_INSTALLATION_ID};
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::reporter::report_pending;
use serde_json::{json, Value};
use sqlx::PgPool;

const REPOSITORY: &str = "Codertocat/Hello-World";
/// The pull request number of the octokit payloads.
const PR_NUMBER: u64 = 2;
/// The target branch of the octokit payloads.
const BRANCH: &str = "master";
const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const FIXTURE: &str =
    "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json";
/// Commits that land on the target branch after the merge-base.
const LATER_COMMITS: [&str; 3] = [
    "a000000000000000000000000000000000000001",
    "a000000000000000000000000000000000000002",
    "a000000000000000000000000000000000000003",
];

fn results_json(sha: &str) -> Value {
    let text = std::fs::read_to_string(workspace_path(FIXTURE)).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    results
}

/// Queues the pull request's head by label, claims it and reports the
/// fixture's results for the merge-base and the head, as an agent does.
async fn report_run(app: &TestApp) {
    let mut labeled = pull_request("labeled");
    labeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    app.deliver("pull_request", "drift", &labeled).await;
    let token = app.agent_token("bench-1").await;
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": "bench-1", "machine": "macos-12" }),
        )
        .await;
    assert_eq!(claimed.status, StatusCode::OK, "{:?}", claimed.body);
    let job = claimed.json();
    let report = json!({
        "attempt": job["attempt"],
        "base_sha": MERGE_BASE,
        "head_sha": FIXTURE_HEAD,
        "machine": "macos-12",
        "results": [
            { "path": "macos-12/base.json", "content": results_json(MERGE_BASE).to_string() },
            { "path": "macos-12/head.json", "content": results_json(FIXTURE_HEAD).to_string() },
        ],
        "log": "asv continuous\n",
        "outcome": "completed",
    });
    let path = report_path(job["job_id"].as_i64().expect("a job id"));
    let stored = app.post_agent(&path, Some(&token), &report).await;
    assert_eq!(stored.status, StatusCode::OK, "{:?}", stored.body);
}

/// Returns the body of the pull request's only comment and the summary of
/// its check run.
#[track_caller]
fn comment_and_summary(stub: &GitHubStub) -> (String, String) {
    let comments = stub.comments(REPOSITORY, PR_NUMBER);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let check_runs = stub.check_runs(REPOSITORY);
    let check_run = check_runs.last().expect("a check run");
    let summary = check_run.output.summary.clone().unwrap_or_default();
    (comments[0].body.clone(), summary)
}

fn compare_requests(stub: &GitHubStub) -> usize {
    stub.requests_matching(&RequestMatch::get("/repos/*/*/compare/*"))
        .len()
}

#[sqlx::test(migrations = "../../migrations")]
async fn moved_branch_is_warned_about(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    let mut branch = vec![MERGE_BASE];
    branch.extend(LATER_COMMITS);
    stub.set_branch_commits(REPOSITORY, BRANCH, &branch);
    report_run(&app).await;

    report_pending(&app.state).await.expect("reporter round");

    let (comment, summary) = comment_and_summary(&stub);
    let expected = "`master` has 3 new commits since this run's base";
    assert!(comment.contains(expected), "{comment}");
    assert!(comment.contains("comment `/pitot run`"), "{comment}");
    assert!(summary.contains(expected), "{summary}");
    let requests = stub.requests_matching(&RequestMatch::get("/repos/*/*/compare/*"));
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        requests[0].path,
        format!("/repos/{REPOSITORY}/compare/{BRANCH}...{MERGE_BASE}")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn branch_at_the_base_gets_no_warning(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    stub.set_branch_commits(REPOSITORY, BRANCH, &[MERGE_BASE]);
    report_run(&app).await;

    report_pending(&app.state).await.expect("reporter round");

    let (comment, summary) = comment_and_summary(&stub);
    assert!(comment.contains("compared with base"), "{comment}");
    assert!(!comment.contains("Warning"), "{comment}");
    assert!(!summary.contains("Warning"), "{summary}");
    assert_eq!(compare_requests(&stub), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn failed_compare_call_leaves_the_warning_out(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    // The branch moved, so a second try at the call would add the warning.
    let mut branch = vec![MERGE_BASE];
    branch.extend(LATER_COMMITS);
    stub.set_branch_commits(REPOSITORY, BRANCH, &branch);
    stub.fail_next(
        RequestMatch::get("/repos/*/*/compare/*"),
        Failure::InternalServerError,
        1,
    );
    report_run(&app).await;

    let written = report_pending(&app.state).await.expect("reporter round");

    assert_eq!(written, 1, "the comment waited for the compare call");
    let (comment, summary) = comment_and_summary(&stub);
    assert!(comment.contains("compared with base"), "{comment}");
    assert!(!comment.contains("new commits"), "{comment}");
    assert!(!summary.contains("new commits"), "{summary}");
    assert_eq!(compare_requests(&stub), 1, "the compare call was retried");
}
