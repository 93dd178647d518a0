//! The GitHub Actions backend, end to end. A signed `pull_request`
//! delivery goes through the real router, and pitot dispatches the
//! workflow on the GitHub stand-in. A real-shaped `workflow_run` delivery
//! follows, then the artifact download through a redirect to a second
//! local server that plays GitHub's storage, the ingest into PostgreSQL
//! and the sticky comment.
//!
//! The artifacts are zips of real asv results files (asv's own example
//! results, commits 22b920c6 and fcf8c079 on machine `cheetah`).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pitot_github_stub::{
    Failure, GitHubStub, RequestMatch, WorkflowRunRecord, TEST_INSTALLATION_ID,
};
use pitot_server::config::{BackendKind, Config, RepositoryConfig};
use pitot_server::service::Service;
use serde_json::{json, Value};
use sqlx::PgPool;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

#[path = "support/github_app.rs"]
mod github_app;

const SECRET: &str = "actions-secret";
const REPO: &str = "Codertocat/Hello-World";
const PR: u64 = 2;
const BASE: &str = "22b920c6d0d54112ccbc020eddba9ea7a2d204f3";
const HEAD: &str = "fcf8c079fae7ebad9f27bd31a819f0e4fdd85b99";
const MACHINE: &str = "cheetah";
const RESULTS: &str = "tests/fixtures/asv/example_results";

/// A local server that plays GitHub's artifact storage. It serves the zips
/// a test puts there, and returns 401 to any request that carries an
/// `Authorization` header, because the GitHub token must never reach it.
#[derive(Clone, Default)]
struct Storage {
    inner: Arc<Mutex<StorageInner>>,
}

#[derive(Default)]
struct StorageInner {
    blobs: HashMap<String, Vec<u8>>,
    /// Each request's path and whether it carried `Authorization`.
    requests: Vec<(String, bool)>,
}

impl Storage {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let router = axum::Router::new()
            .route("/blobs/{name}", axum::routing::get(serve_blob))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    fn put(&self, name: &str, bytes: Vec<u8>) {
        self.inner
            .lock()
            .expect("storage lock")
            .blobs
            .insert(name.to_owned(), bytes);
    }

    fn requests(&self) -> Vec<(String, bool)> {
        self.inner.lock().expect("storage lock").requests.clone()
    }
}

async fn serve_blob(
    State(storage): State<Storage>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let authorized = headers.contains_key("authorization");
    let mut inner = storage.inner.lock().expect("storage lock");
    inner.requests.push((name.clone(), authorized));
    if authorized {
        return (
            StatusCode::UNAUTHORIZED,
            "this storage URL is signed; an Authorization header is not allowed",
        )
            .into_response();
    }
    match inner.blobs.get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Harness {
    stub: GitHubStub,
    storage: Storage,
    storage_url: String,
    service: Service,
    pool: PgPool,
    deliveries: u32,
    _home: tempfile::TempDir,
}

impl Harness {
    async fn start(pool: PgPool, change: impl FnOnce(&mut Config)) -> Harness {
        let stub = GitHubStub::start().await;
        stub.set_merge_base(REPO, BASE);
        let storage = Storage::default();
        let storage_url = storage.start().await;
        let mut config = github_app::app_config(&stub, SECRET);
        config.jobs.in_process_agent = false;
        config.repositories.push(RepositoryConfig {
            name: REPO.to_owned(),
            backend: BackendKind::Actions,
            ..RepositoryConfig::default()
        });
        change(&mut config);
        let (service, home) = github_app::start_service(pool.clone(), config).await;
        Harness {
            stub,
            storage,
            storage_url,
            service,
            pool,
            deliveries: 0,
            _home: home,
        }
    }

    async fn deliver(&mut self, event: &str, payload: &Value) -> Value {
        self.deliveries += 1;
        let delivery = format!("actions-delivery-{}", self.deliveries);
        let response =
            github_app::post_webhook(&self.service.url(), SECRET, event, &delivery, payload).await;
        assert_eq!(response.status(), 202, "{event} delivery accepted");
        response.json().await.expect("JSON response")
    }

    /// Labels the pull request and waits for pitot to dispatch the
    /// workflow. Returns the job's id and the dispatched run.
    async fn label_and_wait_for_dispatch(&mut self) -> (i64, WorkflowRunRecord) {
        let runs_before = self.stub.workflow_runs(REPO).len();
        let answer = self.deliver("pull_request", &labeled_payload()).await;
        assert!(
            answer["outcome"] == "job_queued" || answer["outcome"] == "job_requeued",
            "{answer}"
        );
        let job_id = answer["job_id"].as_i64().expect("job id");
        self.wait_for("the workflow dispatch", |harness| {
            harness.stub.workflow_runs(REPO).len() == runs_before + 1
        })
        .await;
        let run = self.stub.workflow_runs(REPO).pop().expect("the new run");
        self.wait_for_state(job_id, "running").await;
        (job_id, run)
    }

    /// Puts `zip` in the storage and attaches it to `run` as the job's
    /// artifact, listed with `listed_size` bytes.
    fn attach_artifact_sized(
        &self,
        job_id: i64,
        run: &WorkflowRunRecord,
        zip: Vec<u8>,
        listed_size: u64,
    ) {
        let blob = format!("run-{}.zip", run.id);
        self.storage.put(&blob, zip);
        let url = format!("{}/blobs/{blob}", self.storage_url);
        self.stub.add_run_artifact(
            run.id,
            &format!("pitot-job-{job_id}"),
            listed_size,
            &url,
            false,
        );
    }

    /// Puts `zip` in the storage and attaches it to `run` as the job's artifact.
    fn attach_artifact(&self, job_id: i64, run: &WorkflowRunRecord, zip: Vec<u8>) {
        let size = zip.len() as u64;
        self.attach_artifact_sized(job_id, run, zip, size);
    }

    /// Completes `run` on the stand-in and delivers its `workflow_run` event.
    async fn complete(&mut self, run: &WorkflowRunRecord, conclusion: &str) -> Value {
        let run = self
            .stub
            .complete_workflow_run(run.id, conclusion)
            .expect("run exists");
        self.deliver("workflow_run", &completed_payload(&run)).await
    }

    /// Checks that the workflow was dispatched once, that one run exists,
    /// and that the job recorded `run`.
    async fn assert_one_dispatch_and_run(&self, job_id: i64, run: &WorkflowRunRecord) {
        let dispatches = RequestMatch::post("/repos/*/*/actions/workflows/*/dispatches");
        assert_eq!(
            self.stub.requests_matching(&dispatches).len(),
            1,
            "the workflow is not dispatched a second time"
        );
        assert_eq!(self.stub.workflow_runs(REPO).len(), 1, "one run");
        assert_eq!(self.job(job_id).await.3, Some(run.id as i64), "the job's run");
    }

    /// Waits until the cancel request for `run_id` was sent and recorded
    /// on the job, and returns the request's path pattern.
    async fn wait_for_recorded_cancel(&self, job_id: i64, run_id: u64) -> String {
        let cancel_path = format!("/repos/*/*/actions/runs/{run_id}/cancel");
        self.wait_for("the cancel request", |harness| {
            !harness
                .stub
                .requests_matching(&RequestMatch::post(&cancel_path))
                .is_empty()
        })
        .await;
        let started = Instant::now();
        while !cancel_state(&self.pool, job_id).await.0 {
            assert!(started.elapsed() < Duration::from_secs(30), "cancel not recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cancel_path
    }

    async fn wait_for(&self, what: &str, done: impl Fn(&Harness) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn job(&self, job_id: i64) -> JobRow {
        sqlx::query_as(
            "SELECT state, error, base_sha, workflow_run_id, backend, attempt FROM jobs WHERE id = $1",
        )
        .bind(job_id)
        .fetch_one(&self.pool)
        .await
        .expect("job row")
    }

    async fn wait_for_state(&self, job_id: i64, expected: &str) -> JobRow {
        let started = Instant::now();
        loop {
            let job = self.job(job_id).await;
            if job.0 == expected {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "job {job_id} is {job:?}, not {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the pull request has a comment that contains `text`, and returns it.
    async fn wait_for_comment(&self, text: &str) -> String {
        self.wait_for(&format!("a comment with {text:?}"), |harness| {
            harness
                .stub
                .comments(REPO, PR)
                .iter()
                .any(|comment| comment.body.contains(text))
        })
        .await;
        self.stub.comments(REPO, PR).remove(0).body
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// state, error, base_sha, workflow_run_id, backend, attempt
type JobRow = (
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    i32,
);

fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read(&path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()))
}

/// Returns the real `pull_request` `labeled` payload, with pitot's label,
/// the head commit and the test App's installation.
fn labeled_payload() -> Value {
    let mut payload: Value = serde_json::from_slice(&fixture(
        "tests/fixtures/webhooks/pull_request/labeled.payload.json",
    ))
    .expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["pull_request"]["head"]["sha"] = HEAD.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

/// Returns the real `workflow_run` `completed` payload, moved to `run` of the test
/// repository. Its `pull_requests` list stays empty, as for a fork.
fn completed_payload(run: &WorkflowRunRecord) -> Value {
    let mut payload: Value = serde_json::from_slice(&fixture(
        "tests/fixtures/webhooks/workflow_run/completed.payload.json",
    ))
    .expect("JSON");
    let created_at = run
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let workflow_run = &mut payload["workflow_run"];
    workflow_run["id"] = run.id.into();
    workflow_run["name"] = "pitot benchmarks".into();
    workflow_run["display_title"] = run.display_title.clone().into();
    workflow_run["event"] = "workflow_dispatch".into();
    workflow_run["path"] = format!(".github/workflows/{}", run.workflow).into();
    workflow_run["status"] = "completed".into();
    workflow_run["conclusion"] = run.conclusion.clone().into();
    workflow_run["created_at"] = created_at.into();
    workflow_run["pull_requests"] = json!([]);
    payload["repository"]["full_name"] = REPO.into();
    payload["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    payload
}

/// Returns the entries of the artifact that pitot's workflow uploads for
/// `job_id`, built from real asv results.
fn artifact_entries(job_id: i64) -> Vec<(String, Vec<u8>)> {
    let manifest =
        json!({ "job_id": job_id, "base_sha": BASE, "head_sha": HEAD, "machine": MACHINE });
    let results_file = |sha: &str| {
        let name = format!("{}-py2.7-Cython-numpy1.8.json", &sha[..8]);
        (
            format!("results/{MACHINE}/{name}"),
            fixture(&format!("{RESULTS}/{MACHINE}/{name}")),
        )
    };
    vec![
        (
            "pitot-job.json".to_owned(),
            manifest.to_string().into_bytes(),
        ),
        (
            "asv.log".to_owned(),
            b"\xc2\xb7 Running 48 total benchmarks (2 commits * 1 environments * 24 benchmarks)\n"
                .to_vec(),
        ),
        (
            "results/benchmarks.json".to_owned(),
            fixture(&format!("{RESULTS}/benchmarks.json")),
        ),
        (
            format!("results/{MACHINE}/machine.json"),
            fixture(&format!("{RESULTS}/{MACHINE}/machine.json")),
        ),
        results_file(BASE),
        results_file(HEAD),
    ]
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer
            .start_file(name.as_str(), options)
            .expect("start entry");
        writer.write_all(bytes).expect("write entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// The number of times [`bomb_zip`] lists its one large entry.
const BOMB_LISTINGS: u8 = 16;

/// Returns a zip that unpacks to 10,000 times its size. Deflate alone
/// stops near 1,000:1, so its one deflated entry of 10 MiB of spaces is
/// listed [`BOMB_LISTINGS`] times in the central directory, each listing
/// pointing at the same data. The job's other files are there too.
fn bomb_zip(job_id: i64) -> Vec<u8> {
    let mut entries = artifact_entries(job_id);
    entries.push((
        "results/cheetah/bomb0.json".to_owned(),
        vec![b' '; 10 << 20],
    ));
    let zip = zip_of(&entries);

    // The end of central directory record: 22 bytes, no comment.
    let end = zip.len() - 22;
    assert_eq!(
        &zip[end..end + 4],
        b"PK\x05\x06",
        "zip ends with its directory record"
    );
    let read_u16 = |at: usize| u16::from_le_bytes([zip[at], zip[at + 1]]) as usize;
    let read_u32 =
        |at: usize| u32::from_le_bytes([zip[at], zip[at + 1], zip[at + 2], zip[at + 3]]) as usize;
    let count = read_u16(end + 10);
    let directory_size = read_u32(end + 12);
    let directory_start = read_u32(end + 16);

    // The bomb's central directory header is the last one.
    let mut header_start = directory_start;
    for _ in 0..count - 1 {
        header_start += 46
            + read_u16(header_start + 28)
            + read_u16(header_start + 30)
            + read_u16(header_start + 32);
    }
    let bomb_header = zip[header_start..directory_start + directory_size].to_vec();
    let mut directory = zip[directory_start..directory_start + directory_size].to_vec();
    for copy in 1..BOMB_LISTINGS {
        let mut header = bomb_header.clone();
        let name_at = 46 + "results/cheetah/bomb".len();
        header[name_at] = b"0123456789abcdef"[usize::from(copy)];
        directory.extend_from_slice(&header);
    }

    let mut bomb = zip[..directory_start].to_vec();
    let new_count = (count + usize::from(BOMB_LISTINGS) - 1) as u16;
    bomb.extend_from_slice(&directory);
    bomb.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    bomb.extend_from_slice(&new_count.to_le_bytes());
    bomb.extend_from_slice(&new_count.to_le_bytes());
    bomb.extend_from_slice(&(directory.len() as u32).to_le_bytes());
    bomb.extend_from_slice(&(directory_start as u32).to_le_bytes());
    bomb.extend_from_slice(&[0, 0]);
    bomb
}

#[sqlx::test]
async fn labelled_pull_request_runs_on_actions_and_gets_comment(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;

    let (job_id, run) = harness.label_and_wait_for_dispatch().await;

    // The dispatch: the default branch from the payload, the job's inputs,
    // and a request for the run's id.
    assert_eq!(run.workflow, "pitot-benchmarks.yml");
    assert_eq!(run.git_ref, "master");
    assert_eq!(run.inputs["job_id"], job_id.to_string());
    assert_eq!(run.inputs["base_sha"], BASE);
    assert_eq!(run.inputs["head_sha"], HEAD);
    let dispatches = harness.stub.requests_matching(&RequestMatch::post(
        "/repos/*/*/actions/workflows/*/dispatches",
    ));
    assert_eq!(dispatches.len(), 1);
    assert_eq!(
        dispatches[0].body.as_ref().expect("JSON body")["return_run_details"],
        true
    );
    let job = harness.job(job_id).await;
    assert_eq!(
        job.2.as_deref(),
        Some(BASE),
        "merge-base recorded before the run"
    );
    assert_eq!(
        job.3,
        Some(run.id as i64),
        "run id from the dispatch response"
    );
    assert_eq!(job.4, "actions");

    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));
    let answer = harness.complete(&run, "success").await;

    assert_eq!(answer["outcome"], "workflow_run_completed", "{answer}");
    assert_eq!(answer["job_id"], job_id);
    let job = harness.wait_for_state(job_id, "reported").await;
    assert_eq!(job.1, None, "no error");
    let body = harness.wait_for_comment("time_units.time_unit_parse").await;
    assert!(body.contains(HEAD), "head linked: {body}");
    assert!(body.contains(BASE), "merge-base linked: {body}");
    assert!(
        body.contains(&format!("`{MACHINE}`")),
        "machine named: {body}"
    );
    assert!(body.contains("**Regressed**"), "{body}");

    // The token went to the API and never to the storage host.
    let downloads = harness
        .stub
        .requests_matching(&RequestMatch::get("/repos/*/*/actions/artifacts/*/zip"));
    assert_eq!(downloads.len(), 1);
    assert!(downloads[0].header("authorization").is_some());
    assert_eq!(
        harness.storage.requests(),
        [(format!("run-{}.zip", run.id), false)]
    );
    assert_eq!(
        harness.count("runs").await,
        2,
        "both commits' results stored"
    );

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn expired_artifact_fails_job_with_reason(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;
    let (job_id, run) = harness.label_and_wait_for_dispatch().await;
    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));
    harness.stub.fail_next(
        RequestMatch::get("/repos/*/*/actions/artifacts/*/zip"),
        Failure::Gone,
        1,
    );

    harness.complete(&run, "success").await;

    let job = harness.wait_for_state(job_id, "failed").await;
    let error = job.1.expect("a reason");
    assert!(error.contains("has expired"), "{error}");
    harness.wait_for_comment("has expired").await;
    assert!(harness.storage.requests().is_empty(), "nothing downloaded");
    assert_eq!(harness.count("runs").await, 0);

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn failed_workflow_fails_job_with_reason(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;
    let (job_id, run) = harness.label_and_wait_for_dispatch().await;

    harness.complete(&run, "failure").await;

    let job = harness.wait_for_state(job_id, "failed").await;
    let expected = format!("workflow run {} failed", run.id);
    assert!(
        job.1
            .as_deref()
            .is_some_and(|error| error.contains(&expected)),
        "{job:?}"
    );
    harness.wait_for_comment(&expected).await;
    let listings = harness
        .stub
        .requests_matching(&RequestMatch::get("/repos/*/*/actions/runs/*/artifacts"));
    assert!(listings.is_empty(), "a failed run's artifacts are not read");

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn hostile_artifacts_are_rejected_with_nothing_stored(pool: PgPool) {
    let cap = 64 * 1024;
    let cases: [(&str, BuildZip, &str); 3] = [
        ("path with ..", zip_with_parent_path, "unsafe path"),
        (
            "over the size cap",
            zip_over_cap,
            "over the limit of 65536 bytes",
        ),
        ("10,000:1 ratio", bomb_zip, "zip bomb"),
    ];
    let mut harness = Harness::start(pool, |config| config.actions.max_artifact_bytes = cap).await;

    // Each case runs the pull request's head again after the previous one failed.
    for (case, build, expected) in cases {
        let (job_id, run) = harness.label_and_wait_for_dispatch().await;
        let zip = build(job_id);
        if case == "10,000:1 ratio" {
            let unpacked = u64::from(BOMB_LISTINGS) * (10 << 20);
            assert!(
                unpacked / zip.len() as u64 >= 10_000,
                "the bomb is {} bytes",
                zip.len()
            );
        }
        // The listing claims a small zip, so only the download's own cap
        // can stop the oversized one.
        harness.attach_artifact_sized(job_id, &run, zip, 1000);

        harness.complete(&run, "success").await;

        let job = harness.wait_for_state(job_id, "failed").await;
        let error = job.1.unwrap_or_default();
        assert!(
            error.contains("the artifact was rejected"),
            "case {case}: {error}"
        );
        assert!(error.contains(expected), "case {case}: {error}");
        assert_eq!(harness.count("runs").await, 0, "case {case}: no run stored");
        assert_eq!(
            harness.count("job_reports").await,
            0,
            "case {case}: no report stored"
        );
        harness.wait_for_comment(expected).await;
    }

    harness.service.stop().await.expect("clean stop");
}

/// Builds an artifact zip for a job id.
type BuildZip = fn(i64) -> Vec<u8>;

fn zip_with_parent_path(job_id: i64) -> Vec<u8> {
    let mut entries = artifact_entries(job_id);
    entries.push(("results/../../evil.json".to_owned(), b"{}".to_vec()));
    zip_of(&entries)
}

/// Returns a complete artifact whose log is 256 KiB that deflate cannot shrink.
fn zip_over_cap(job_id: i64) -> Vec<u8> {
    let mut entries = artifact_entries(job_id);
    let mut state: u32 = 2_463_534_242;
    let noise: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            // xorshift32: bytes without the repetition deflate needs.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    entries[1].1 = noise;
    zip_of(&entries)
}

#[sqlx::test]
async fn dispatch_without_run_id_matches_run_by_title(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;
    harness.stub.set_return_run_details(false);
    // The first lookup of the new run fails, so neither the dispatch nor
    // the lookup names the run: only its title can tie it to the job.
    harness.stub.fail_next(
        RequestMatch::get("/repos/*/*/actions/workflows/*/runs"),
        Failure::NotFound,
        1,
    );

    let (job_id, run) = harness.label_and_wait_for_dispatch().await;

    assert_eq!(run.display_title, format!("pitot job {job_id}"));
    assert_eq!(harness.job(job_id).await.3, None, "no run id known yet");
    // A workflow that a pull request added gives its run the job's title.
    for (event, path) in [
        ("pull_request", ".github/workflows/pitot-benchmarks.yml"),
        ("workflow_dispatch", ".github/workflows/copy-of-pitot.yml"),
    ] {
        let mut forged = completed_payload(&run);
        forged["workflow_run"]["id"] = (run.id + 1000).into();
        forged["workflow_run"]["event"] = event.into();
        forged["workflow_run"]["path"] = path.into();
        let answer = harness.deliver("workflow_run", &forged).await;
        assert_eq!(answer["outcome"], "ignored", "{event} {path}: {answer}");
    }
    assert_eq!(harness.job(job_id).await.3, None, "no forged run recorded");
    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));
    let answer = harness.complete(&run, "success").await;
    assert_eq!(answer["outcome"], "workflow_run_completed", "{answer}");
    let job = harness.wait_for_state(job_id, "reported").await;
    assert_eq!(
        job.3,
        Some(run.id as i64),
        "the run recorded from the delivery"
    );
    harness.wait_for_comment("time_units.time_unit_parse").await;

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn run_never_listed_fails_its_job(pool: PgPool) {
    let mut harness = Harness::start(pool, |config| {
        config.actions.poll_after = Duration::from_millis(500)
    })
    .await;
    // The dispatch names no run, and the workflow lists none with the
    // job's title, as when a project dropped the template's run-name line.
    harness.stub.set_return_run_details(false);
    let run_lists = RequestMatch::get("/repos/*/*/actions/workflows/*/runs");
    harness.stub.fail_next(run_lists, Failure::NotFound, 100_000);

    let (job_id, _run) = harness.label_and_wait_for_dispatch().await;
    let job = harness.wait_for_state(job_id, "failed").await;

    let reason = job.1.expect("a reason");
    assert!(reason.contains(&format!("no run titled \"pitot job {job_id}\"")), "{reason}");
    assert!(reason.contains("run-name"), "{reason}");
    assert!(reason.contains("the last lookup failed"), "{reason}");

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn requeued_job_ignores_its_earlier_run(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;
    harness.stub.set_return_run_details(false);
    let (job_id, first) = harness.label_and_wait_for_dispatch().await;
    assert_eq!(harness.job(job_id).await.3, Some(first.id as i64), "first run found by title");
    harness.deliver("pull_request", &unlabeled_payload()).await;
    harness.wait_for_state(job_id, "cancelled").await;
    harness.wait_for_recorded_cancel(job_id, first.id).await;

    // Labelled again at once: the lookup of the new run fails, so only the
    // title ties a run to the job, and both runs carry it.
    harness.stub.fail_next(
        RequestMatch::get("/repos/*/*/actions/workflows/*/runs"),
        Failure::NotFound,
        1,
    );
    let (requeued_id, second) = harness.label_and_wait_for_dispatch().await;
    assert_eq!(requeued_id, job_id, "the same job row");
    assert_eq!(harness.job(job_id).await.3, None, "no run id known yet");
    let first = harness.stub.workflow_runs(REPO).into_iter().find(|run| run.id == first.id).expect("first run");
    let answer = harness.deliver("workflow_run", &completed_payload(&first)).await;

    assert_eq!(answer["outcome"], "ignored", "{answer}");
    assert_eq!(harness.job(job_id).await.0, "running");
    harness.attach_artifact(job_id, &second, zip_of(&artifact_entries(job_id)));
    harness.complete(&second, "success").await;
    let job = harness.wait_for_state(job_id, "reported").await;
    assert_eq!(job.3, Some(second.id as i64), "the second run collected");

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn uncertain_dispatch_takes_over_its_run(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;
    // GitHub starts the run, but pitot gets a 502 in place of the response.
    let dispatches = RequestMatch::post("/repos/*/*/actions/workflows/*/dispatches");
    harness
        .stub
        .fail_next(dispatches.clone(), Failure::BadGatewayAfterHandling, 1);

    let (job_id, run) = harness.label_and_wait_for_dispatch().await;

    harness.assert_one_dispatch_and_run(job_id, &run).await;
    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));
    harness.complete(&run, "success").await;
    harness.wait_for_state(job_id, "reported").await;

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn unrecorded_dispatch_takes_over_run(pool: PgPool) {
    // The first update of a job to `running` fails, as when the database
    // goes away right after GitHub started the run. A sequence is not
    // rolled back, so the trigger fails exactly once.
    sqlx::raw_sql(
        r#"
        CREATE SEQUENCE fail_once;
        CREATE FUNCTION fail_first_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('fail_once') = 1 THEN
                RAISE EXCEPTION 'injected failure';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER fail_first_dispatch BEFORE UPDATE ON jobs FOR EACH ROW
            WHEN (OLD.state = 'queued' AND NEW.state = 'running')
            EXECUTE FUNCTION fail_first_dispatch();
        "#,
    )
    .execute(&pool)
    .await
    .expect("trigger");
    let mut harness = Harness::start(pool, |_| {}).await;

    let (job_id, run) = harness.label_and_wait_for_dispatch().await;

    harness.assert_one_dispatch_and_run(job_id, &run).await;

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn missed_delivery_is_caught_by_polling(pool: PgPool) {
    let mut harness = Harness::start(pool, |config| {
        config.actions.poll_after = Duration::from_secs(1)
    })
    .await;
    let (job_id, run) = harness.label_and_wait_for_dispatch().await;
    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));

    // The run completes on GitHub, and its delivery never arrives.
    harness
        .stub
        .complete_workflow_run(run.id, "success")
        .expect("run exists");

    harness.wait_for_state(job_id, "reported").await;
    let polls = harness.stub.requests_matching(&RequestMatch::get(&format!(
        "/repos/*/*/actions/runs/{}",
        run.id
    )));
    assert!(!polls.is_empty(), "the run was asked about");
    harness.wait_for_comment("time_units.time_unit_parse").await;

    harness.service.stop().await.expect("clean stop");
}

/// Returns a push to the default branch of `REPO`, from `BASE` to `HEAD`,
/// through the test App's installation.
fn default_branch_push() -> Value {
    let mut payload: Value = serde_json::from_slice(&fixture("tests/fixtures/webhooks/push/payload.json")).expect("JSON");
    let branch = payload["repository"]["default_branch"].as_str().expect("default branch").to_owned();
    payload["ref"] = format!("refs/heads/{branch}").into();
    payload["before"] = BASE.into();
    payload["after"] = HEAD.into();
    payload["created"] = false.into();
    payload["deleted"] = false.into();
    payload["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    payload
}

#[sqlx::test]
async fn history_job_runs_on_actions_with_its_own_base(pool: PgPool) {
    let mut harness = Harness::start(pool, |_| {}).await;

    let answer = harness.deliver("push", &default_branch_push()).await;
    let job_id = answer["job_id"].as_i64().unwrap_or_else(|| panic!("a history job: {answer}"));
    harness.wait_for("the workflow dispatch", |harness| !harness.stub.workflow_runs(REPO).is_empty()).await;
    let run = harness.stub.workflow_runs(REPO).pop().expect("the run");
    let job = harness.wait_for_state(job_id, "running").await;
    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));
    harness.complete(&run, "success").await;
    harness.wait_for_state(job_id, "reported").await;

    assert_eq!(job.4, "actions");
    assert_eq!(job.2.as_deref(), Some(BASE), "the push's before commit is the base");
    assert_eq!(run.inputs["base_sha"], BASE);
    assert_eq!(run.inputs["head_sha"], HEAD);
    let compares = harness.stub.requests_matching(&RequestMatch::get("/repos/*/*/compare/*"));
    assert!(compares.is_empty(), "no merge-base lookup for a history job: {compares:?}");
    assert_eq!(harness.count("runs").await, 2, "both commits' results stored");
    assert!(harness.stub.comments(REPO, PR).is_empty(), "history writes no comment");

    harness.service.stop().await.expect("clean stop");
}

/// Returns the real `pull_request` `unlabeled` payload for pitot's label
/// on the test head, which cancels the pull request's jobs.
fn unlabeled_payload() -> Value {
    let mut payload: Value = serde_json::from_slice(&fixture(
        "tests/fixtures/webhooks/pull_request/unlabeled.payload.json",
    ))
    .expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["pull_request"]["head"]["sha"] = HEAD.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

/// Returns `workflow_cancelled_at IS NOT NULL` and `workflow_cancel_failures`.
async fn cancel_state(pool: &PgPool, job_id: i64) -> (bool, i32) {
    sqlx::query_as(
        "SELECT workflow_cancelled_at IS NOT NULL, workflow_cancel_failures FROM jobs WHERE id = $1",
    )
    .bind(job_id)
    .fetch_one(pool)
    .await
    .expect("job row")
}

#[sqlx::test]
async fn cancelled_job_cancels_its_workflow_run(pool: PgPool) {
    let mut harness = Harness::start(pool.clone(), |_| {}).await;
    let (job_id, run) = harness.label_and_wait_for_dispatch().await;

    harness.deliver("pull_request", &unlabeled_payload()).await;

    harness.wait_for_state(job_id, "cancelled").await;
    let cancel_path = harness.wait_for_recorded_cancel(job_id, run.id).await;
    let stored_run = harness.stub.workflow_runs(REPO).pop().expect("the run");
    assert_eq!(stored_run.conclusion.as_deref(), Some("cancelled"));
    assert_eq!(
        harness.stub.requests_matching(&RequestMatch::post(&cancel_path)).len(),
        1,
        "one request per run"
    );

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn cancel_finds_uncertain_dispatch_run(pool: PgPool) {
    let mut harness = Harness::start(pool.clone(), |_| {}).await;
    // GitHub starts the run but responds to the dispatch with a 502, and the
    // run list fails until the job is cancelled, so the dispatch step
    // cannot take the run over.
    let dispatches = RequestMatch::post("/repos/*/*/actions/workflows/*/dispatches");
    let run_lists = RequestMatch::get("/repos/*/*/actions/workflows/*/runs");
    harness
        .stub
        .fail_next(dispatches.clone(), Failure::BadGatewayAfterHandling, 1);
    harness
        .stub
        .fail_next(run_lists.clone(), Failure::NotFound, 100_000);
    let answer = harness.deliver("pull_request", &labeled_payload()).await;
    let job_id = answer["job_id"].as_i64().unwrap_or_else(|| panic!("a job: {answer}"));
    let started = Instant::now();
    while !uncertain_dispatch(&pool, job_id).await {
        assert!(started.elapsed() < Duration::from_secs(30), "dispatch not marked uncertain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let run = harness.stub.workflow_runs(REPO).pop().expect("the run the failed dispatch started");

    harness.deliver("pull_request", &unlabeled_payload()).await;
    harness.wait_for_state(job_id, "cancelled").await;
    harness.stub.stop_failing(&run_lists);

    harness.wait_for_recorded_cancel(job_id, run.id).await;
    assert_eq!(harness.job(job_id).await.3, Some(run.id as i64), "the run is recorded");
    assert!(!uncertain_dispatch(&pool, job_id).await, "the search ended");
    let stored_run = harness.stub.workflow_runs(REPO).pop().expect("the run");
    assert_eq!(stored_run.conclusion.as_deref(), Some("cancelled"));
    assert_eq!(
        harness.stub.requests_matching(&dispatches).len(),
        1,
        "the cancelled job is not dispatched again"
    );

    harness.service.stop().await.expect("clean stop");
}

/// Returns whether the job's last dispatch is marked uncertain.
async fn uncertain_dispatch(pool: &PgPool, job_id: i64) -> bool {
    sqlx::query_scalar("SELECT dispatch_uncertain_at IS NOT NULL FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(pool)
        .await
        .expect("job row")
}

#[sqlx::test]
async fn failed_run_cancel_gives_up(pool: PgPool) {
    let mut harness = Harness::start(pool.clone(), |_| {}).await;
    let (job_id, _run) = harness.label_and_wait_for_dispatch().await;
    harness.stub.fail_next(
        RequestMatch::post("/repos/*/*/actions/runs/*/cancel"),
        Failure::NotFound,
        10,
    );

    harness.deliver("pull_request", &unlabeled_payload()).await;

    let job = harness.wait_for_state(job_id, "cancelled").await;
    assert!(job.1.is_some(), "the cancel's reason stays: {job:?}");
    let started = Instant::now();
    while cancel_state(&pool, job_id).await.1 < pitot_server::actions::MAX_CANCEL_ATTEMPTS {
        assert!(started.elapsed() < Duration::from_secs(30), "cancel never given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pitot_server::actions::run_round(&harness.service.state)
        .await
        .expect("a round runs");
    let cancels = harness
        .stub
        .requests_matching(&RequestMatch::post("/repos/*/*/actions/runs/*/cancel"));
    assert_eq!(cancels.len(), 1, "a 404 is not retried");
    assert!(!cancel_state(&pool, job_id).await.0);

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn download_failing_past_limit_fails_job(pool: PgPool) {
    let mut harness = Harness::start(pool, |config| {
        config.actions.max_download_attempts = 1;
    })
    .await;
    let (job_id, run) = harness.label_and_wait_for_dispatch().await;
    harness.attach_artifact(job_id, &run, zip_of(&artifact_entries(job_id)));
    harness.stub.fail_next(
        RequestMatch::get("/repos/*/*/actions/artifacts/*/zip"),
        Failure::InternalServerError,
        50,
    );

    harness.complete(&run, "success").await;

    let job = harness.wait_for_state(job_id, "failed").await;
    let error = job.1.expect("a reason");
    assert!(error.contains("attempt 1 of 1 (actions.max_download_attempts)"), "{error}");
    assert!(error.contains("500"), "names the last error: {error}");
    assert!(error.contains("run the benchmarks again"), "says the fix: {error}");
    assert_eq!(harness.count("runs").await, 0);

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn superseded_job_cancels_its_workflow_run(pool: PgPool) {
    let mut harness = Harness::start(pool.clone(), |_| {}).await;
    let (old_job, old_run) = harness.label_and_wait_for_dispatch().await;
    let mut newer = labeled_payload();
    newer["pull_request"]["head"]["sha"] = "1111111111111111111111111111111111111111".into();

    let answer = harness.deliver("pull_request", &newer).await;

    let new_job = answer["job_id"].as_i64().expect("a job id");
    assert_ne!(new_job, old_job);
    harness.wait_for_state(old_job, "superseded").await;
    harness.wait_for_recorded_cancel(old_job, old_run.id).await;
    assert!(!cancel_state(&pool, new_job).await.0, "the new job's run goes on");

    harness.service.stop().await.expect("clean stop");
}
