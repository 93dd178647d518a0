//! The agent API (claim, heartbeat, report) against the real router and a
//! real database.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use pitot_runner::api::{heartbeat_path, report_path, CLAIM_PATH};
use pitot_server::workers::{expire_leases, spawn_workers};
use pitot_store::job_reports;
use pitot_store::jobs::{self, JobState};
use serde_json::{json, Value};
use sqlx::PgPool;

const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

fn claim_body() -> Value {
    json!({ "agent": "bench-1", "machine": "ubuntu-latest" })
}

/// Queues a job for the fixture's head and returns its id.
async fn queue_job(app: &TestApp) -> i64 {
    let response = app
        .deliver("pull_request", "queue", &pull_request("labeled"))
        .await;
    response["job_id"].as_i64().expect("a job id")
}

/// Claims a job with `token` and returns the response body.
async fn claim(app: &TestApp, token: &str) -> Value {
    let response = app.post_agent(CLAIM_PATH, Some(token), &claim_body()).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

/// Sends a claim with `token` in its own task, which returns the status
/// and when the response arrived.
fn spawn_claim(app: &TestApp, token: String) -> tokio::task::JoinHandle<(StatusCode, Instant)> {
    let router = app.router.clone();
    tokio::spawn(async move {
        let request = axum::http::Request::post(CLAIM_PATH)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(claim_body().to_string()))
            .expect("a valid request");
        let response = tower::ServiceExt::oneshot(router, request)
            .await
            .expect("the router answers");
        (response.status(), Instant::now())
    })
}

async fn load(app: &TestApp, job_id: i64) -> jobs::Job {
    jobs::load_job(&app.pool, job_id)
        .await
        .expect("the job query succeeds")
        .expect("the job exists")
}

fn results_file(name: &str) -> String {
    let path = workspace_path("tests/fixtures/asv/django-asv/results/ubuntu-latest").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

fn report_body(attempt: i64) -> Value {
    let benchmarks_json = workspace_path("tests/fixtures/asv/example_results/benchmarks.json");
    json!({
        "attempt": attempt,
        "base_sha": MERGE_BASE,
        "head_sha": FIXTURE_HEAD,
        "machine": "ubuntu-latest",
        "benchmarks_json": std::fs::read_to_string(benchmarks_json).expect("the benchmarks.json fixture is readable"),
        "results": [
            { "path": "ubuntu-latest/machine.json", "content": results_file("machine.json") },
            { "path": "ubuntu-latest/66e47ac6-conda-py3.8.json", "content": results_file("66e47ac6-conda-py3.8.json") },
        ],
        "log": "· Fetching refs/pull/2/head\n· Running asv continuous\n",
        "outcome": "completed",
    })
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_tokens_are_401(pool: PgPool) {
    let app = TestApp::new(pool);
    let revoked = app.agent_token("old-agent").await;
    pitot_store::agent_tokens::revoke_agent_token(&app.pool, "old-agent")
        .await
        .unwrap();
    let unknown = format!("pitot_{}", "0".repeat(64));
    let cases: [(&str, Option<&str>); 4] = [
        ("no token", None),
        ("not a pitot token", Some("hunter2")),
        ("unknown token", Some(&unknown)),
        ("revoked token", Some(&revoked)),
    ];
    let paths = [CLAIM_PATH.to_string(), heartbeat_path(1), report_path(1)];

    for (case, token) in cases {
        for path in &paths {
            let response = app.post_agent(path, token, &claim_body()).await;

            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "{case} on {path}"
            );
            assert_eq!(
                response.headers["www-authenticate"], "Bearer",
                "{case} on {path}"
            );
            assert!(
                response.error().contains("agent token"),
                "{case} on {path}: {}",
                response.error()
            );
        }
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn claim_returns_queued_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;

    let claimed = claim(&app, &token).await;

    assert_eq!(claimed["job_id"], job_id);
    assert_eq!(claimed["attempt"], 1);
    assert_eq!(claimed["repository"], "Codertocat/Hello-World");
    assert_eq!(claimed["head_sha"], FIXTURE_HEAD);
    assert_eq!(claimed["base_ref"], "master");
    assert_eq!(claimed["pr_number"], 2);
    assert_eq!(claimed["head_fetch_ref"], "refs/pull/2/head");
    assert_eq!(claimed["lease_seconds"], 120);
    assert_eq!(claimed["asv"]["timeout_seconds"], 3600);
    let job = load(&app, job_id).await;
    assert_eq!(job.state, JobState::Running);
    assert_eq!(job.agent.as_deref(), Some("bench-1"));
    assert_eq!(job.machine.as_deref(), Some("ubuntu-latest"));
    assert!(job.lease_expires_at.is_some());
    assert!(job.started_at.is_some());
}

#[sqlx::test(migrations = "../../migrations")]
async fn empty_queue_is_204_after_the_wait(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_millis(500)
    });
    let token = app.agent_token("bench-1").await;
    let started = Instant::now();

    let response = app
        .post_agent(CLAIM_PATH, Some(&token), &claim_body())
        .await;

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "returned before the wait: {:?}",
        started.elapsed()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn waiting_claim_wakes_on_enqueue(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_secs(25)
    });
    let workers = spawn_workers(&app.state);
    app.wait_for_listener().await;
    let token = app.agent_token("bench-1").await;
    let waiting = spawn_claim(&app, token);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let job_id = queue_job(&app).await;
    let queued_at = Instant::now();
    let (status, answered_at) = waiting.await.unwrap();

    assert_eq!(status, StatusCode::OK);
    // Claims also look at the queue every 5 seconds, so a response within 3
    // seconds shows the notification woke it, far inside the 25-second wait.
    let delay = answered_at.saturating_duration_since(queued_at);
    assert!(
        delay < Duration::from_secs(3),
        "the claim took {delay:?} after the job was queued"
    );
    assert_eq!(load(&app, job_id).await.state, JobState::Running);
    app.state.shutdown.cancel();
    workers.join().await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn claim_looks_again_when_a_queued_job_was_locked(pool: PgPool) {
    // The wait is shorter than the 5-second recheck, so without a quick
    // second look a claim that skipped the locked row would return 204.
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_secs(2)
    });
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    // Another transaction locks the queued job's row, as the reporter does
    // while it writes a check run's id. Its commit sends no notification.
    let mut holder = app.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT id FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(job_id)
        .execute(&mut *holder)
        .await
        .expect("the row is locked");
    let waiting = spawn_claim(&app, token);
    tokio::time::sleep(Duration::from_millis(30)).await;

    holder.commit().await.expect("the lock is released");
    let (status, _) = waiting.await.unwrap();

    assert_eq!(status, StatusCode::OK, "the claim missed the job it skipped");
    assert_eq!(load(&app, job_id).await.state, JobState::Running);
}

#[sqlx::test(migrations = "../../migrations")]
async fn concurrent_claims_take_distinct_jobs(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_millis(300)
    });
    let token = app.agent_token("bench-1").await;
    app.deliver("pull_request", "d-1", &pull_request("labeled"))
        .await;
    let mut other_pr = pull_request("labeled");
    other_pr["number"] = 3.into();
    other_pr["pull_request"]["number"] = 3.into();
    app.deliver("pull_request", "d-2", &other_pr).await;

    let body = claim_body();

    let (first, second, third) = tokio::join!(
        app.post_agent(CLAIM_PATH, Some(&token), &body),
        app.post_agent(CLAIM_PATH, Some(&token), &body),
        app.post_agent(CLAIM_PATH, Some(&token), &body),
    );

    let mut statuses = [first.status, second.status, third.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::OK, StatusCode::NO_CONTENT]
    );
    let ids: Vec<i64> = [first, second, third]
        .iter()
        .filter(|response| response.status == StatusCode::OK)
        .map(|response| response.json()["job_id"].as_i64().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn heartbeat_renews_lease(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    let before = load(&app, job_id).await.lease_expires_at.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let response = app
        .post_agent(
            &heartbeat_path(job_id),
            Some(&token),
            &json!({ "attempt": 1, "phase": "benchmarking", "base_sha": MERGE_BASE }),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.error());
    assert_eq!(response.json(), json!({ "cancelled": false }));
    let job = load(&app, job_id).await;
    assert!(
        job.lease_expires_at.unwrap() > before,
        "the lease was not extended"
    );
    assert_eq!(job.base_sha.as_deref(), Some(MERGE_BASE));
}

#[sqlx::test(migrations = "../../migrations")]
async fn heartbeat_reports_cancellation(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    app.deliver("pull_request", "d-unlabel", &pull_request("unlabeled"))
        .await;

    let response = app
        .post_agent(
            &heartbeat_path(job_id),
            Some(&token),
            &json!({ "attempt": 1, "phase": "benchmarking" }),
        )
        .await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json(), json!({ "cancelled": true }));
    assert_eq!(load(&app, job_id).await.state, JobState::Cancelled);
}

#[sqlx::test(migrations = "../../migrations")]
async fn heartbeat_without_the_lease_is_409(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let other = app.agent_token("bench-2").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    let cases = [
        ("earlier attempt", &token, 0),
        ("later attempt", &token, 2),
        ("another agent's token", &other, 1),
    ];

    for (case, token, attempt) in cases {
        let response = app
            .post_agent(
                &heartbeat_path(job_id),
                Some(token),
                &json!({ "attempt": attempt, "phase": "fetching" }),
            )
            .await;

        assert_eq!(response.status, StatusCode::CONFLICT, "case: {case}");
        assert!(
            response.error().contains("lease"),
            "case {case}: {}",
            response.error()
        );
    }
    let missing = app
        .post_agent(
            &heartbeat_path(999),
            Some(&token),
            &json!({ "attempt": 1, "phase": "fetching" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../../migrations")]
async fn expired_lease_requeues_with_next_attempt(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.jobs.lease = Duration::from_secs(1));
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let expired = expire_leases(&app.state).await.unwrap();

    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].state, JobState::Queued);
    let job = load(&app, job_id).await;
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.lease_expires_at, None);
    let again = claim(&app, &token).await;
    assert_eq!(again["job_id"], job_id);
    assert_eq!(again["attempt"], 2);
    let stale = app
        .post_agent(
            &heartbeat_path(job_id),
            Some(&token),
            &json!({ "attempt": 1, "phase": "benchmarking" }),
        )
        .await;
    assert_eq!(
        stale.status,
        StatusCode::CONFLICT,
        "the first attempt's lease is gone"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn live_lease_does_not_expire(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;

    let expired = expire_leases(&app.state).await.unwrap();

    assert!(expired.is_empty(), "{expired:?}");
    assert_eq!(load(&app, job_id).await.state, JobState::Running);
}

#[sqlx::test(migrations = "../../migrations")]
async fn last_expired_attempt_fails_job(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.lease = Duration::from_secs(1);
        config.jobs.max_attempts = 2;
    });
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;

    for _ in 0..2 {
        claim(&app, &token).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        expire_leases(&app.state).await.unwrap();
    }

    let job = load(&app, job_id).await;
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempt, 2);
    let error = job.error.unwrap_or_default();
    assert!(error.contains("no attempts left"), "{error}");
    assert!(error.contains("bench-1"), "{error}");
    assert!(job.finished_at.is_some());
    let claimed = app
        .post_agent(CLAIM_PATH, Some(&token), &claim_body())
        .await;
    assert_eq!(
        claimed.status,
        StatusCode::NO_CONTENT,
        "a failed job is not handed out"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn requeued_job_gets_fresh_attempts(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.lease = Duration::from_secs(1);
        config.jobs.max_attempts = 1;
    });
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expire_leases(&app.state).await.unwrap();
    assert_eq!(load(&app, job_id).await.state, JobState::Failed);

    app.deliver("pull_request", "d-again", &pull_request("labeled"))
        .await;
    let claimed = claim(&app, &token).await;

    assert_eq!(claimed["job_id"], job_id);
    assert_eq!(
        claimed["attempt"], 2,
        "attempt numbers keep rising across runs"
    );
    assert_eq!(load(&app, job_id).await.attempt_limit, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_stores_files_and_log(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    let body = report_body(1);

    let response = app
        .post_agent(&report_path(job_id), Some(&token), &body)
        .await;

    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let job = load(&app, job_id).await;
    assert_eq!(job.state, JobState::Ingesting);
    assert_eq!(job.base_sha.as_deref(), Some(MERGE_BASE));
    assert_eq!(job.lease_expires_at, None);
    let report = job_reports::latest_job_report(&app.pool, job_id)
        .await
        .unwrap()
        .expect("a stored report");
    assert_eq!(report.attempt, 1);
    assert_eq!(report.outcome, "completed");
    assert_eq!(report.log, body["log"].as_str().unwrap());
    assert_eq!(
        report.benchmarks_json.as_deref(),
        body["benchmarks_json"].as_str()
    );
    let files = job_reports::load_report_files(&app.pool, report.id)
        .await
        .unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].path, "ubuntu-latest/66e47ac6-conda-py3.8.json");
    assert_eq!(
        files[0].content,
        results_file("66e47ac6-conda-py3.8.json"),
        "stored byte for byte"
    );
    assert_eq!(files[1].content, results_file("machine.json"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn repeated_report_is_accepted_once(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    app.post_agent(&report_path(job_id), Some(&token), &report_body(1))
        .await;

    let again = app
        .post_agent(&report_path(job_id), Some(&token), &report_body(1))
        .await;

    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["stored"], false);
    assert_eq!(app.count("job_reports").await, 1);
    assert_eq!(app.count("job_report_files").await, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn failed_report_records_the_error(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    let mut body = report_body(1);
    body["outcome"] = "failed".into();
    body["base_sha"] = Value::Null;
    body["results"] = json!([]);
    body["error"] = "git fetch failed: repository not found".into();

    let response = app
        .post_agent(&report_path(job_id), Some(&token), &body)
        .await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.error());
    let job = load(&app, job_id).await;
    assert_eq!(
        job.state,
        JobState::Ingesting,
        "the pipeline reports the failure"
    );
    assert_eq!(
        job.error.as_deref(),
        Some("git fetch failed: repository not found")
    );
    let report = job_reports::latest_job_report(&app.pool, job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.outcome, "failed");
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_without_the_lease_is_409(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.jobs.lease = Duration::from_secs(1));
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    expire_leases(&app.state).await.unwrap();

    let response = app
        .post_agent(&report_path(job_id), Some(&token), &report_body(1))
        .await;

    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(app.count("job_reports").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_for_cancelled_job_is_409(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    app.deliver("pull_request", "d-close", &pull_request("closed"))
        .await;

    let response = app
        .post_agent(&report_path(job_id), Some(&token), &report_body(1))
        .await;

    assert_eq!(response.status, StatusCode::CONFLICT);
    assert!(
        response.error().contains("cancelled"),
        "{}",
        response.error()
    );
    assert_eq!(app.count("job_reports").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn invalid_reports_are_400(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    let file = |path: &str| json!({ "path": path, "content": "{}" });
    let cases: [(&str, &str, Value, &str); 8] = [
        (
            "path leaves the folder",
            "results",
            json!([file("../etc/passwd")]),
            "invalid results path",
        ),
        (
            "absolute path",
            "results",
            json!([file("/tmp/x.json")]),
            "invalid results path",
        ),
        (
            "empty path segment",
            "results",
            json!([file("m1//x.json")]),
            "invalid results path",
        ),
        (
            "same path twice",
            "results",
            json!([file("m1/x.json"), file("m1/x.json")]),
            "appears twice",
        ),
        (
            "NUL in a file",
            "results",
            json!([{ "path": "m1/x.json", "content": "a\u{0}b" }]),
            "NUL",
        ),
        ("NUL in the log", "log", json!("a\u{0}b"), "NUL"),
        (
            "head of another commit",
            "head_sha",
            json!(NEW_HEAD),
            "is not the head",
        ),
        (
            "merge-base not a hash",
            "base_sha",
            json!("main"),
            "invalid commit",
        ),
    ];

    for (case, field, value, expected) in cases {
        let mut body = report_body(1);
        body[field] = value;

        let response = app
            .post_agent(&report_path(job_id), Some(&token), &body)
            .await;

        assert_eq!(response.status, StatusCode::BAD_REQUEST, "case: {case}");
        assert!(
            response.error().contains(expected),
            "case {case}: {}",
            response.error()
        );
    }
    let not_json = app
        .post_agent(&report_path(job_id), Some(&token), &json!({ "attempt": 1 }))
        .await;
    assert_eq!(
        not_json.status,
        StatusCode::BAD_REQUEST,
        "a body missing fields"
    );
    assert_eq!(app.count("job_reports").await, 0);
    assert_eq!(load(&app, job_id).await.state, JobState::Running);
}

/// Checks that a report whose results file or `benchmarks.json` escapes a
/// NUL character as `\u0000`, which the ingest could not store, is
/// accepted as a failed attempt that names the file and the fix, without
/// its files. A 400 would make the agent drop it and the job run again.
#[sqlx::test(migrations = "../../migrations")]
async fn escaped_nul_fails_the_attempt(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let escaped = r#"{"params": [["'a\u0000b'"]]}"#;
    let cases = [
        ("results file", "results", json!([{ "path": "m1/x.json", "content": escaped }]), "\"m1/x.json\""),
        (
            "after an escaped backslash",
            "results",
            json!([{ "path": "m1/y.json", "content": r#"["\\\u0000"]"# }]),
            "\"m1/y.json\" contains the escape \\u0000 (a NUL character) at byte 4",
        ),
        ("benchmarks.json", "benchmarks_json", json!(escaped), "\"benchmarks.json\""),
    ];

    for (number, (case, field, value, expected)) in cases.into_iter().enumerate() {
        let mut payload = pull_request("labeled");
        payload["number"] = (10 + number as i64).into();
        payload["pull_request"]["number"] = (10 + number as i64).into();
        let queued = app.deliver("pull_request", &format!("d-nul-{number}"), &payload).await;
        let job_id = queued["job_id"].as_i64().expect("a job id");
        claim(&app, &token).await;
        let mut body = report_body(1);
        body[field] = value;

        let response = app
            .post_agent(&report_path(job_id), Some(&token), &body)
            .await;

        assert_eq!(response.status, StatusCode::OK, "case {case}: {}", response.error());
        let (outcome, error): (String, Option<String>) =
            sqlx::query_as("SELECT outcome, error FROM job_reports WHERE job_id = $1")
                .bind(job_id)
                .fetch_one(&app.pool)
                .await
                .expect("the report");
        assert_eq!(outcome, "failed", "case {case}");
        let error = error.unwrap_or_default();
        assert!(error.contains(expected), "case {case}: {error}");
        assert!(error.contains("Remove the NUL characters"), "case {case}: {error}");
        let files: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM job_report_files JOIN job_reports ON job_reports.id = report_id
             WHERE job_reports.job_id = $1",
        )
        .bind(job_id)
        .fetch_one(&app.pool)
        .await
        .expect("the file count");
        assert_eq!(files, 0, "case {case}: no file is kept");
        assert_eq!(load(&app, job_id).await.state, JobState::Ingesting, "case {case}");
    }
}

/// Checks that `\\u0000` in a results file, an escaped backslash followed
/// by `u0000` and no NUL character, passes the escaped-NUL check.
#[sqlx::test(migrations = "../../migrations")]
async fn escaped_backslash_before_u0000_is_stored(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;
    let path = "ubuntu-latest/escaped.json";
    let content = r#"{"params": [["'C:\\u0000'"]]}"#;
    let mut body = report_body(1);
    body["results"]
        .as_array_mut()
        .expect("a results array")
        .push(json!({ "path": path, "content": content }));

    let response = app
        .post_agent(&report_path(job_id), Some(&token), &body)
        .await;

    assert_eq!(response.status, StatusCode::OK, "{}", response.error());
    let stored: String =
        sqlx::query_scalar("SELECT content FROM job_report_files WHERE path = $1")
            .bind(path)
            .fetch_one(&app.pool)
            .await
            .expect("the stored file");
    assert_eq!(stored, content);
}

#[sqlx::test(migrations = "../../migrations")]
async fn oversized_report_is_413(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.server.max_report_bytes = 4096);
    let token = app.agent_token("bench-1").await;
    let job_id = queue_job(&app).await;
    claim(&app, &token).await;

    let response = app
        .post_agent(&report_path(job_id), Some(&token), &report_body(1))
        .await;

    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.error().contains("4096"), "{}", response.error());
}

#[sqlx::test(migrations = "../../migrations")]
async fn shutdown_ends_waiting_claim(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_secs(25)
    });
    let token = app.agent_token("bench-1").await;
    let shutdown = app.state.shutdown.clone();
    let body = claim_body();
    let started = Instant::now();

    let (response, ()) = tokio::join!(app.post_agent(CLAIM_PATH, Some(&token), &body), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        shutdown.cancel();
    });

    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
