//! A/A calibration jobs through the real router and a real database:
//! queueing through the API, the machine filter of the claim, the noise
//! stored from an agent's report, and thresholds that use it.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::api_tokens::ApiScope;
use pitot_server::reporter::report_pending;
use pitot_store::jobs::{self, JobState};
use serde_json::{json, Value};
use sqlx::PgPool;

const REPOSITORY: &str = "octo/demo";
const CALIBRATIONS: &str = "/api/v1/repositories/octo/demo/calibrations";
/// The newest benchmarked default-branch commit: a reported history job's head.
const NEWEST: &str = "1111111111111111111111111111111111111111";
const OTHER: &str = "2222222222222222222222222222222222222222";
const RESULTS_FIXTURE: &str =
    "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json";
const NOISY: &str = "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean";
const MACHINE: &str = "macos-12";

/// Stores the repository and one reported history job of `NEWEST`, which
/// gives calibrations their clone URL, branch and default commit.
async fn app_with_history(pool: PgPool) -> TestApp {
    sqlx::query(
        "WITH repository AS (INSERT INTO repositories (name) VALUES ($1) RETURNING id)
         INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url,
                           attempt_limit, state, finished_at)
         SELECT id, 'history', $2, $3, 'main', 'https://github.com/octo/demo.git', 3,
                'reported', now()
         FROM repository",
    )
    .bind(REPOSITORY)
    .bind(NEWEST)
    .bind(OTHER)
    .execute(&pool)
    .await
    .expect("repository and history job");
    TestApp::new(pool)
}

async fn calibrate(app: &TestApp, token: Option<&str>, body: Option<&Value>) -> TestResponse {
    app.send_api("POST", CALIBRATIONS, token, body).await
}

/// Returns the results fixture for `sha`, with `NOISY`'s value scaled by `factor`.
fn results_json(sha: &str, factor: f64) -> Value {
    let text =
        std::fs::read_to_string(workspace_path(RESULTS_FIXTURE)).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    let row = results["results"][NOISY]
        .as_array_mut()
        .expect("fixture has the benchmark");
    for value in row[0].as_array_mut().expect("a list of results") {
        *value = (value.as_f64().expect("a number") * factor).into();
    }
    results
}

/// Claims the next job as agent `name` on `machine`; returns the response.
async fn claim(app: &TestApp, name: &str, machine: &str) -> (String, TestResponse) {
    let token = app.agent_token(name).await;
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": name, "machine": machine }),
        )
        .await;
    (token, claimed)
}

/// Reports each `(path, content)` file for a claimed job and checks it was stored.
async fn report(app: &TestApp, token: &str, job: &Value, sha: &str, files: Vec<(String, Value)>) {
    let results: Vec<Value> = files
        .into_iter()
        .map(|(path, content)| json!({ "path": path, "content": content.to_string() }))
        .collect();
    let body = json!({
        "attempt": job["attempt"],
        "base_sha": sha,
        "head_sha": sha,
        "machine": MACHINE,
        "results": results,
        "log": "asv run\n",
        "outcome": "completed",
    });
    let path = report_path(job["job_id"].as_i64().expect("a job id"));
    let stored = app.post_agent(&path, Some(token), &body).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.error());
}

#[sqlx::test(migrations = "../../migrations")]
async fn post_needs_token_and_scope(pool: PgPool) {
    let app = app_with_history(pool).await;
    let rerun_only = app.api_token("rerunner", &[ApiScope::Rerun]).await;

    let anonymous = calibrate(&app, None, None).await;
    let wrong_scope = calibrate(&app, Some(&rerun_only), None).await;

    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.error()
    );
    assert_eq!(
        wrong_scope.status,
        StatusCode::FORBIDDEN,
        "{}",
        wrong_scope.error()
    );
    assert!(
        wrong_scope.error().contains("calibrate"),
        "{}",
        wrong_scope.error()
    );
    assert_eq!(app.count("jobs").await, 1, "only the history job");
}

#[sqlx::test(migrations = "../../migrations")]
async fn post_queues_newest_commit(pool: PgPool) {
    let app = app_with_history(pool).await;
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;

    let first = calibrate(&app, Some(&token), None).await;
    let again = calibrate(&app, Some(&token), Some(&json!({}))).await;
    let other_machine = calibrate(&app, Some(&token), Some(&json!({ "machine": "bench-b" }))).await;

    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.error());
    assert_eq!(first.json()["sha"], NEWEST);
    assert_eq!(first.json()["created"], true);
    assert_eq!(again.status, StatusCode::OK, "{}", again.error());
    assert_eq!(again.json()["job_id"], first.json()["job_id"]);
    assert_eq!(again.json()["created"], false);
    assert_eq!(
        other_machine.status,
        StatusCode::ACCEPTED,
        "{}",
        other_machine.error()
    );
    assert_ne!(other_machine.json()["job_id"], first.json()["job_id"]);
    let job_id = first.json()["job_id"].as_i64().expect("a job id");
    let job = jobs::load_job(&app.pool, job_id)
        .await
        .expect("query")
        .expect("job");
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.base_sha.as_deref(), Some(NEWEST));
    assert_eq!(job.base_ref, "main");
}

#[sqlx::test(migrations = "../../migrations")]
async fn post_bad_inputs(pool: PgPool) {
    let app = app_with_history(pool).await;
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;
    let cases = [
        ("one pass", json!({ "passes": 1 }), "passes 1"),
        ("too many passes", json!({ "passes": 11 }), "passes 11"),
        ("branch as sha", json!({ "sha": "main" }), "commit \"main\""),
        (
            "machine with slash",
            json!({ "machine": "a/b" }),
            "machine \"a/b\"",
        ),
        (
            "unknown field",
            json!({ "commit": NEWEST }),
            "unknown field",
        ),
    ];

    for (case, body, expected) in cases {
        let response = calibrate(&app, Some(&token), Some(&body)).await;

        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            response.error()
        );
        assert!(
            response.error().contains(expected),
            "{case}: {}",
            response.error()
        );
    }
    assert_eq!(app.count("jobs").await, 1, "no calibration queued");
}

#[sqlx::test(migrations = "../../migrations")]
async fn post_without_source_rejected(pool: PgPool) {
    sqlx::query("INSERT INTO repositories (name) VALUES ($1)")
        .bind(REPOSITORY)
        .execute(&pool)
        .await
        .expect("repository");
    let app = TestApp::new(pool);
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;

    let no_jobs = calibrate(&app, Some(&token), None).await;
    let unknown = app
        .send_api(
            "POST",
            "/api/v1/repositories/octo/missing/calibrations",
            Some(&token),
            None,
        )
        .await;

    assert_eq!(no_jobs.status, StatusCode::CONFLICT, "{}", no_jobs.error());
    assert!(
        no_jobs.error().contains("no reported job"),
        "{}",
        no_jobs.error()
    );
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.error());
}

#[sqlx::test(migrations = "../../migrations")]
async fn claim_honours_required_machine(pool: PgPool) {
    let app = app_with_history(pool).await;
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;
    let queued = calibrate(
        &app,
        Some(&token),
        Some(&json!({ "machine": MACHINE, "passes": 3 })),
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.error());

    let (_, elsewhere) = claim(&app, "agent-b", "bench-b").await;
    let (_, claimed) = claim(&app, "agent-a", MACHINE).await;

    assert_eq!(elsewhere.status, StatusCode::NO_CONTENT);
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.error());
    let job = claimed.json();
    assert_eq!(job["job_id"], queued.json()["job_id"]);
    assert_eq!(job["head_sha"], NEWEST);
    assert_eq!(job["base_sha"], NEWEST);
    assert_eq!(job["calibration_passes"], 3);
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_stores_noise_not_runs(pool: PgPool) {
    let app = app_with_history(pool).await;
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;
    calibrate(&app, Some(&token), None).await;
    let (agent, claimed) = claim(&app, "agent-a", MACHINE).await;
    let job = claimed.json();
    let files = vec![
        (
            format!("pass-1/{MACHINE}/11111111-py.json"),
            results_json(NEWEST, 1.0),
        ),
        (
            format!("pass-2/{MACHINE}/11111111-py.json"),
            results_json(NEWEST, 1.05),
        ),
    ];

    report(&app, &agent, &job, NEWEST, files).await;
    report_pending(&app.state).await.expect("reporter round");

    let job_id = job["job_id"].as_i64().expect("a job id");
    let stored = jobs::load_job(&app.pool, job_id)
        .await
        .expect("query")
        .expect("job");
    assert_eq!(stored.state, JobState::Reported, "{:?}", stored.error);
    assert_eq!(
        app.count("runs").await,
        0,
        "calibration results are not history"
    );
    let (difference, passes): (Option<f64>, i16) = sqlx::query_as(
        "SELECT relative_difference, passes FROM calibration_noise WHERE series_name = $1",
    )
    .bind(NOISY)
    .fetch_one(&app.pool)
    .await
    .expect("a noise row for the scaled benchmark");
    assert_eq!(passes, 2);
    let difference = difference.expect("two values");
    assert!((difference - 0.05).abs() < 1e-9, "{difference}");
    let unchanged: f64 = sqlx::query_scalar(
        "SELECT max(relative_difference) FROM calibration_noise WHERE series_name <> $1",
    )
    .bind(NOISY)
    .fetch_one(&app.pool)
    .await
    .expect("other rows");
    assert_eq!(unchanged, 0.0);

    let listed = app.send_api("GET", CALIBRATIONS, None, None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.error());
    let calibration = &listed.json()["calibrations"][0];
    assert_eq!(calibration["job_id"], job_id);
    assert_eq!(calibration["state"], "reported");
    let detail = app
        .send_api("GET", &format!("/api/v1/jobs/{job_id}"), None, None)
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.error());
    let comparison_error = detail.json()["comparison_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        comparison_error.contains("compares no commits"),
        "{comparison_error}"
    );
    let noisy = calibration["noise"]
        .as_array()
        .expect("a noise list")
        .iter()
        .find(|row| row["name"] == NOISY)
        .cloned()
        .expect("the scaled benchmark is listed");
    assert_eq!(noisy["machine"], MACHINE);
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_without_passes_fails(pool: PgPool) {
    let app = app_with_history(pool).await;
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;
    calibrate(&app, Some(&token), None).await;
    let (agent, claimed) = claim(&app, "agent-a", MACHINE).await;
    let job = claimed.json();
    let files = vec![(
        format!("{MACHINE}/11111111-py.json"),
        results_json(NEWEST, 1.0),
    )];

    report(&app, &agent, &job, NEWEST, files).await;
    report_pending(&app.state).await.expect("reporter round");

    let job_id = job["job_id"].as_i64().expect("a job id");
    let stored = jobs::load_job(&app.pool, job_id)
        .await
        .expect("query")
        .expect("job");
    assert_eq!(stored.state, JobState::Failed);
    assert!(stored.error.unwrap_or_default().contains("pass-<n>/"));
    assert_eq!(app.count("calibration_noise").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn short_history_uses_calibration(pool: PgPool) {
    let app = app_with_history(pool).await;
    let token = app.api_token("ops", &[ApiScope::Calibrate]).await;
    calibrate(&app, Some(&token), None).await;
    let (agent, claimed) = claim(&app, "agent-a", MACHINE).await;
    let files = vec![
        (
            format!("pass-1/{MACHINE}/11111111-py.json"),
            results_json(NEWEST, 1.0),
        ),
        (
            format!("pass-2/{MACHINE}/11111111-py.json"),
            results_json(NEWEST, 1.05),
        ),
    ];
    report(&app, &agent, &claimed.json(), NEWEST, files).await;
    report_pending(&app.state)
        .await
        .expect("calibration reported");
    // A history job of the next commit, with no stored history before it.
    let head = "3333333333333333333333333333333333333333";
    sqlx::query(
        "INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url, attempt_limit)
         SELECT id, 'history', $1, $2, 'main', 'https://github.com/octo/demo.git', 3
         FROM repositories",
    )
    .bind(head)
    .bind(NEWEST)
    .execute(&app.pool)
    .await
    .expect("history job");
    let (agent, claimed) = claim(&app, "agent-b", MACHINE).await;
    let job = claimed.json();
    let files = vec![
        (format!("{MACHINE}/base.json"), results_json(NEWEST, 1.0)),
        (format!("{MACHINE}/head.json"), results_json(head, 1.0)),
    ];
    let body = json!({
        "attempt": job["attempt"], "base_sha": NEWEST, "head_sha": head, "machine": MACHINE,
        "results": files.into_iter().map(|(path, content)| json!({ "path": path, "content": content.to_string() })).collect::<Vec<_>>(),
        "log": "", "outcome": "completed",
    });
    let stored = app
        .post_agent(
            &report_path(job["job_id"].as_i64().expect("id")),
            Some(&agent),
            &body,
        )
        .await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.error());

    report_pending(&app.state).await.expect("history reported");
    let detail = app
        .send_api(
            "GET",
            &format!("/api/v1/jobs/{}", job["job_id"]),
            None,
            None,
        )
        .await;

    assert_eq!(detail.status, StatusCode::OK, "{}", detail.error());
    let detail = detail.json();
    let rows = detail["comparison"]["rows"]
        .as_array()
        .expect("comparison rows");
    let noisy = rows
        .iter()
        .find(|row| row["name"] == NOISY)
        .expect("the calibrated benchmark");
    assert_eq!(noisy["verdict"]["threshold_source"], "calibration");
    let threshold = noisy["verdict"]["threshold"].as_f64().expect("a threshold");
    // Three times the 5% between the passes.
    assert!((threshold - 0.15).abs() < 1e-9, "{threshold}");
    // Without benchmarks.json no row is known to be a wall-time benchmark,
    // so no floor applies to a series whose passes were equal.
    let quiet = rows
        .iter()
        .find(|row| row["name"] != NOISY && row["verdict"].is_object())
        .expect("another benchmark");
    assert_eq!(quiet["kind"], Value::Null);
    assert_eq!(quiet["verdict"]["threshold_source"], "calibration");
    assert_eq!(quiet["verdict"]["threshold"], 0.0);
}
