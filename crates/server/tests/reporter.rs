//! The reporter against the real router and a real database: a report
//! whose second results file cannot be stored.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_github_stub::TEST_INSTALLATION_ID;
use pitot_runner::api::report_path;
use pitot_server::reporter::report_pending;
use serde_json::{json, Value};
use sqlx::PgPool;

const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const FIXTURE: &str =
    "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json";

/// Returns the fixture's results file as measured at commit `sha`.
fn results_json(sha: &str) -> Value {
    let text = std::fs::read_to_string(workspace_path(FIXTURE)).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    results
}

/// Returns the fixture's results at `sha` with one more benchmark, whose
/// parameter value holds a NUL character. The report's checks and the
/// parser accept it, because the JSON text only holds the escape `\u0000`,
/// but PostgreSQL rejects the value once the ingest stores its series.
fn results_rejected_by_postgres(sha: &str) -> Value {
    let mut results = results_json(sha);
    results["results"]["bad.Nul.time_nul"] =
        json!([[1.0], [["'a\u{0}b'"]], "v1", 1655173899469_i64, 1.0]);
    results
}

/// Queues `head` of the pull request by label, claims its job and reports
/// the merge-base's and the head's results files, in that order, as an
/// agent does. Returns the job's id.
async fn report_run(app: &TestApp, head: &str, head_results: Value) -> i64 {
    let mut labeled = with_head(pull_request("labeled"), head);
    labeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    app.deliver("pull_request", &format!("label-{head}"), &labeled)
        .await;
    let agent = format!("bench-{}", &head[..7]);
    let token = app.agent_token(&agent).await;
    let job = app.claim(&token, &agent, "macos-12").await;
    assert_eq!(job["head_sha"], head, "the claimed job");
    let report = json!({
        "attempt": job["attempt"],
        "base_sha": MERGE_BASE,
        "head_sha": head,
        "machine": "macos-12",
        "results": [
            { "path": "macos-12/base.json", "content": results_json(MERGE_BASE).to_string() },
            { "path": "macos-12/head.json", "content": head_results.to_string() },
        ],
        "log": "asv continuous\n",
        "outcome": "completed",
    });
    let job_id = job["job_id"].as_i64().expect("a job id");
    let stored = app
        .post_agent(&report_path(job_id), Some(&token), &report)
        .await;
    assert_eq!(stored.status, StatusCode::OK, "{:?}", stored.body);
    job_id
}

/// Returns a job's state, error and stored comment.
async fn job_row(app: &TestApp, job_id: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT state, error, comment_body FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&app.pool)
        .await
        .expect("the job")
}

/// The deliberate failure of the ingest: the merge-base's file is valid
/// and the head's file fails inside PostgreSQL. Neither may be stored, and
/// the job ends as a failed run that names the cause.
#[sqlx::test(migrations = "../../migrations")]
async fn failed_second_file_stores_no_run(pool: PgPool) {
    let app = TestApp::new(pool);
    let job_id = report_run(
        &app,
        FIXTURE_HEAD,
        results_rejected_by_postgres(FIXTURE_HEAD),
    )
    .await;

    let written = report_pending(&app.state).await.expect("reporter round");

    assert_eq!(written, 1);
    assert_eq!(
        app.count("runs").await,
        0,
        "a run of the first file was stored"
    );
    assert_eq!(app.count("results").await, 0);
    assert_eq!(app.count("commits").await, 0);
    assert_eq!(app.count("benchmarks").await, 0);
    let (state, error, comment) = job_row(&app, job_id).await;
    assert_eq!(state, "failed");
    let error = error.unwrap_or_default();
    assert!(
        error.contains("failed to store the results files"),
        "{error}"
    );
    assert!(
        error.contains(FIXTURE_HEAD),
        "the error names the commits: {error}"
    );
    let comment = comment.unwrap_or_default();
    assert!(comment.contains("Benchmark run failed"), "{comment}");
}
