//! Health checks, and the whole server on a real socket: the runner's own
//! agent client against `serve`, and graceful shutdown.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use pitot_runner::api::{
    ClaimRequest, HeartbeatRequest, JobOutcome, Phase, ReportRequest, ResultFile,
};
use pitot_runner::client::ServerClient;
use pitot_server::serve;
use pitot_store::job_reports;
use pitot_store::jobs::{self, JobState};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;

async fn get(app: &TestApp, path: &str) -> TestResponse {
    app.send(
        Request::get(path)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

#[sqlx::test(migrations = "../../migrations")]
async fn healthz_is_200(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = get(&app, "/healthz").await;

    assert_eq!(response.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../../migrations")]
async fn readyz_is_200_when_migrated(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = get(&app, "/readyz").await;

    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

#[sqlx::test(migrations = false)]
async fn readyz_is_503_without_migrations(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = get(&app, "/readyz").await;

    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.error().contains("pitot migrate"),
        "{}",
        response.error()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn readyz_names_a_missing_migration(pool: PgPool) {
    let app = TestApp::new(pool);
    let latest: i64 = sqlx::query_scalar("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations) RETURNING version")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let response = get(&app, "/readyz").await;

    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.error().contains(&latest.to_string()),
        "{}",
        response.error()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn responses_carry_a_request_id(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = get(&app, "/healthz").await;
    let unknown = get(&app, "/no/such/path").await;

    assert!(response.headers.contains_key("x-request-id"));
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Runs the runner's `ServerClient` against `serve` on a real port (claim,
/// heartbeat, report) to show that both sides of the agent API agree.
#[sqlx::test(migrations = "../../migrations")]
async fn agent_client_runs_a_job(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_secs(25)
    });
    let token = app.agent_token("bench-1").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app.state.clone(), async {
        stopped.await.ok();
    }));
    let client =
        ServerClient::new(&format!("http://{address}"), SecretString::from(token)).unwrap();
    app.wait_for_listener().await;
    let claim_request = ClaimRequest {
        agent: "bench-1".into(),
        machine: "ubuntu-latest".into(),
    };
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.claim(&claim_request).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let job_id = app
        .deliver("pull_request", "d-1", &pull_request("labeled"))
        .await["job_id"]
        .as_i64()
        .unwrap();
    let claimed = waiting
        .await
        .unwrap()
        .expect("claim succeeds")
        .expect("a job");
    let heartbeat = client
        .heartbeat(
            job_id,
            &HeartbeatRequest {
                attempt: claimed.attempt,
                phase: Phase::Benchmarking,
                base_sha: None,
            },
        )
        .await
        .expect("heartbeat succeeds");
    let report = ReportRequest {
        attempt: claimed.attempt,
        base_sha: Some("f95f852bd8fca8fcc58a9a2d6c842781e32a215e".into()),
        head_sha: claimed.head_sha.clone(),
        machine: "ubuntu-latest".into(),
        benchmarks_json: None,
        results: vec![ResultFile {
            path: "ubuntu-latest/machine.json".into(),
            content: "{}".into(),
        }],
        log: "done\n".into(),
        outcome: JobOutcome::Completed,
        error: None,
    };
    client
        .report(job_id, &report)
        .await
        .expect("report succeeds");

    assert_eq!(claimed.job_id, job_id);
    assert_eq!(claimed.head_sha, FIXTURE_HEAD);
    assert!(!heartbeat.cancelled);
    let job = jobs::load_job(&app.pool, job_id).await.unwrap().unwrap();
    // serve() runs the reporter, which may already have taken the report
    // and failed the job, because the report has no results. Either way
    // the agent's part is over.
    assert!(
        matches!(job.state, JobState::Ingesting | JobState::Failed | JobState::Reported),
        "{:?}",
        job.state
    );
    let stored = job_reports::report_exists(&app.pool, job_id, claimed.attempt).await.unwrap();
    assert!(stored, "the report of attempt {} is stored", claimed.attempt);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// Checks that a shutdown signal ends a waiting claim and stops the server
/// without waiting for the claim's 25-second window.
#[sqlx::test(migrations = "../../migrations")]
async fn shutdown_is_graceful_and_prompt(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.jobs.claim_wait = Duration::from_secs(25)
    });
    let token = app.agent_token("bench-1").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app.state.clone(), async {
        stopped.await.ok();
    }));
    let client =
        ServerClient::new(&format!("http://{address}"), SecretString::from(token)).unwrap();
    let waiting = tokio::spawn(async move {
        client
            .claim(&ClaimRequest {
                agent: "bench-1".into(),
                machine: "m1".into(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();

    stop.send(()).unwrap();
    let claim = waiting.await.unwrap();
    server.await.unwrap().unwrap();

    assert!(
        matches!(claim, Ok(None)),
        "the waiting claim gets 204: {claim:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
}
