//! `GET /metrics` through the real router, after real deliveries, a claim,
//! a report and its ingest into the test's database.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use pitot_runner::api::{report_path, CLAIM_PATH};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

fn results_file(name: &str) -> String {
    let path = workspace_path("tests/fixtures/asv/django-asv/results/ubuntu-latest").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

/// Returns the results file `name` moved to the job's head commit, so the
/// reporter stores it.
fn head_results_file(name: &str) -> String {
    let mut results: Value = serde_json::from_str(&results_file(name)).expect("fixture is JSON");
    results["commit_hash"] = FIXTURE_HEAD.into();
    results.to_string()
}

fn report_body(attempt: i64) -> Value {
    json!({
        "attempt": attempt,
        "base_sha": MERGE_BASE,
        "head_sha": FIXTURE_HEAD,
        "machine": "ubuntu-latest",
        "results": [
            { "path": "ubuntu-latest/66e47ac6-conda-py3.8.json", "content": head_results_file("66e47ac6-conda-py3.8.json") },
        ],
        "log": "· Running asv continuous\n",
        "outcome": "completed",
    })
}

async fn scrape(app: &TestApp, token: Option<&str>) -> TestResponse {
    let mut request = Request::get("/metrics");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(Body::empty()).expect("valid request"))
        .await
}

/// Returns the value of the sample written exactly as `series`, such as
/// `pitot_jobs{state="queued"}`.
#[track_caller]
fn sample(text: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    let line = text
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"));
    line[prefix.len()..]
        .parse()
        .unwrap_or_else(|error| panic!("{line}: {error}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn metrics_count_deliveries_jobs_and_ingest(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    let payload = pull_request("labeled");
    let queued = app.deliver("pull_request", "d-1", &payload).await;
    app.deliver("pull_request", "d-1", &payload).await;
    let invalid = app.webhook("pull_request", "d-2", b"{}").await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    let forged = webhook_request("pull_request", "d-3", b"{}")
        .header("x-hub-signature-256", format!("sha256={}", "0".repeat(64)))
        .body(Body::from("{}"))
        .expect("valid request");
    assert_eq!(app.send(forged).await.status, StatusCode::UNAUTHORIZED);
    let job_id = queued["job_id"].as_i64().expect("a job id");
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": "bench-1", "machine": "ubuntu-latest" }),
        )
        .await;
    assert_eq!(claimed.status, StatusCode::OK);
    let reported = app
        .post_agent(&report_path(job_id), Some(&token), &report_body(1))
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.error());
    // No GitHub client is configured, so the reporter only stores the comment.
    let written = pitot_server::reporter::report_pending(&app.state)
        .await
        .expect("reporter round");
    assert_eq!(written, 1);

    sqlx::query(
        "INSERT INTO deliveries (delivery_id, event, outcome, payload)
         VALUES ('waiting', 'pull_request', 'deferred', '{}')",
    )
    .execute(&app.pool)
    .await
    .expect("deferred delivery inserted");
    let response = scrape(&app, None).await;

    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(response.body).expect("UTF-8");
    let deliveries = |event: &str, outcome: &str| {
        sample(
            &text,
            &format!("pitot_webhook_deliveries_total{{event=\"{event}\",outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(deliveries("pull_request", "job_queued"), 1.0);
    assert_eq!(deliveries("pull_request", "redelivery"), 1.0);
    assert_eq!(deliveries("pull_request", "rejected"), 1.0);
    assert_eq!(deliveries("unverified", "rejected"), 1.0);
    // The report has no results of the merge-base, so the job ends as a
    // failed run; the gauge must match the table either way.
    let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&app.pool)
        .await
        .expect("job state");
    assert_eq!(
        sample(&text, &format!("pitot_jobs{{state=\"{state}\"}}")),
        1.0
    );
    assert_eq!(sample(&text, "pitot_jobs{state=\"queued\"}"), 0.0);
    assert_eq!(sample(&text, "pitot_deferred_deliveries"), 1.0);
    assert_eq!(sample(&text, "pitot_job_queue_wait_seconds_count"), 1.0);
    assert_eq!(
        sample(&text, "pitot_job_queue_wait_seconds_bucket{le=\"+Inf\"}"),
        1.0
    );
    assert_eq!(sample(&text, "pitot_job_run_duration_seconds_count"), 1.0);
    let stored_values: i64 = sqlx::query_scalar("SELECT count(*) FROM results")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert!(stored_values > 0, "the report stored results");
    assert_eq!(
        sample(&text, "pitot_ingested_values_total"),
        stored_values as f64
    );
    assert_eq!(
        sample(&text, "pitot_ingested_files_total{outcome=\"inserted\"}"),
        1.0
    );
    assert!(
        !text.contains("pitot_github_rate_limit_remaining"),
        "no GitHub client, no rate limit: {text}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn metrics_token_is_required_when_set(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.metrics.token = Some(SecretString::from("scrape-me"));
    });

    let missing = scrape(&app, None).await;
    let wrong = scrape(&app, Some("scrape-you")).await;
    let right = scrape(&app, Some("scrape-me")).await;

    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(
        missing.error().contains("metrics token"),
        "{}",
        missing.error()
    );
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(right.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../../migrations")]
async fn metrics_can_be_turned_off(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| config.metrics.enabled = false);

    let response = scrape(&app, None).await;

    assert_eq!(response.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../../migrations")]
async fn responses_carry_a_request_id(pool: PgPool) {
    let app = TestApp::new(pool);

    let generated = scrape(&app, None).await;
    let request = Request::get("/healthz")
        .header("x-request-id", "from-the-proxy-1")
        .body(Body::empty())
        .expect("valid request");
    let forwarded = app.send(request).await;

    let id = generated.headers["x-request-id"].to_str().expect("ASCII");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(forwarded.headers["x-request-id"], "from-the-proxy-1");
}
