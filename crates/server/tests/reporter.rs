//! The reporter against the real router, a real database and the GitHub
//! stand-in: a report whose second results file cannot be stored, and an
//! old job whose comment is written only after a newer job's.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use pitot_github_stub::{Failure, GitHubStub, RequestMatch, TEST_INSTALLATION_ID};
use pitot_runner::api::report_path;
use pitot_server::reporter::report_pending;
use serde_json::{json, Value};
use sqlx::PgPool;

const REPOSITORY: &str = "Codertocat/Hello-World";
/// The pull request number of the octokit payloads.
const PR_NUMBER: u64 = 2;
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
/// parameter value contains a NUL character. The parser accepts it, because
/// the JSON text contains only the escape `\u0000`, but PostgreSQL rejects
/// the value once the ingest stores its series. The report endpoint stores
/// such a file's report as a failed attempt without it, so
/// [`replace_report_file`] puts it into a stored report.
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
    report_run_with(app, head, head_results, Vec::new()).await
}

/// Does what [`report_run`] does, with `extra` results files (`path`,
/// `content` objects) reported after the two expected ones.
async fn report_run_with(app: &TestApp, head: &str, head_results: Value, extra: Vec<Value>) -> i64 {
    report_run_files(app, head, results_json(MERGE_BASE), head_results, extra).await
}

/// Does what [`report_run_with`] does, with the merge-base's results file
/// `base_results`.
async fn report_run_files(
    app: &TestApp,
    head: &str,
    base_results: Value,
    head_results: Value,
    extra: Vec<Value>,
) -> i64 {
    let mut labeled = with_head(pull_request("labeled"), head);
    labeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    app.deliver("pull_request", &format!("label-{head}"), &labeled)
        .await;

    let agent = format!("bench-{}", &head[..7]);
    let token = app.agent_token(&agent).await;
    let job = app.claim(&token, &agent, "macos-12").await;
    assert_eq!(job["head_sha"], head, "the claimed job");

    let mut results = vec![
        json!({ "path": "macos-12/base.json", "content": base_results.to_string() }),
        json!({ "path": "macos-12/head.json", "content": head_results.to_string() }),
    ];
    results.extend(extra);
    let report = json!({
        "attempt": job["attempt"],
        "base_sha": MERGE_BASE,
        "head_sha": head,
        "machine": "macos-12",
        "results": results,
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

/// Replaces the content of results file `path` in the stored report of
/// `job_id`. Reports stored before the endpoint checked for escaped NUL
/// characters can hold files that the ingest then fails on.
async fn replace_report_file(app: &TestApp, job_id: i64, path: &str, content: &str) {
    let replaced = sqlx::query(
        "UPDATE job_report_files AS file SET content = $3 \
         FROM job_reports AS report \
         WHERE file.report_id = report.id AND report.job_id = $1 AND file.path = $2",
    )
    .bind(job_id)
    .bind(path)
    .bind(content)
    .execute(&app.pool)
    .await
    .expect("the report file updated");
    assert_eq!(replaced.rows_affected(), 1, "stored files named {path}");
}

/// Returns a job's state, error and stored comment.
async fn job_row(app: &TestApp, job_id: i64) -> (String, Option<String>, Option<String>) {
    sqlx::query_as("SELECT state, error, comment_body FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&app.pool)
        .await
        .expect("the job")
}

/// Checks the deliberate failure of the ingest: the merge-base's file is
/// valid and the head's file fails inside PostgreSQL. Neither may be
/// stored, and the job ends as a failed run that names the cause.
#[sqlx::test(migrations = "../../migrations")]
async fn failed_second_file_stores_no_run(pool: PgPool) {
    let app = TestApp::new(pool);
    let job_id = report_run(&app, FIXTURE_HEAD, results_json(FIXTURE_HEAD)).await;
    let rejected = results_rejected_by_postgres(FIXTURE_HEAD).to_string();
    replace_report_file(&app, job_id, "macos-12/head.json", &rejected).await;

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

/// Checks that results files of other commits or machines, which the pull
/// request's code could write, are left out of the stored history.
#[sqlx::test(migrations = "../../migrations")]
async fn files_of_other_commits_are_not_stored(pool: PgPool) {
    let app = TestApp::new(pool);
    let other_commit = "0123456789abcdef0123456789abcdef01234567";
    let mut other_machine = results_json(FIXTURE_HEAD);
    other_machine["params"]["machine"] = "another-machine".into();
    let extra = vec![
        json!({ "path": "macos-12/other.json", "content": results_json(other_commit).to_string() }),
        json!({ "path": "macos-12/moved.json", "content": other_machine.to_string() }),
    ];
    let job_id = report_run_with(&app, FIXTURE_HEAD, results_json(FIXTURE_HEAD), extra).await;

    let written = report_pending(&app.state).await.expect("reporter round");

    assert_eq!(written, 1);
    assert_eq!(job_row(&app, job_id).await.0, "reported");
    assert_eq!(app.count("runs").await, 2, "the base's and the head's runs only");
    let machines: Vec<String> = sqlx::query_scalar("SELECT name FROM machines")
        .fetch_all(&app.pool)
        .await
        .expect("machines");
    assert_eq!(machines, ["macos-12"]);
    let other: i64 = sqlx::query_scalar("SELECT count(*) FROM commits WHERE sha = $1")
        .bind(other_commit)
        .fetch_one(&app.pool)
        .await
        .expect("commits");
    assert_eq!(other, 0, "the other commit is not stored");
}

/// Checks that a pull request's job cannot rewrite a run stored before,
/// such as the merge-base's history run: its runner runs the pull
/// request's code, which can write any numbers into the base's file.
#[sqlx::test(migrations = "../../migrations")]
async fn pull_request_job_keeps_stored_runs(pool: PgPool) {
    let app = TestApp::new(pool);
    let first = report_run(&app, FIXTURE_HEAD, results_json(FIXTURE_HEAD)).await;
    assert_eq!(report_pending(&app.state).await.expect("first round"), 1);
    let stored_base = || async {
        sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT runs.file_sha256 FROM runs JOIN commits ON commits.id = runs.commit_id
             WHERE commits.sha = $1",
        )
        .bind(MERGE_BASE)
        .fetch_one(&app.pool)
        .await
        .expect("the merge-base's run")
    };
    let before = stored_base().await;
    let mut forged_base = results_json(MERGE_BASE);
    forged_base["date"] = (forged_base["date"].as_i64().expect("a date") + 1).into();

    let second = report_run_files(&app, NEW_HEAD, forged_base, results_json(NEW_HEAD), Vec::new()).await;
    let written = report_pending(&app.state).await.expect("second round");

    assert_eq!(written, 1);
    assert_eq!(job_row(&app, first).await.0, "reported");
    assert_eq!(job_row(&app, second).await.0, "reported");
    assert_eq!(stored_base().await, before, "the merge-base's run keeps its file");
    assert_eq!(app.count("runs").await, 3, "the base's and the two heads' runs");
}

/// Checks that an old job whose comment failed, and whose next try comes
/// after a newer job of the pull request reported, leaves the newer
/// comment alone and names the newer job on its own check run.
#[sqlx::test(migrations = "../../migrations")]
async fn older_job_leaves_newer_comment_alone(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    stub.set_branch_commits(REPOSITORY, "master", &[MERGE_BASE]);
    let old_job = report_run(&app, FIXTURE_HEAD, results_json(FIXTURE_HEAD)).await;
    stub.fail_next(
        RequestMatch::post("/repos/*/*/issues/2/comments"),
        Failure::NotFound,
        1,
    );
    assert_eq!(report_pending(&app.state).await.expect("first round"), 0);
    let new_job = report_run(&app, NEW_HEAD, results_json(NEW_HEAD)).await;
    assert_eq!(report_pending(&app.state).await.expect("second round"), 1);
    sqlx::query("UPDATE jobs SET report_after = now() WHERE id = $1")
        .bind(old_job)
        .execute(&app.pool)
        .await
        .expect("the old job is due");

    let written = report_pending(&app.state).await.expect("third round");

    assert_eq!(written, 1, "the old job is reported");
    let comments = stub.comments(REPOSITORY, PR_NUMBER);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let comment = &comments[0].body;
    assert!(
        comment.contains(&NEW_HEAD[..10]),
        "the newer head is gone:\n{comment}"
    );
    assert!(
        !comment.contains(&FIXTURE_HEAD[..10]),
        "the old head is back:\n{comment}"
    );
    let (state, _, stored) = job_row(&app, old_job).await;
    assert_eq!(state, "reported");
    assert!(
        stored.is_some_and(|body| body.contains(&FIXTURE_HEAD[..10])),
        "the old job keeps its own comment"
    );
    let check_runs = stub.check_runs(REPOSITORY);
    let old_check = check_runs
        .iter()
        .find(|run| run.head_sha == FIXTURE_HEAD)
        .expect("the old head's check run");
    assert_eq!(old_check.status, "completed");
    let summary = old_check.output.summary.clone().unwrap_or_default();
    assert!(
        summary.contains(&format!("job {new_job} for the newer head")),
        "{summary}"
    );
}

/// Delivers the labelled fixture with the stand-in's installation and
/// returns the queued job's id.
async fn queue_labelled(app: &TestApp) -> i64 {
    let mut labeled = pull_request("labeled");
    labeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    let response = app.deliver("pull_request", "d-1", &labeled).await;
    response["job_id"].as_i64().expect("a job id")
}

/// Makes the job's check run request older than the reporter's wait.
async fn age_check_run_request(app: &TestApp, job_id: i64) {
    sqlx::query("UPDATE jobs SET check_run_requested_at = now() - interval '1 hour' WHERE id = $1")
        .bind(job_id)
        .execute(&app.pool)
        .await
        .expect("the request is old");
}

/// Makes GitHub store the next check run without pitot learning it: the
/// response is lost, and so is the search that would have found the run.
fn lose_next_check_run(stub: &GitHubStub) {
    stub.fail_next(
        RequestMatch::post("/repos/*/*/check-runs"),
        Failure::BadGatewayAfterHandling,
        1,
    );
    stub.fail_next(
        RequestMatch::get(&format!("/repos/{REPOSITORY}/commits/{FIXTURE_HEAD}/check-runs")),
        Failure::NotFound,
        1,
    );
}

async fn recorded_check_run(app: &TestApp, job_id: i64) -> Option<i64> {
    sqlx::query_scalar("SELECT check_run_id FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&app.pool)
        .await
        .expect("the job")
}

/// Checks that a check run whose creation an earlier server process
/// requested, without learning whether GitHub stored it, is found on GitHub
/// by the next process instead of created a second time.
#[sqlx::test(migrations = "../../migrations")]
async fn requested_check_run_is_found_after_restart(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let first = app_with_github(pool.clone(), &stub);
    let job_id = queue_labelled(&first).await;
    let post = RequestMatch::post("/repos/*/*/check-runs");
    lose_next_check_run(&stub);
    report_pending(&first.state).await.expect("first round");
    assert_eq!(stub.check_runs(REPOSITORY).len(), 1, "GitHub stored the run");
    let restarted = app_with_github(pool, &stub);
    report_pending(&restarted.state).await.expect("round within the wait");
    assert_eq!(recorded_check_run(&restarted, job_id).await, None, "the request is still claimed");
    age_check_run_request(&restarted, job_id).await;

    report_pending(&restarted.state).await.expect("round after the wait");

    let runs = stub.check_runs(REPOSITORY);
    assert_eq!(runs.len(), 1, "no second check run");
    assert_eq!(stub.requests_matching(&post).len(), 1, "no second POST");
    assert_eq!(recorded_check_run(&restarted, job_id).await, i64::try_from(runs[0].id).ok());
}

/// Checks that two server replicas whose reporters take the same new job
/// at once create one in-progress check run between them.
#[sqlx::test(migrations = "../../migrations")]
async fn replicas_create_one_check_run(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let first = app_with_github(pool.clone(), &stub);
    let second = app_with_github(pool, &stub);
    let job_id = queue_labelled(&first).await;
    // A slow response keeps both reporters' rounds overlapping.
    let post = RequestMatch::post("/repos/*/*/check-runs");
    stub.fail_next(post.clone(), Failure::DelayAfterHandling(Duration::from_millis(500)), 1);

    let (one, two) = tokio::join!(report_pending(&first.state), report_pending(&second.state));

    one.expect("first replica's round");
    two.expect("second replica's round");
    let runs = stub.check_runs(REPOSITORY);
    assert_eq!(runs.len(), 1, "requests: {:?}", stub.requests_matching(&post).len());
    assert_eq!(recorded_check_run(&first, job_id).await, i64::try_from(runs[0].id).ok());
}

/// Checks that a job cancelled while GitHub held an in-progress check run
/// that pitot never learnt of finds that run and cancels it.
#[sqlx::test(migrations = "../../migrations")]
async fn cancelled_job_closes_the_lost_check_run(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    let job_id = queue_labelled(&app).await;
    lose_next_check_run(&stub);
    report_pending(&app.state).await.expect("round that loses the run");
    app.deliver("pull_request", "d-2", &pull_request("unlabeled"))
        .await;
    report_pending(&app.state).await.expect("round within the wait");
    assert_eq!(stub.check_runs(REPOSITORY)[0].status, "in_progress", "the request may still be under way");
    age_check_run_request(&app, job_id).await;

    report_pending(&app.state).await.expect("round after the wait");

    let runs = stub.check_runs(REPOSITORY);
    assert_eq!(runs.len(), 1, "no second check run");
    assert_eq!(runs[0].status, "completed");
    assert_eq!(runs[0].conclusion.as_deref(), Some("cancelled"));
}
