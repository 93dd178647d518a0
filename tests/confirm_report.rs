//! Confirmation of flagged regressions through the real server, with a
//! hand-driven agent. The first report contains real asv results of a
//! regressed head. Then the confirmation's report repeats the base's
//! values for the head (nothing confirmed), or it fails, or a push
//! supersedes the confirmation before it starts. In every case the
//! comment is written once, after the confirmation.

use std::time::{Duration, Instant};

use pitot_github_stub::{GitHubStub, TEST_INSTALLATION_ID};
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::service::Service;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tempfile::TempDir;

#[path = "support/github_app.rs"]
mod github_app;

const SECRET: &str = "confirm-secret";
const REPO: &str = "Codertocat/Hello-World";
const PR: u64 = 2;
const BASE: &str = "22b920c6d0d54112ccbc020eddba9ea7a2d204f3";
const HEAD: &str = "fcf8c079fae7ebad9f27bd31a819f0e4fdd85b99";
const MACHINE: &str = "cheetah";
const RESULTS: &str = "tests/fixtures/asv/example_results";
/// A benchmark about 30 times slower on the fixture's head.
const SLOWED: &str = "time_units.time_unit_parse";

fn fixture(relative: &str) -> String {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Returns the fixture payload of a `pull_request` event with `action`,
/// for the pull request's head `head_sha`.
fn pull_request_payload(action: &str, head_sha: &str) -> Value {
    let mut payload: Value = serde_json::from_str(&fixture(&format!(
        "tests/fixtures/webhooks/pull_request/{action}.payload.json"
    )))
    .expect("JSON");
    if payload.get("label").is_some() {
        payload["label"]["name"] = "run-benchmarks".into();
    }
    payload["number"] = PR.into();
    payload["pull_request"]["number"] = PR.into();
    payload["pull_request"]["head"]["sha"] = head_sha.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

/// Returns the fixture's results file of `source`, recorded as `commit`.
/// The text is edited, not parsed, because asv writes `NaN`, which is not
/// JSON.
fn results_file(source: &str, commit: &str) -> Value {
    let name = format!("{}-py2.7-Cython-numpy1.8.json", &source[..8]);
    let content = fixture(&format!("{RESULTS}/{MACHINE}/{name}"));
    assert!(content.contains(source), "{name} names its commit");
    json!({
        "path": format!("{MACHINE}/{}-py2.7-Cython-numpy1.8.json", &commit[..8]),
        "content": content.replace(source, commit),
    })
}

/// Returns a completed report whose head results are those of `head_source`.
fn completed_report(attempt: &Value, head_source: &str) -> Value {
    json!({
        "attempt": attempt,
        "base_sha": BASE,
        "head_sha": HEAD,
        "machine": MACHINE,
        "benchmarks_json": fixture(&format!("{RESULTS}/benchmarks.json")),
        "results": [results_file(BASE, BASE), results_file(head_source, HEAD)],
        "log": "asv continuous\n",
        "outcome": "completed",
    })
}

struct Harness {
    service: Service,
    pool: PgPool,
    _home: TempDir,
    stub: GitHubStub,
    agent_token: String,
}

impl Harness {
    async fn start(pool: PgPool) -> Harness {
        let stub = GitHubStub::start().await;
        let mut config = github_app::app_config(&stub, SECRET);
        config.server.public_url = "http://pitot.test".to_owned();
        config.jobs.in_process_agent = false;
        config.jobs.claim_wait = Duration::from_secs(1);
        config.confirm.enabled = true;
        config.confirm.rounds = 4;
        config.confirm.max_benchmarks = 100;
        let (service, home) = github_app::start_service(pool.clone(), config).await;
        let agent_token = pitot_server::agent_tokens::create_agent_token(&pool, "bench-1")
            .await
            .expect("agent token");
        Harness {
            service,
            pool,
            _home: home,
            stub,
            agent_token: agent_token.expose_secret().to_owned(),
        }
    }

    async fn deliver(&self, delivery: &str, payload: &Value) {
        let response = github_app::post_webhook(
            &self.service.url(),
            SECRET,
            "pull_request",
            delivery,
            payload,
        )
        .await;
        assert_eq!(response.status(), 202);
    }

    /// Claims a job as an agent on `machine`; `None` when the server has
    /// none for it within the claim wait.
    async fn claim(&self, machine: &str) -> Option<Value> {
        let response = reqwest::Client::new()
            .post(format!("{}{CLAIM_PATH}", self.service.url()))
            .bearer_auth(&self.agent_token)
            .json(&json!({"agent": "bench-1", "machine": machine}))
            .send()
            .await
            .expect("claim answers");
        if response.status() == 204 {
            return None;
        }
        assert_eq!(response.status(), 200);
        Some(response.json().await.expect("a claimed job"))
    }

    /// Claims on [`MACHINE`] until a job comes, for at most a minute.
    async fn claim_next(&self) -> Value {
        let started = Instant::now();
        loop {
            if let Some(job) = self.claim(MACHINE).await {
                return job;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no job to claim"
            );
        }
    }

    async fn report(&self, job: &Value, report: &Value) {
        let job_id = job["job_id"].as_i64().expect("job id");
        let response = reqwest::Client::new()
            .post(format!("{}{}", self.service.url(), report_path(job_id)))
            .bearer_auth(&self.agent_token)
            .json(report)
            .send()
            .await
            .expect("report answers");
        assert_eq!(response.status(), 200);
    }

    /// Waits for the check run to complete and returns its conclusion and title.
    async fn wait_completed(&self) -> (Option<String>, Option<String>) {
        let started = Instant::now();
        loop {
            let runs = self.stub.check_runs(REPO);
            if let Some(run) = runs.iter().find(|run| run.status == "completed") {
                return (run.conclusion.clone(), run.output.title.clone());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no completed check run: {runs:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Labels the pull request, claims its job and reports the first run.
    async fn first_run(&self) -> Value {
        self.deliver("delivery-1", &pull_request_payload("labeled", HEAD))
            .await;
        let parent = self.claim_next().await;
        self.report(&parent, &completed_report(&parent["attempt"], HEAD))
            .await;
        parent
    }

    /// Reports the first run and returns the confirmation job, claimed on
    /// [`MACHINE`] after another machine's claim found nothing.
    async fn first_run_and_confirmation(&self) -> Value {
        let parent = self.first_run().await;

        let other_machine = self.claim("another-machine").await;
        let confirmation = self.claim_next().await;

        assert_eq!(
            other_machine, None,
            "the confirmation is pinned to {MACHINE}"
        );
        assert_ne!(confirmation["job_id"], parent["job_id"]);
        assert!(
            self.stub.comments(REPO, PR).is_empty(),
            "no comment before the confirmation"
        );
        confirmation
    }
}

#[sqlx::test]
async fn regressions_not_repeated_are_unconfirmed(pool: PgPool) {
    let harness = Harness::start(pool).await;

    let confirmation = harness.first_run_and_confirmation().await;
    harness
        .report(
            &confirmation,
            &completed_report(&confirmation["attempt"], BASE),
        )
        .await;
    let (conclusion, title) = harness.wait_completed().await;

    assert_eq!(confirmation["head_sha"], HEAD);
    assert_eq!(confirmation["base_sha"], BASE, "the first run's merge-base");
    assert_eq!(confirmation["pr_number"], Value::Null);
    assert_eq!(confirmation["asv"]["rounds"], 4);
    let bench = confirmation["asv"]["bench"]
        .as_str()
        .expect("a --bench expression");
    assert!(bench.starts_with("^(?:"), "{bench}");
    assert!(bench.contains(r"time_units\.time_unit_parse"), "{bench}");
    assert!(
        !bench.contains("time_latitude"),
        "a new failure is not re-run: {bench}"
    );
    let comments = harness.stub.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "one comment");
    let body = &comments[0].body;
    assert!(body.contains("Confirmed 0 of "), "{body}");
    assert!(body.contains("with 4 rounds on the same machine"), "{body}");
    let confirmation_url = format!(
        "[confirmation run](http://pitot.test/jobs/{})",
        confirmation["job_id"]
    );
    assert!(body.contains(&confirmation_url), "{body}");
    let page = reqwest::get(format!(
        "{}/jobs/{}",
        harness.service.url(),
        confirmation["job_id"]
    ))
    .await
    .expect("job page answers")
    .text()
    .await
    .expect("job page text");
    assert!(page.contains("<th>Kind</th><td>confirm</td>"), "{page}");
    let unconfirmed: Vec<&str> = body
        .lines()
        .skip_while(|line| !line.starts_with("**Not confirmed by a second run"))
        .skip(1)
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .collect();
    assert!(
        unconfirmed
            .iter()
            .any(|line| line.contains(&format!("`{SLOWED}`"))),
        "{body}"
    );
    assert!(
        body.contains(" not confirmed"),
        "counted in the summary line: {body}"
    );
    assert!(
        !body.lines().any(|line| line.starts_with("| **worse**")),
        "no slowdown is left among the significant changes: {body}"
    );
    // The fixture's head also fails benchmarks that passed on base, and a
    // new failure is never re-run, so the check still fails for it.
    assert_eq!(title.as_deref(), Some("Regressed"));
    assert_eq!(conclusion.as_deref(), Some("failure"));

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn failed_confirmation_keeps_first_verdict(pool: PgPool) {
    let harness = Harness::start(pool).await;

    let confirmation = harness.first_run_and_confirmation().await;
    let failed = json!({
        "attempt": confirmation["attempt"],
        "base_sha": BASE,
        "head_sha": HEAD,
        "machine": MACHINE,
        "benchmarks_json": null,
        "results": [],
        "log": "asv continuous\n",
        "outcome": "failed",
        "error": "asv continuous timed out after 60 s and was stopped\nlast log lines",
    });
    harness.report(&confirmation, &failed).await;
    let (conclusion, title) = harness.wait_completed().await;

    let comments = harness.stub.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "one comment");
    let body = &comments[0].body;
    assert!(
        body.contains(
            "Not confirmed: the confirmation run failed: `asv continuous timed out after 60 s and was stopped`. The verdict is the first run's."
        ),
        "{body}"
    );
    assert!(
        !body.contains("last log lines"),
        "only the first line is quoted: {body}"
    );
    assert!(
        body.lines()
            .any(|line| line.starts_with("| **worse**") && line.contains(&format!("`{SLOWED}`"))),
        "the first run's regression stays: {body}"
    );
    assert_eq!(title.as_deref(), Some("Regressed"));
    assert_eq!(conclusion.as_deref(), Some("failure"));

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn push_supersedes_pending_confirmation(pool: PgPool) {
    let harness = Harness::start(pool).await;
    let new_head = "3333333333333333333333333333333333333333";

    harness.first_run().await;
    // The reporter queues the confirmation once it has compared the first
    // run. Until then a push has nothing to supersede.
    let started = Instant::now();
    loop {
        let queued: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'confirm' AND state = 'queued'",
        )
        .fetch_one(&harness.pool)
        .await
        .expect("confirmation count");
        if queued == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no confirmation queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness
        .deliver("delivery-2", &pull_request_payload("synchronize", new_head))
        .await;
    let (conclusion, title) = harness.wait_completed().await;
    let claimed = harness.claim(MACHINE).await;

    assert_eq!(
        claimed, None,
        "the confirmation of the old head never starts"
    );
    let comments = harness.stub.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "one comment");
    let body = &comments[0].body;
    assert!(
        body.contains(
            "Not confirmed: a newer push replaced the head before the confirmation ran. The verdict is the first run's."
        ),
        "{body}"
    );
    assert!(
        body.contains(HEAD),
        "the comment is about the measured head: {body}"
    );
    assert_eq!(title.as_deref(), Some("Regressed"));
    assert_eq!(conclusion.as_deref(), Some("failure"));

    harness.service.stop().await.expect("clean stop");
}
