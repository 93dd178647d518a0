//! Quarantined benchmarks in the reporter's output, end to end: an agent
//! reports real asv results of a regressed head twice, and between the
//! runs a maintainer quarantines, through the JSON API, every benchmark
//! that regressed or failed. The second comment still shows them, and the
//! check passes.

use std::time::{Duration, Instant};

use pitot_github_stub::{GitHubStub, TEST_INSTALLATION_ID};
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::api_tokens::{create_api_token, ApiScope};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;

#[path = "support/github_app.rs"]
mod github_app;

const SECRET: &str = "quarantine-secret";
const REPO: &str = "Codertocat/Hello-World";
const PR: u64 = 2;
const BASE: &str = "22b920c6d0d54112ccbc020eddba9ea7a2d204f3";
const HEAD: &str = "fcf8c079fae7ebad9f27bd31a819f0e4fdd85b99";
const MACHINE: &str = "cheetah";
const RESULTS: &str = "tests/fixtures/asv/example_results";

fn fixture(relative: &str) -> String {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn label_payload(action: &str) -> Value {
    let mut payload: Value = serde_json::from_str(&fixture(&format!(
        "tests/fixtures/webhooks/pull_request/{action}.payload.json"
    )))
    .expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["number"] = PR.into();
    payload["pull_request"]["number"] = PR.into();
    payload["pull_request"]["head"]["sha"] = HEAD.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

/// Returns the agent's report of the job: the fixture's real results of
/// both commits.
fn report(attempt: &Value) -> Value {
    let results_file = |sha: &str| {
        let name = format!("{}-py2.7-Cython-numpy1.8.json", &sha[..8]);
        json!({
            "path": format!("{MACHINE}/{name}"),
            "content": fixture(&format!("{RESULTS}/{MACHINE}/{name}")),
        })
    };
    json!({
        "attempt": attempt,
        "base_sha": BASE,
        "head_sha": HEAD,
        "machine": MACHINE,
        "benchmarks_json": fixture(&format!("{RESULTS}/benchmarks.json")),
        "results": [results_file(BASE), results_file(HEAD)],
        "log": "asv continuous\n",
        "outcome": "completed",
    })
}

struct Harness {
    stub: GitHubStub,
    base: String,
    agent_token: String,
    deliveries: u32,
}

impl Harness {
    async fn deliver(&mut self, action: &str) {
        self.deliveries += 1;
        let response = github_app::post_webhook(
            &self.base,
            SECRET,
            "pull_request",
            &format!("delivery-{}", self.deliveries),
            &label_payload(action),
        )
        .await;
        assert_eq!(response.status(), 202);
    }

    /// Claims the job as an agent, reports the fixture's results, and
    /// waits for the check run of that attempt to complete.
    async fn run_and_wait(&self, completed_before: usize) -> Value {
        let client = reqwest::Client::new();
        let claimed: Value = client
            .post(format!("{}{CLAIM_PATH}", self.base))
            .bearer_auth(&self.agent_token)
            .json(&json!({"agent": "bench-1", "machine": MACHINE}))
            .send()
            .await
            .expect("claim answers")
            .json()
            .await
            .expect("a claimed job");
        let job_id = claimed["job_id"].as_i64().expect("job id");
        let response = client
            .post(format!("{}{}", self.base, report_path(job_id)))
            .bearer_auth(&self.agent_token)
            .json(&report(&claimed["attempt"]))
            .send()
            .await
            .expect("report answers");
        assert_eq!(response.status(), 200);

        let started = Instant::now();
        loop {
            let completed: Vec<_> = self
                .stub
                .check_runs(REPO)
                .into_iter()
                .filter(|run| run.status == "completed")
                .collect();
            if completed.len() > completed_before {
                return serde_json::to_value(completed.last().map(|run| {
                    json!({
                        "conclusion": run.conclusion,
                        "title": run.output.title,
                    })
                }))
                .expect("JSON");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no completed check run"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn comment(&self) -> String {
        let comments = self.stub.comments(REPO, PR);
        assert_eq!(comments.len(), 1, "one sticky comment");
        comments[0].body.clone()
    }
}

/// Returns the benchmark names, without parameters, of the comment's
/// rows that start with `prefix`. The name is each row's first code span.
fn benchmarks_of_rows(body: &str, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = body
        .lines()
        .filter(|line| line.starts_with(prefix))
        .filter_map(|line| line.split('`').nth(1))
        .map(|name| name.split('(').next().unwrap_or(name).to_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Returns the benchmark names, without parameters, of a section's table.
fn benchmarks_of_section(body: &str, title: &str) -> Vec<String> {
    let heading = format!("**{title}");
    let rows: Vec<&str> = body
        .lines()
        .skip_while(|line| !line.starts_with(&heading))
        .skip(1)
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .collect();
    benchmarks_of_rows(&rows.join("\n"), "|")
}

#[sqlx::test]
async fn quarantined_regressions_leave_the_check_green(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let mut config = github_app::app_config(&stub, SECRET);
    config.jobs.in_process_agent = false;
    config.jobs.claim_wait = Duration::from_secs(1);
    let (service, _home) = github_app::start_service(pool.clone(), config).await;
    let agent_token = pitot_server::agent_tokens::create_agent_token(&pool, "bench-1")
        .await
        .expect("agent token");
    let mut harness = Harness {
        stub,
        base: service.url(),
        agent_token: agent_token.expose_secret().to_owned(),
        deliveries: 0,
    };

    harness.deliver("labeled").await;
    let first = harness.run_and_wait(0).await;
    let first_body = harness.comment();
    let regressed = benchmarks_of_rows(&first_body, "| **");
    let failed = benchmarks_of_section(&first_body, "Failed on head");
    assert_eq!(first["conclusion"], "failure", "{first_body}");
    assert!(!regressed.is_empty(), "the fixture regresses: {first_body}");

    // Every regressed benchmark is quarantined, the first one as ignored.
    // Benchmarks that fail on head fail the check too, so they are
    // quarantined as noisy.
    let api_token = create_api_token(&pool, "maintainer", &[ApiScope::Quarantine])
        .await
        .expect("API token");
    let mut quarantined = regressed.clone();
    quarantined.extend(
        failed
            .iter()
            .filter(|name| !regressed.contains(name))
            .cloned(),
    );
    for (index, benchmark) in quarantined.iter().enumerate() {
        let kind = if index == 0 { "ignored" } else { "noisy" };
        let response = reqwest::Client::new()
            .put(format!(
                "{}/api/v1/repositories/{REPO}/quarantines/{benchmark}",
                harness.base
            ))
            .bearer_auth(api_token.expose_secret())
            .json(&json!({ "kind": kind, "reason": "jitter | on shared runners" }))
            .send()
            .await
            .expect("quarantine answers");
        assert_eq!(response.status(), 200, "{benchmark}");
    }
    harness.deliver("unlabeled").await;
    harness.deliver("labeled").await;
    let second = harness.run_and_wait(1).await;
    let body = harness.comment();

    assert_eq!(second["conclusion"], "success", "{body}");
    assert_ne!(second["title"], "Regressed", "{body}");
    assert!(!body.contains("**Regressed**"), "{body}");
    assert!(
        benchmarks_of_rows(&body, "| **").is_empty(),
        "no bold worse row left: {body}"
    );
    assert!(body.contains("ignored by quarantine"), "counted: {body}");
    let ignored = &regressed[0];
    assert!(
        !body.contains(&format!("`{ignored}")),
        "the ignored benchmark has no row: {body}"
    );
    if regressed.len() > 1 {
        assert!(body.contains("quarantined as noisy"), "{body}");
        assert!(
            body.contains("**Quarantined as noisy, never failing the check"),
            "{body}"
        );
        let noisy = benchmarks_of_rows(&body, "| worse |");
        assert!(
            noisy.iter().all(|name| quarantined.contains(name)),
            "{noisy:?} in {body}"
        );
        assert!(
            body.contains("noisy: `jitter \\| on shared runners`"),
            "the reason, escaped for the table: {body}"
        );
    }
    service.stop().await.expect("clean stop");
}
