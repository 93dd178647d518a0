//! The reporter when things go wrong: an agent reports a failed run, and
//! GitHub rejects the comment of another pull request. The failed run
//! gets its "run failed" comment; the rejected job waits for a later try
//! without holding up the other.

use std::time::{Duration, Instant};

use pitot_github_stub::{Failure, GitHubStub, RequestMatch, TEST_INSTALLATION_ID};
use pitot_runner::api::{report_path, CLAIM_PATH};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;

#[path = "support/github_app.rs"]
mod github_app;

const SECRET: &str = "reporter-secret";
const REPO: &str = "Codertocat/Hello-World";

fn labeled_payload(number: u64, head_sha: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/webhooks/pull_request/labeled.payload.json"
    );
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["number"] = number.into();
    payload["pull_request"]["number"] = number.into();
    payload["pull_request"]["head"]["sha"] = head_sha.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

async fn post_json(url: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("server responds")
}

#[sqlx::test]
async fn failed_run_is_reported_and_rejected_comment_waits(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let mut config = github_app::app_config(&stub, SECRET);
    config.jobs.in_process_agent = false;
    config.jobs.claim_wait = Duration::from_secs(1);
    let (service, _home) = github_app::start_service(pool.clone(), config).await;
    let base = service.url();

    // GitHub rejects every comment on pull request 2.
    stub.fail_next(
        RequestMatch::post("/repos/*/*/issues/2/comments"),
        Failure::NotFound,
        1000,
    );

    let heads = [
        (2_u64, "2222222222222222222222222222222222222222"),
        (3, "3333333333333333333333333333333333333333"),
    ];
    for (number, head) in heads {
        let response = github_app::post_webhook(
            &base,
            SECRET,
            "pull_request",
            &format!("delivery-{number}"),
            &labeled_payload(number, head),
        )
        .await;
        assert_eq!(response.status(), 202);
    }

    // An agent claims both jobs and reports each as failed.
    let token = pitot_server::agent_tokens::create_agent_token(&pool, "bench-1")
        .await
        .expect("token");
    let token = token.expose_secret();
    let mut job_ids = Vec::new();
    for _ in heads {
        let claimed: Value = post_json(
            &format!("{base}{CLAIM_PATH}"),
            Some(token),
            &json!({"agent": "bench-1", "machine": "bench-1"}),
        )
        .await
        .json()
        .await
        .expect("a claimed job");
        let job_id = claimed["job_id"].as_i64().expect("job id");
        let report = json!({
            "attempt": claimed["attempt"],
            "base_sha": null,
            "head_sha": claimed["head_sha"],
            "machine": "bench-1",
            "benchmarks_json": null,
            "results": [],
            "log": "fetching\nfatal: repository not found\n",
            "outcome": "failed",
            "error": "git fetch failed: repository `not found`"
        });
        let response = post_json(
            &format!("{base}{}", report_path(job_id)),
            Some(token),
            &report,
        )
        .await;
        assert_eq!(response.status(), 200);
        job_ids.push(job_id);
    }

    // The reporter wakes on the stored reports.
    let started = Instant::now();
    while stub.comments(REPO, 3).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no comment on pull request 3"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let comment = &stub.comments(REPO, 3)[0].body;
    assert!(comment.contains("Benchmark run failed"), "{comment}");
    assert!(
        comment.contains("repository `not found`"),
        "the error is quoted: {comment}"
    );
    assert!(
        comment.contains("fatal: repository not found"),
        "the log's end is quoted: {comment}"
    );
    let check_runs = stub.check_runs(REPO);
    let check_run = check_runs
        .iter()
        .find(|run| run.head_sha == heads[1].1)
        .expect("a check run on the failed head");
    assert_eq!(check_run.conclusion.as_deref(), Some("neutral"));

    assert!(stub.comments(REPO, 2).is_empty());
    let waiting: (String, Option<String>, i32, bool) = sqlx::query_as(
        "SELECT state, github_synced, report_failures, report_after > now() FROM jobs WHERE pr_number = 2",
    )
    .fetch_one(&pool)
    .await
    .expect("job row");
    assert_eq!(
        waiting.0, "ingesting",
        "not finished while its comment is missing"
    );
    assert_ne!(waiting.1.as_deref(), Some("completed"));
    assert!(waiting.2 >= 1, "the failure is counted");
    assert!(waiting.3, "the job waits before the next try");
    let reported: (String, Option<String>) =
        sqlx::query_as("SELECT state, github_synced FROM jobs WHERE pr_number = 3")
            .fetch_one(&pool)
            .await
            .expect("job row");
    assert_eq!(
        reported,
        ("failed".to_owned(), Some("completed".to_owned()))
    );

    service.stop().await.expect("clean stop");
}
