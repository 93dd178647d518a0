//! The service loop end to end. A signed webhook goes over HTTP to a real
//! server, the agent runs real `asv continuous` on the demo repository, and
//! PostgreSQL stores and compares the results. The comment and check run go
//! to a local stand-in for api.github.com that records every request.
//!
//! The tests that run asv take a lock, so that two asv runs never share the
//! two cores and blur each other's timings.

#[path = "support/asv_venv.rs"]
mod asv_venv;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use pitot_github_stub::{
    Failure, GitHubStub, RequestMatch, TEST_APP_ID, TEST_APP_PRIVATE_KEY, TEST_INSTALLATION_ID,
};
use pitot_runner::config::{AgentConfig, UrlRewrite};
use pitot_runner::demo::{create_demo_repo, DemoRepo};
use pitot_server::config::Config;
use pitot_server::service::{Service, ServiceDirs};
use pitot_store::jobs::JobState;
use pitot_store::reporting::{self, JobOutcome};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::PgPool;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "service-loop-secret";
const REPO: &str = "Codertocat/Hello-World";
const CLONE_URL: &str = "https://github.com/Codertocat/Hello-World.git";
const PR: u64 = 2;

/// Keeps asv runs of different tests apart.
static ASV_RUNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a test waits for a report: two environment builds and two
/// benchmark runs on a busy machine.
const REPORT_WAIT: Duration = Duration::from_secs(600);

struct Harness {
    service: Service,
    stub: GitHubStub,
    pool: PgPool,
    demo: DemoRepo,
    folder: TempDir,
    asv: PathBuf,
}

impl Harness {
    /// Starts the stand-in, the demo repository and the service. Returns
    /// `None` (after printing why) when asv cannot be installed outside CI.
    async fn start(pool: PgPool, change: impl FnOnce(&mut Config)) -> Option<Harness> {
        let asv = asv_venv::asv_executable()?;
        let stub = GitHubStub::start().await;
        let folder = tempfile::Builder::new()
            .prefix("service-loop-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("test folder");
        let demo = create_demo_repo(&folder.path().join("remote")).expect("demo repository");

        let mut config = Config::default();
        config.github.webhook_secret = Some(SecretString::from(SECRET));
        config.github.api_url = stub.url().to_owned();
        config.github.app_id = Some(TEST_APP_ID);
        config.github.private_key = Some(SecretString::from(TEST_APP_PRIVATE_KEY));
        config.server.public_url = "http://pitot.test".to_owned();
        config.jobs.machine = "e2e-machine".to_owned();
        config.jobs.asv_program = Some(asv.clone());
        config.jobs.agent_work_dir = Some(folder.path().join("agent"));
        config.jobs.url_rewrites = vec![rewrite(&demo)];
        // A confirmation runs asv a second time. The tests of other parts of
        // the loop turn it off to stay short, and its own test turns it on.
        config.confirm.enabled = false;
        change(&mut config);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("free port");
        let dirs = ServiceDirs {
            home: folder.path().join("home"),
        };
        let service = Service::start(pool.clone(), config, listener, &dirs)
            .await
            .expect("service starts");
        Some(Harness {
            service,
            stub,
            pool,
            demo,
            folder,
            asv,
        })
    }

    /// Returns the real payload for `action`, pointed at the demo's pull
    /// request head.
    fn payload(&self, action: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks/pull_request")
            .join(format!("{action}.payload.json"));
        let mut payload: Value = serde_json::from_slice(&std::fs::read(&path).expect("fixture"))
            .expect("fixture is JSON");
        if payload.get("label").is_some() {
            payload["label"]["name"] = "run-benchmarks".into();
        }
        payload["pull_request"]["head"]["sha"] = self.demo.head_sha.clone().into();
        payload["pull_request"]["base"]["ref"] = self.demo.base_branch.clone().into();
        payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
        payload
    }

    async fn deliver(&self, delivery: &str, payload: &Value) -> reqwest::StatusCode {
        let body = serde_json::to_vec(payload).expect("payload encodes");
        let signature = pitot_github::sign(SECRET.as_bytes(), &body);
        send(&self.service.url(), delivery, Some(&signature), body).await
    }

    async fn job_id(&self) -> i64 {
        reporting::pull_request_job_id(&self.pool, REPO, PR as i64, &self.demo.head_sha)
            .await
            .expect("job lookup")
            .expect("the webhook queued a job")
    }

    /// Waits until the outcome of the job's current run is written to GitHub.
    async fn wait_reported(&self, job_id: i64) -> JobOutcome {
        let started = Instant::now();
        loop {
            let outcome = reporting::job_outcome(&self.pool, job_id)
                .await
                .expect("outcome query")
                .expect("job exists");
            if outcome.reported {
                return outcome;
            }
            assert!(
                started.elapsed() < REPORT_WAIT,
                "job {job_id} not reported within {REPORT_WAIT:?}: {outcome:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn comments(&self) -> Vec<pitot_github_stub::Comment> {
        self.stub.comments(REPO, PR)
    }

    fn requests(&self, method: Method, path: &str) -> usize {
        self.stub
            .requests_matching(&RequestMatch::new(method, path))
            .len()
    }
}

fn rewrite(demo: &DemoRepo) -> UrlRewrite {
    UrlRewrite {
        prefix: CLONE_URL.to_owned(),
        replacement: demo.path.display().to_string(),
    }
}

async fn send(
    server: &str,
    delivery: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("{server}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", delivery);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request
        .body(body)
        .send()
        .await
        .expect("server answers")
        .status()
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Returns the lines of `body` between the heading that contains `title`
/// and the next heading or `<details>`.
fn section<'a>(body: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = body
        .lines()
        .skip_while(|line| !(line.starts_with("**") && line.contains(title)));
    lines.next();
    lines
        .take_while(|line| !line.starts_with("**") && !line.starts_with("<details>"))
        .filter(|line| line.starts_with('|'))
        .collect()
}

/// Returns the path of the first chart URL of `kind` (`summary` or
/// `history`) for the job in a comment.
#[track_caller]
fn chart_path(body: &str, job_id: i64, kind: &str) -> String {
    let prefix = format!("http://pitot.test/charts/jobs/{job_id}/{kind}-");
    let start = body
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {kind} chart URL: {body}"));
    let length = body[start..].find(".png").expect("URL ends with .png") + ".png".len();
    body[start + "http://pitot.test".len()..start + length].to_owned()
}

/// Fetches `path` from the running service and asserts that it is a PNG.
async fn assert_png(harness: &Harness, path: &str) {
    let response = reqwest::get(format!("{}{path}", harness.service.url()))
        .await
        .expect("server answers");
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{path}");
    assert_eq!(
        response.headers()["content-type"],
        "image/png",
        "{path}"
    );
    let bytes = response.bytes().await.expect("body is readable");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{path} is a PNG");
}

fn mentions(rows: &[&str], benchmark: &str) -> bool {
    rows.iter()
        .any(|row| row.contains(&format!("`{benchmark}`")))
}

#[sqlx::test]
async fn labelled_pull_request_gets_one_comment_and_a_check_run(pool: PgPool) {
    let _asv = ASV_RUNS.lock().await;
    let Some(harness) = Harness::start(pool, |_| {}).await else {
        return;
    };
    // GitHub responds to the first comment POST with 502 and to the second
    // with a secondary rate limit. The comment must still be posted exactly once.
    let comment_posts = RequestMatch::post("/repos/*/*/issues/*/comments");
    harness
        .stub
        .fail_next(comment_posts.clone(), Failure::BadGateway, 1);
    harness.stub.fail_next(
        comment_posts,
        Failure::SecondaryRateLimit {
            retry_after_secs: 1,
        },
        1,
    );

    // The same delivery twice at once, as a redelivery racing the original.
    let payload = harness.payload("labeled");
    let (first, second) = tokio::join!(
        harness.deliver("delivery-1", &payload),
        harness.deliver("delivery-1", &payload)
    );
    assert!(first.is_success(), "{first}");
    assert!(second.is_success(), "{second}");
    assert_eq!(count(&harness.pool, "deliveries").await, 1);
    assert_eq!(count(&harness.pool, "jobs").await, 1);

    let job_id = harness.job_id().await;
    let outcome = harness.wait_reported(job_id).await;
    assert_eq!(outcome.state, JobState::Reported, "{outcome:?}");
    check_metrics_after_one_run(&harness).await;

    let comments = harness.comments();
    assert_eq!(comments.len(), 1, "one sticky comment");
    let body = &comments[0].body;
    assert_eq!(
        Some(body),
        outcome.comment_body.as_ref(),
        "the stored body is the posted one"
    );
    assert!(body.contains("**Regressed**"), "{body}");
    assert!(
        body.contains(&harness.demo.head_sha),
        "head sha linked: {body}"
    );
    let merge_base = &harness.demo.merge_base_sha;
    assert!(
        body.contains(merge_base.as_str()),
        "merge-base linked: {body}"
    );
    assert!(body.contains("`e2e-machine`"), "machine named: {body}");
    let significant = section(body, "Significant changes");
    assert!(
        mentions(&significant, &harness.demo.slowed_benchmark),
        "slowed benchmark among the significant changes: {body}"
    );
    assert!(
        significant
            .iter()
            .any(|row| row.contains("worse") && row.contains("unique_words")),
        "marked worse: {body}"
    );
    // A first run has no history, so the factor is the threshold; the
    // ratio carries its interval.
    assert!(
        significant
            .iter()
            .any(|row| row.contains("unique_words") && row.contains("% (default)")),
        "threshold shown: {body}"
    );
    assert!(
        significant
            .iter()
            .any(|row| row.contains("unique_words") && row.contains(" [")),
        "interval shown: {body}"
    );
    assert!(
        body.contains("pitot's verdict: a benchmark changed when"),
        "verdict explained: {body}"
    );
    assert!(body.contains("too little history"), "{body}");
    // The demo's benchmarks take a few hundred microseconds with two rounds,
    // so on a busy machine an unchanged one can move by half (CI once saw
    // `time_running_mean` at 1.47 [1.22, 1.59]). What the test can rely on
    // is the order: the slowed benchmark, about 15 times slower, is the
    // worst row.
    let worse: Vec<&str> = body.lines().filter(|line| line.starts_with("| **worse**")).collect();
    assert!(
        worse.first().is_some_and(|row| row.contains(&format!("`{}`", harness.demo.slowed_benchmark))),
        "the slowed benchmark is the worst row: {body}"
    );
    assert!(
        body.contains("http://pitot.test/jobs/"),
        "dashboard link: {body}"
    );
    let summary = chart_path(body, job_id, "summary");
    assert!(
        body.contains(&format!("![Head/base ratio of each benchmark, log scale](http://pitot.test{summary})")),
        "summary chart embedded: {body}"
    );
    assert_png(&harness, &summary).await;
    let history = chart_path(body, job_id, "history");
    assert!(
        body.contains(&format!("[`{}`](http://pitot.test{history})", harness.demo.slowed_benchmark)),
        "history of the slowed benchmark linked: {body}"
    );
    assert_png(&harness, &history).await;
    // 502, 403, then the successful POST.
    assert_eq!(
        harness.requests(Method::POST, "/repos/*/*/issues/*/comments"),
        3
    );

    let check_runs = harness.stub.check_runs(REPO);
    assert_eq!(check_runs.len(), 1, "{check_runs:?}");
    let check_run = &check_runs[0];
    assert_eq!(check_run.head_sha, harness.demo.head_sha);
    assert_eq!(check_run.status, "completed");
    assert_eq!(check_run.conclusion.as_deref(), Some("failure"));
    assert_eq!(check_run.output.title.as_deref(), Some("Regressed"));

    // The label removed and added again: a new run, the same comment edited.
    assert!(harness
        .deliver("delivery-2", &harness.payload("unlabeled"))
        .await
        .is_success());
    assert!(harness
        .deliver("delivery-3", &harness.payload("labeled"))
        .await
        .is_success());
    let rerun = harness.wait_reported(job_id).await;
    assert_eq!(rerun.state, JobState::Reported, "{rerun:?}");
    let comments = harness.comments();
    assert_eq!(comments.len(), 1, "still one comment");
    assert_eq!(comments[0].id, harness.comments()[0].id);
    assert_eq!(
        harness.requests(Method::POST, "/repos/*/*/issues/*/comments"),
        3,
        "no second POST"
    );
    assert!(
        harness.requests(Method::PATCH, "/repos/*/*/issues/comments/*") >= 1,
        "the comment was edited"
    );
    assert_eq!(
        harness.stub.check_runs(REPO).len(),
        2,
        "the new run has its own check run"
    );

    harness.service.stop().await.expect("clean stop");
    drop(harness.folder);
}

#[sqlx::test]
async fn killed_agent_job_is_retried_and_failures_are_listed(pool: PgPool) {
    let _asv = ASV_RUNS.lock().await;
    let Some(mut harness) = Harness::start(pool, |config| {
        config.jobs.in_process_agent = false;
        config.jobs.lease = Duration::from_secs(4);
    })
    .await
    else {
        return;
    };
    harness.demo.head_sha = add_hostile_commit(&harness.demo);

    assert!(harness
        .deliver("delivery-1", &harness.payload("labeled"))
        .await
        .is_success());
    let job_id = harness.job_id().await;

    // The first agent claims the job and is stopped in the middle of it,
    // without a report, as when its machine goes away.
    let first = spawn_agent(&harness, "agent-first").await;
    wait_for_state(&harness.pool, job_id, "running").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.0.cancel();
    first
        .1
        .await
        .expect("agent task")
        .expect("agent stops cleanly");
    let state: (String, i32) = sqlx::query_as("SELECT state, attempt FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(&harness.pool)
        .await
        .expect("job row");
    assert_eq!(
        state,
        ("running".to_owned(), 1),
        "no report from the stopped agent"
    );

    // The lease expires, the job is queued again and the second agent runs it.
    let second = spawn_agent(&harness, "agent-second").await;
    let outcome = harness.wait_reported(job_id).await;
    second.0.cancel();
    second
        .1
        .await
        .expect("agent task")
        .expect("agent stops cleanly");
    assert_eq!(outcome.state, JobState::Reported, "{outcome:?}");
    let (attempt, agent): (i32, String) =
        sqlx::query_as("SELECT attempt, agent FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(&harness.pool)
            .await
            .expect("job row");
    assert_eq!((attempt, agent.as_str()), (2, "agent-second"));

    let comments = harness.comments();
    assert_eq!(comments.len(), 1, "reported once");
    let body = &comments[0].body;
    assert!(
        mentions(
            &section(body, "Failed on head"),
            "benchmarks.TextSuite.time_word_frequencies"
        ),
        "failing benchmark listed as failed: {body}"
    );
    assert!(
        mentions(&section(body, "Failed on head"), "benchmarks.time_hangs"),
        "a benchmark past its timeout listed as failed: {body}"
    );
    let new_rows = section(body, "New benchmarks");
    assert!(
        mentions(&new_rows, "benchmarks.time_new_on_head"),
        "new benchmark listed as new: {body}"
    );
    assert!(
        !mentions(
            &section(body, "Significant changes"),
            "benchmarks.time_new_on_head"
        ),
        "a new benchmark is not an improvement: {body}"
    );
    let hostile = body
        .lines()
        .filter(|line| line.starts_with('|') && line.contains("time_hostile"));
    assert_eq!(
        hostile.count(),
        4,
        "one table row per hostile parameter: {body}"
    );
    // Every row of every table has as many cell separators as its header.
    let mut header_pipes = None;
    for line in body.lines() {
        if !line.starts_with('|') {
            header_pipes = None;
            continue;
        }
        let pipes = unescaped_pipes(line);
        let expected = *header_pipes.get_or_insert(pipes);
        assert_eq!(pipes, expected, "a name broke the table: {line}");
    }
    for line in body.lines() {
        for needle in ["<script>", "@someone"] {
            if let Some(index) = line.find(needle) {
                let ticks_before = line[..index].matches('`').count();
                assert!(
                    ticks_before % 2 == 1,
                    "{needle} outside a code span: {line}"
                );
            }
        }
    }
    assert_eq!(
        harness.stub.check_runs(REPO)[0].conclusion.as_deref(),
        Some("failure"),
        "a benchmark failed"
    );
    harness.service.stop().await.expect("clean stop");
}

/// A confirm job's kind, state, required machine, rounds, `--bench`
/// expression and head.
type ConfirmationRow = (String, String, Option<String>, Option<i32>, Option<String>, String);

#[sqlx::test]
async fn flagged_regression_is_confirmed_before_comment(pool: PgPool) {
    let _asv = ASV_RUNS.lock().await;
    let Some(harness) = Harness::start(pool, |config| {
        config.confirm.enabled = true;
        config.confirm.rounds = 3;
    })
    .await
    else {
        return;
    };

    assert!(harness
        .deliver("delivery-1", &harness.payload("labeled"))
        .await
        .is_success());
    let job_id = harness.job_id().await;
    let outcome = harness.wait_reported(job_id).await;

    assert_eq!(outcome.state, JobState::Reported, "{outcome:?}");
    let confirmations: Vec<ConfirmationRow> =
        sqlx::query_as(
            "SELECT kind, state, required_machine, rounds, bench, head_sha FROM jobs
             WHERE parent_job_id = $1",
        )
        .bind(job_id)
        .fetch_all(&harness.pool)
        .await
        .expect("confirmation rows");
    assert_eq!(confirmations.len(), 1, "one confirmation: {confirmations:?}");
    let (kind, state, machine, rounds, bench, head_sha) = &confirmations[0];
    assert_eq!(kind, "confirm");
    assert_eq!(state, "reported", "the confirmation is closed with its parent");
    assert_eq!(machine.as_deref(), Some("e2e-machine"));
    assert_eq!(*rounds, Some(3));
    assert_eq!(head_sha, &harness.demo.head_sha);
    let bench = bench.as_deref().expect("a --bench expression");
    assert!(bench.starts_with("^(?:"), "{bench}");
    assert!(bench.ends_with(")$"), "{bench}");
    assert!(
        bench.contains(r"benchmarks\.TextSuite\.time_unique_words"),
        "the slowed benchmark is re-run: {bench}"
    );
    let log: String = sqlx::query_scalar(
        "SELECT job_reports.log FROM job_reports JOIN jobs ON jobs.id = job_reports.job_id
         WHERE jobs.parent_job_id = $1",
    )
    .bind(job_id)
    .fetch_one(&harness.pool)
    .await
    .expect("the confirmation's report");
    assert!(log.contains("--attribute rounds=3"), "{log}");
    assert!(log.contains("--bench ^(?:"), "{log}");

    let comments = harness.comments();
    assert_eq!(comments.len(), 1, "one sticky comment");
    assert_eq!(
        harness.requests(Method::POST, "/repos/*/*/issues/*/comments"),
        1,
        "the comment is written once, after the confirmation"
    );
    let body = &comments[0].body;
    assert!(body.contains("**Regressed**"), "{body}");
    assert!(body.contains("Confirmed "), "{body}");
    assert!(body.contains("with 3 rounds on the same machine"), "{body}");
    assert!(
        body.contains("[confirmation run](http://pitot.test/jobs/"),
        "the confirmation run is linked: {body}"
    );
    assert!(
        mentions(&section(body, "Significant changes"), &harness.demo.slowed_benchmark),
        "the slowed benchmark is confirmed: {body}"
    );
    assert!(
        !mentions(&section(body, "Not confirmed"), &harness.demo.slowed_benchmark),
        "{body}"
    );
    let check_runs = harness.stub.check_runs(REPO);
    assert_eq!(check_runs.len(), 1, "{check_runs:?}");
    assert_eq!(check_runs[0].conclusion.as_deref(), Some("failure"));
    assert_eq!(check_runs[0].output.title.as_deref(), Some("Regressed"));
    // asv runs for many seconds, so the check run exists before the first
    // comparison, and it shows the confirmation while that runs.
    let titles: Vec<String> = harness
        .stub
        .requests_matching(&RequestMatch::new(Method::PATCH, "/repos/*/*/check-runs/*"))
        .into_iter()
        .filter_map(|request| request.body?["output"]["title"].as_str().map(str::to_owned))
        .collect();
    assert!(
        titles.iter().any(|title| title.starts_with("Confirming regressions of ")),
        "{titles:?}"
    );
    assert_eq!(titles.last().map(String::as_str), Some("Regressed"), "{titles:?}");

    harness.service.stop().await.expect("clean stop");
}

/// A loopback TCP proxy whose link can be cut. While cut, it closes the
/// connections it carries and every new one at once, so the agent's
/// requests fail as they do when the server is unreachable.
struct CuttableLink {
    url: String,
    cut: Arc<AtomicBool>,
    /// Connections accepted while the link was up.
    carried: Arc<AtomicUsize>,
    /// The tasks copying bytes of open connections, aborted by a cut.
    open: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl CuttableLink {
    async fn start(upstream: &str) -> CuttableLink {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let link = CuttableLink {
            url,
            cut: Arc::default(),
            carried: Arc::default(),
            open: Arc::default(),
        };
        let (cut, carried, open) = (link.cut.clone(), link.carried.clone(), link.open.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut.load(Ordering::SeqCst) {
                    continue; // Dropping the socket closes it.
                }
                carried.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                let copy = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().expect("lock").push(copy);
            }
        });
        link
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for copy in self.open.lock().expect("lock").drain(..) {
            copy.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[sqlx::test]
async fn cut_off_agent_loses_its_lease_and_is_reported_once(pool: PgPool) {
    let _asv = ASV_RUNS.lock().await;
    let Some(harness) = Harness::start(pool, |config| {
        config.jobs.in_process_agent = false;
        config.jobs.lease = Duration::from_secs(4);
    })
    .await
    else {
        return;
    };
    let link = CuttableLink::start(&harness.service.url()).await;
    assert!(harness
        .deliver("delivery-1", &harness.payload("labeled"))
        .await
        .is_success());
    let job_id = harness.job_id().await;

    // The first agent reaches the server through the link, claims the job,
    // and loses the network in the middle of the run.
    let first = spawn_agent_at(&harness, "agent-first", link.url.clone()).await;
    wait_for_state(&harness.pool, job_id, "running").await;
    link.cut();

    // Its lease expires, and the second agent, which has a network, runs
    // the job again and reports it.
    let second = spawn_agent(&harness, "agent-second").await;
    let outcome = harness.wait_reported(job_id).await;
    assert_eq!(outcome.state, JobState::Reported, "{outcome:?}");

    // The network comes back: the first agent reconnects, finds nothing to
    // report for a lease it lost, and keeps serving.
    let carried_before = link.carried.load(Ordering::SeqCst);
    link.restore();
    let started = Instant::now();
    while link.carried.load(Ordering::SeqCst) == carried_before {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first agent never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!first.1.is_finished(), "the first agent gave up");
    for (shutdown, task) in [first, second] {
        shutdown.cancel();
        task.await.expect("agent task").expect("agent stops cleanly");
    }

    let (attempt, agent): (i32, String) =
        sqlx::query_as("SELECT attempt, agent FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(&harness.pool)
            .await
            .expect("job row");
    assert_eq!(attempt, 2, "claimed once per agent");
    assert_eq!(agent, "agent-second");
    let reports: Vec<i32> =
        sqlx::query_scalar("SELECT attempt FROM job_reports WHERE job_id = $1")
            .bind(job_id)
            .fetch_all(&harness.pool)
            .await
            .expect("reports");
    assert_eq!(reports, vec![2], "only the second attempt reported");
    assert_eq!(harness.comments().len(), 1, "one comment");
    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn head_that_fails_to_build_fails_the_run(pool: PgPool) {
    let _asv = ASV_RUNS.lock().await;
    let Some(mut harness) = Harness::start(pool, |_| {}).await else {
        return;
    };
    harness.demo.head_sha = add_head_commit(
        &harness.demo,
        "Break the build",
        // setuptools runs setup.py when there is one, so the wheel build fails.
        &[("setup.py", "raise SystemExit(\"the build is broken on purpose\")\n")],
    );

    assert!(harness
        .deliver("delivery-1", &harness.payload("labeled"))
        .await
        .is_success());
    let job_id = harness.job_id().await;
    let outcome = harness.wait_reported(job_id).await;

    // The run failed before there was a comparison. The comment gives the
    // reason and quotes the build's error, and the check is neutral.
    assert_eq!(outcome.state, JobState::Failed, "{outcome:?}");
    let comments = harness.comments();
    assert_eq!(comments.len(), 1, "one comment");
    let body = &comments[0].body;
    assert!(body.contains("Benchmark run failed"), "{body}");
    assert!(
        body.contains("building or installing the project probably failed"),
        "{body}"
    );
    assert!(body.contains(&harness.demo.head_sha), "{body}");
    assert!(body.contains("the build is broken on purpose"), "the build's error: {body}");
    let check_runs = harness.stub.check_runs(REPO);
    assert_eq!(check_runs[0].conclusion.as_deref(), Some("neutral"));
    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn bad_signature_is_rejected(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let folder = TempDir::new().expect("folder");
    let mut config = Config::default();
    config.github.webhook_secret = Some(SecretString::from(SECRET));
    config.github.api_url = stub.url().to_owned();
    config.jobs.in_process_agent = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("free port");
    let dirs = ServiceDirs {
        home: folder.path().to_owned(),
    };
    let service = Service::start(pool.clone(), config, listener, &dirs)
        .await
        .expect("service starts");

    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/webhooks/pull_request/labeled.payload.json"),
    )
    .expect("fixture");
    let wrong = pitot_github::sign(b"another secret", &body);
    assert_eq!(
        send(&service.url(), "d-1", Some(&wrong), body.clone()).await,
        401
    );
    assert_eq!(send(&service.url(), "d-2", None, body.clone()).await, 401);
    let right = pitot_github::sign(SECRET.as_bytes(), &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        send(&service.url(), "d-3", Some(&right), tampered).await,
        401
    );

    assert_eq!(count(&pool, "deliveries").await, 0);
    assert_eq!(count(&pool, "jobs").await, 0);
    assert!(stub.requests().is_empty(), "no GitHub call");
    service.stop().await.expect("clean stop");
}

/// Scrapes `/metrics` after the first run of the labelled pull request
/// and checks each series against what the run did.
async fn check_metrics_after_one_run(harness: &Harness) {
    let response = reqwest::get(format!("{}/metrics", harness.service.url()))
        .await
        .expect("server answers");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("metrics text");

    let deliveries = |outcome: &str| {
        format!("pitot_webhook_deliveries_total{{event=\"pull_request\",outcome=\"{outcome}\"}}")
    };
    assert_eq!(sample(&text, &deliveries("job_queued")), 1.0);
    assert_eq!(sample(&text, &deliveries("redelivery")), 1.0);
    assert_eq!(sample(&text, "pitot_jobs{state=\"reported\"}"), 1.0);
    assert_eq!(sample(&text, "pitot_jobs{state=\"running\"}"), 0.0);
    assert_eq!(sample(&text, "pitot_job_queue_wait_seconds_count"), 1.0);
    assert_eq!(sample(&text, "pitot_job_run_duration_seconds_count"), 1.0);
    // The run took at least the two asv runs; it cannot be under a second.
    let run_seconds = sample(&text, "pitot_job_run_duration_seconds_sum");
    assert!(run_seconds > 1.0, "run took {run_seconds} s");
    assert_eq!(
        sample(&text, "pitot_ingested_values_total"),
        count(&harness.pool, "results").await as f64
    );

    // Every request the stand-in received, by the status it answered.
    let sent = harness.stub.requests().len();
    let counted: f64 = text
        .lines()
        .filter(|line| line.starts_with("pitot_github_requests_total{"))
        .filter_map(|line| line.rsplit_once(' '))
        .map(|(_, value)| value.parse::<f64>().expect("a number"))
        .sum();
    assert_eq!(counted, sent as f64, "{text}");
    assert_eq!(sample(&text, "pitot_github_requests_total{status=\"502\"}"), 1.0);
    assert_eq!(sample(&text, "pitot_github_requests_total{status=\"403\"}"), 1.0);
    // The stand-in sends 5000 minus the requests it has received, and the
    // last response was to the last request.
    assert_eq!(
        sample(&text, "pitot_github_rate_limit_remaining{resource=\"core\"}"),
        (5000 - sent) as f64
    );
}

/// Returns the value of the sample written exactly as `series`.
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

/// Counts the `|` that separate cells (those not escaped as `\|`).
fn unescaped_pipes(row: &str) -> usize {
    let bytes = row.as_bytes();
    (0..bytes.len())
        .filter(|&index| bytes[index] == b'|' && (index == 0 || bytes[index - 1] != b'\\'))
        .count()
}

/// Adds a commit on the pull request branch and returns its id. The commit
/// breaks one function of the project, adds another with a benchmark for
/// it, and adds benchmarks whose parameter values are built to break
/// Markdown.
///
/// `asv continuous` runs the head's benchmark suite on both commits, so
/// the new benchmark fails on base (its function does not exist there).
fn add_hostile_commit(demo: &DemoRepo) -> String {
    add_head_commit(
        demo,
        "Break one function, add another",
        &[
            (
                "src/pitot_demo/text.py",
                "\n\ndef word_frequencies(text):\n    raise RuntimeError(\"broken on purpose\")\n\n\ndef longest_word(text):\n    return max(text.split(), key=len)\n",
            ),
            (
                "src/pitot_demo/__init__.py",
                "from pitot_demo.text import longest_word  # noqa: E402\n",
            ),
            (
                "benchmarks/benchmarks.py",
                "\n\ndef time_new_on_head():\n    from pitot_demo import longest_word\n\n    longest_word(\"a bb ccc\")\n\n\nclass Hostile:\n    params = [\"a|b\", \"`tick`\", \"<script>alert(1)</script>\", \"@someone\"]\n    param_names = [\"name\"]\n\n    def time_hostile(self, name):\n        len(name)\n\n\ndef time_hangs():\n    import time\n\n    time.sleep(60)\n\n\ntime_hangs.timeout = 2\n",
            ),
        ],
    )
}

/// Commits `appends` (text added to the end of each file, created when
/// missing) on the demo's head branch and returns the new head.
fn add_head_commit(demo: &DemoRepo, message: &str, appends: &[(&str, &str)]) -> String {
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(args)
            .current_dir(&demo.path)
            .env("GIT_AUTHOR_NAME", "pitot tests")
            .env("GIT_AUTHOR_EMAIL", "tests@pitot.invalid")
            .env("GIT_COMMITTER_NAME", "pitot tests")
            .env("GIT_COMMITTER_EMAIL", "tests@pitot.invalid")
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    git(&["checkout", "--quiet", &demo.head_branch]);
    for (relative, text) in appends {
        let path = demo.path.join(relative);
        let mut source = std::fs::read_to_string(&path).unwrap_or_default();
        source.push_str(text);
        std::fs::write(&path, source).expect("write demo file");
    }
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "--message", message]);
    let head = git(&["rev-parse", "HEAD"]);
    git(&["checkout", "--quiet", &demo.base_branch]);
    head
}

async fn spawn_agent(
    harness: &Harness,
    name: &str,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    spawn_agent_at(harness, name, harness.service.url()).await
}

/// Starts an agent that reaches the server at `server_url`.
async fn spawn_agent_at(
    harness: &Harness,
    name: &str,
    server_url: String,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let token = pitot_server::agent_tokens::create_agent_token(&harness.pool, name)
        .await
        .expect("token");
    let mut config = AgentConfig::new(server_url, token, harness.folder.path().join(name));
    config.name = name.to_owned();
    config.machine = Some("e2e-machine".to_owned());
    config.asv_program = Some(harness.asv.clone());
    config.url_rewrites = vec![rewrite(&harness.demo)];
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(pitot_runner::agent::run(config, shutdown.clone()));
    (shutdown, task)
}

async fn wait_for_state(pool: &PgPool, job_id: i64, expected: &str) {
    let started = Instant::now();
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_one(pool)
            .await
            .expect("job row");
        if state == expected {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "job {job_id} stayed {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
