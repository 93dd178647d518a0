//! The agent loop against a small stand-in for the server's agent API,
//! running the real asv on the demo repository.

mod common;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use common::{demo_job, demo_remote, processes_left_in, require_asv, rewrite_to, work_dir};
use pitot_runner::api::{
    ClaimRequest, ClaimedJob, HeartbeatRequest, HeartbeatResponse, JobOutcome, Phase, ReportRequest,
};
use pitot_runner::AgentConfig;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "agent-test-token";
/// The job the stand-in cancels a few seconds into benchmarking.
const CANCELLED_JOB: i64 = 7;
/// The job that runs to the end.
const FULL_JOB: i64 = 8;

/// What the stand-in server received.
#[derive(Default)]
struct Recorded {
    queue: VecDeque<ClaimedJob>,
    claims: Vec<ClaimRequest>,
    heartbeats: Vec<(i64, HeartbeatRequest)>,
    reports: Vec<(i64, ReportRequest)>,
    benchmarking_since: Option<Instant>,
}

type Shared = Arc<Mutex<Recorded>>;

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|value| value.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn claim(State(state): State<Shared>, headers: HeaderMap, Json(body): Json<ClaimRequest>) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let job = {
        let mut state = state.lock().expect("state");
        state.claims.push(body);
        state.queue.pop_front()
    };
    match job {
        Some(job) => Json(job).into_response(),
        None => {
            // A short stand-in for the server's long-poll window.
            tokio::time::sleep(Duration::from_millis(200)).await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn heartbeat(
    State(state): State<Shared>,
    Path(job_id): Path<i64>,
    headers: HeaderMap,
    Json(body): Json<HeartbeatRequest>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let mut state = state.lock().expect("state");
    let mut cancelled = false;
    if job_id == CANCELLED_JOB && body.phase == Phase::Benchmarking {
        let since = *state.benchmarking_since.get_or_insert_with(Instant::now);
        cancelled = since.elapsed() >= Duration::from_secs(6);
    }
    state.heartbeats.push((job_id, body));
    Json(HeartbeatResponse { cancelled }).into_response()
}

async fn report(
    State(state): State<Shared>,
    Path(job_id): Path<i64>,
    headers: HeaderMap,
    Json(body): Json<ReportRequest>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    state.lock().expect("state").reports.push((job_id, body));
    StatusCode::OK.into_response()
}

/// Starts the stand-in server on a free port of 127.0.0.1.
async fn start_server(jobs: Vec<ClaimedJob>) -> (SocketAddr, Shared) {
    let state: Shared = Arc::new(Mutex::new(Recorded {
        queue: jobs.into(),
        ..Recorded::default()
    }));
    let router = Router::new()
        .route("/api/agent/claim", post(claim))
        .route("/api/agent/jobs/{id}/heartbeat", post(heartbeat))
        .route("/api/agent/jobs/{id}/report", post(report))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("free port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (address, state)
}

fn agent_config(address: SocketAddr, work_dir: &std::path::Path, token: &str) -> AgentConfig {
    let mut config = AgentConfig::new(
        format!("http://{address}"),
        SecretString::from(token.to_string()),
        work_dir,
    );
    config.name = "agent-under-test".to_string();
    config.machine = Some("pitot-agent-test".to_string());
    config.asv_venv = Some(common::asv_setup().venv);
    config.reconnect_delay = Duration::from_millis(200);
    config
}

/// Waits until `done` holds for the recorded state, or panics after
/// `limit`.
async fn wait_for(state: &Shared, limit: Duration, done: impl Fn(&Recorded) -> bool) {
    let deadline = Instant::now() + limit;
    while !done(&state.lock().expect("state")) {
        assert!(Instant::now() < deadline, "the agent did not finish within {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_runs_job_and_reports() {
    let Some(_asv) = require_asv().await else { return };
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut cancelled_job = demo_job(&demo, CANCELLED_JOB, 900);
    cancelled_job.lease_seconds = 3;
    let mut full_job = demo_job(&demo, FULL_JOB, 900);
    full_job.lease_seconds = 6;
    full_job.attempt = 2;
    let (address, state) = start_server(vec![cancelled_job, full_job]).await;
    let mut config = agent_config(address, dir.path(), TOKEN);
    config.url_rewrites = vec![rewrite_to(&demo)];
    let work = dir.path().to_path_buf();
    let shutdown = CancellationToken::new();

    let agent = tokio::spawn(pitot_runner::agent::run(config, shutdown.clone()));
    wait_for(&state, Duration::from_secs(900), |recorded| !recorded.reports.is_empty()).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(30), agent).await;

    stopped.expect("the agent stops on shutdown").expect("no panic").expect("no error");
    let recorded = state.lock().expect("state");
    assert!(recorded.claims.len() >= 2);
    assert_eq!(recorded.claims[0].agent, "agent-under-test");
    assert_eq!(recorded.claims[0].machine, "pitot-agent-test");

    // The cancelled job: heartbeats until the cancel, then no report.
    let cancelled_phases: Vec<Phase> = recorded
        .heartbeats
        .iter()
        .filter(|(job_id, _)| *job_id == CANCELLED_JOB)
        .map(|(_, heartbeat)| heartbeat.phase)
        .collect();
    assert!(cancelled_phases.contains(&Phase::Benchmarking), "{cancelled_phases:?}");
    assert!(!cancelled_phases.contains(&Phase::Uploading), "{cancelled_phases:?}");
    let cancelled_log = std::fs::read_to_string(work.join("logs/job-7-attempt-1.log")).expect("log kept");
    assert!(cancelled_log.contains("[pitot] $ asv --config"), "{cancelled_log}");
    assert!(
        cancelled_log.contains("because the job was cancelled on the server"),
        "{cancelled_log}"
    );

    // The full job: one report with both commits' results.
    assert_eq!(recorded.reports.len(), 1);
    let (job_id, report) = &recorded.reports[0];
    assert_eq!(*job_id, FULL_JOB);
    assert_eq!(report.outcome, JobOutcome::Completed, "error: {:?}", report.error);
    assert_eq!(report.error, None);
    assert_eq!(report.attempt, 2);
    assert_eq!(report.base_sha.as_deref(), Some(demo.merge_base_sha.as_str()));
    assert_eq!(report.head_sha, demo.head_sha);
    assert_eq!(report.machine, "pitot-agent-test");
    assert!(report.benchmarks_json.is_some());
    let paths: Vec<&str> = report.results.iter().map(|file| file.path.as_str()).collect();
    let base_file = format!("pitot-agent-test/{}-", &demo.merge_base_sha[..8]);
    let head_file = format!("pitot-agent-test/{}-", &demo.head_sha[..8]);
    assert!(paths.iter().any(|path| path.starts_with(&base_file)), "{paths:?}");
    assert!(paths.iter().any(|path| path.starts_with(&head_file)), "{paths:?}");
    assert!(report.log.contains("[pitot] using asv 0.6.6"), "{}", report.log);
    assert!(report.log.contains("continuous --machine pitot-agent-test"), "{}", report.log);

    let full_heartbeats: Vec<&HeartbeatRequest> = recorded
        .heartbeats
        .iter()
        .filter(|(job_id, _)| *job_id == FULL_JOB)
        .map(|(_, heartbeat)| heartbeat)
        .collect();
    assert_eq!(full_heartbeats[0].phase, Phase::Fetching);
    assert!(full_heartbeats.iter().all(|heartbeat| heartbeat.attempt == 2));
    let later = full_heartbeats.iter().find(|heartbeat| heartbeat.phase == Phase::Benchmarking);
    let later = later.expect("a benchmarking heartbeat");
    assert_eq!(later.base_sha.as_deref(), Some(demo.merge_base_sha.as_str()));
    assert!(!work.join("logs/job-8-attempt-2.log").exists(), "a reported log is removed");

    let left = processes_left_in(&work);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[tokio::test]
async fn agent_stops_on_rejected_token() {
    let dir = work_dir();
    let (address, _state) = start_server(Vec::new()).await;
    let config = agent_config(address, dir.path(), "wrong-token");

    let result = pitot_runner::agent::run(config, CancellationToken::new()).await;

    let error = result.expect_err("a rejected token stops the agent");
    assert_eq!(
        error.to_string(),
        "the agent token was rejected: check PITOT_AGENT_TOKEN"
    );
}

#[tokio::test]
async fn idle_agent_stops_on_shutdown() {
    let dir = work_dir();
    let (address, state) = start_server(Vec::new()).await;
    let config = agent_config(address, dir.path(), TOKEN);
    let shutdown = CancellationToken::new();
    let agent = tokio::spawn(pitot_runner::agent::run(config, shutdown.clone()));
    wait_for(&state, Duration::from_secs(30), |recorded| !recorded.claims.is_empty()).await;

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(5), agent).await;

    stopped.expect("the agent stops at once").expect("no panic").expect("no error");
}

#[tokio::test]
async fn agent_reports_missing_head_as_failed() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut job = demo_job(&demo, 9, 60);
    job.head_sha = "0123456789abcdef0123456789abcdef01234567".to_string();
    let (address, state) = start_server(vec![job]).await;
    let mut config = agent_config(address, dir.path(), TOKEN);
    config.url_rewrites = vec![rewrite_to(&demo)];
    let shutdown = CancellationToken::new();

    let agent = tokio::spawn(pitot_runner::agent::run(config, shutdown.clone()));
    wait_for(&state, Duration::from_secs(120), |recorded| !recorded.reports.is_empty()).await;
    shutdown.cancel();
    agent.await.expect("no panic").expect("no error");

    let recorded = state.lock().expect("state");
    let (_, report) = &recorded.reports[0];
    assert_eq!(report.outcome, JobOutcome::Failed);
    assert_eq!(report.base_sha, None);
    assert!(report.results.is_empty());
    let error = report.error.as_deref().unwrap_or_default();
    assert!(error.contains("commit 0123456789abcdef0123456789abcdef01234567 was not found"), "{error}");
    assert!(report.log.contains("$ git fetch"), "{}", report.log);
}
