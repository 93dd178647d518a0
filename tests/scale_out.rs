//! The scale-out shape: two `pitot serve` replicas and three agents on one
//! PostgreSQL database, with real asv runs. A burst of deliveries, each
//! sent to both replicas as a load balancer's retry would, must give one
//! job per pull request, run once, with one comment per pull request.
//!
//! The replicas run in this process, each with its own connection pool,
//! workers and listener, as two processes would. The agents are the
//! `pitot agent` loop, split between the two replicas' URLs.

#[path = "support/asv_venv.rs"]
mod asv_venv;
#[path = "support/github_app.rs"]
mod github_app;
// Only `database_url` is used here.
#[allow(dead_code)]
#[path = "support/serve_process.rs"]
mod serve_process;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use pitot_github_stub::{GitHubStub, TEST_INSTALLATION_ID};
use pitot_runner::config::{AgentConfig, UrlRewrite};
use pitot_runner::demo::create_demo_repo;
use pitot_server::service::Service;
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "scale-out-secret";
const REPO: &str = "Codertocat/Hello-World";
const CLONE_URL: &str = "https://github.com/Codertocat/Hello-World.git";
const MACHINE: &str = "scale-out-machine";
/// Pull requests 2 to 5 are labelled at once: more jobs than agents.
const PULL_REQUESTS: std::ops::RangeInclusive<u64> = 2..=5;
const AGENTS: usize = 3;
/// How long the test waits for every job: environment builds and eight
/// benchmark runs on two shared cores.
const ALL_REPORTED_WAIT: Duration = Duration::from_secs(900);

fn labelled_payload(number: u64, head_sha: &str, base_branch: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks/pull_request/labeled.payload.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["number"] = number.into();
    payload["pull_request"]["number"] = number.into();
    payload["pull_request"]["head"]["sha"] = head_sha.into();
    payload["pull_request"]["base"]["ref"] = base_branch.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

/// Returns the number of jobs per state.
async fn job_states(pool: &PgPool) -> BTreeMap<String, i64> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM jobs GROUP BY state")
            .fetch_all(pool)
            .await
            .expect("job states");
    rows.into_iter().collect()
}

/// Waits until every job is reported and its outcome written to GitHub.
async fn wait_all_reported(pool: &PgPool, jobs: i64) {
    let started = Instant::now();
    loop {
        let written: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE state = 'reported' AND github_synced = 'completed'",
        )
        .fetch_one(pool)
        .await
        .expect("reported jobs");
        if written == jobs {
            return;
        }
        let states = job_states(pool).await;
        assert!(!states.contains_key("failed"), "a job failed: {states:?}");
        assert!(
            started.elapsed() < ALL_REPORTED_WAIT,
            "not all jobs reported within {ALL_REPORTED_WAIT:?}: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[sqlx::test]
async fn two_servers_three_agents_run_each_job_once(pool: PgPool) {
    let Some(asv) = asv_venv::asv_executable() else {
        return;
    };
    let stub = GitHubStub::start().await;
    let folder = tempfile::Builder::new()
        .prefix("scale-out-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("test folder");
    let demo = create_demo_repo(&folder.path().join("remote")).expect("demo repository");
    let rewrite = UrlRewrite {
        prefix: CLONE_URL.to_owned(),
        replacement: demo.path.display().to_string(),
    };

    let mut config = github_app::app_config(&stub, SECRET);
    config.server.public_url = "http://pitot.test".to_owned();
    config.jobs.in_process_agent = false;
    let second_pool = PgPool::connect(&serve_process::database_url(&pool).await)
        .await
        .expect("second pool");
    let (first, _first_home) = github_app::start_service(pool.clone(), config.clone()).await;
    let (second, _second_home) = github_app::start_service(second_pool, config).await;
    let servers: [&Service; 2] = [&first, &second];

    // Every delivery goes to both replicas at once.
    let mut sends = Vec::new();
    for number in PULL_REQUESTS {
        let payload = labelled_payload(number, &demo.head_sha, &demo.base_branch);
        let delivery = format!("scale-out-{number}");
        for server in servers {
            let (url, payload, delivery) = (server.url(), payload.clone(), delivery.clone());
            sends.push(tokio::spawn(async move {
                github_app::post_webhook(&url, SECRET, "pull_request", &delivery, &payload)
                    .await
                    .status()
            }));
        }
    }
    for send in sends {
        let status = send.await.expect("sender");
        assert!(status.is_success(), "a delivery was refused: {status}");
    }

    let mut agents = Vec::new();
    for index in 0..AGENTS {
        let name = format!("agent-{index}");
        let token = pitot_server::agent_tokens::create_agent_token(&pool, &name)
            .await
            .expect("token");
        let mut agent =
            AgentConfig::new(servers[index % 2].url(), token, folder.path().join(&name));
        agent.name = name;
        agent.machine = Some(MACHINE.to_owned());
        agent.asv_program = Some(asv.clone());
        agent.url_rewrites = vec![rewrite.clone()];
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(pitot_runner::agent::run(agent, shutdown.clone()));
        agents.push((shutdown, task));
    }

    let pull_requests = PULL_REQUESTS.count() as i64;
    wait_all_reported(&pool, pull_requests).await;
    for (shutdown, task) in agents {
        shutdown.cancel();
        task.await
            .expect("agent task")
            .expect("agent stops cleanly");
    }

    let deliveries: i64 = sqlx::query_scalar("SELECT count(*) FROM deliveries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        deliveries, pull_requests,
        "one delivery row per delivery id"
    );
    let runs: Vec<(i64, i32, i64, String)> = sqlx::query_as(
        "SELECT jobs.pr_number, jobs.attempt, count(job_reports.id), jobs.agent FROM jobs
         LEFT JOIN job_reports ON job_reports.job_id = jobs.id
         GROUP BY jobs.id ORDER BY jobs.pr_number",
    )
    .fetch_all(&pool)
    .await
    .expect("jobs");
    let numbers: Vec<i64> = runs.iter().map(|run| run.0).collect();
    let expected_numbers: Vec<i64> = PULL_REQUESTS.map(|number| number as i64).collect();
    assert_eq!(numbers, expected_numbers, "one job per pull request");
    for (number, attempt, reports, _) in &runs {
        assert_eq!(
            *attempt, 1,
            "pull request {number} was claimed {attempt} times"
        );
        assert_eq!(*reports, 1, "pull request {number} has {reports} reports");
    }
    let agents_used: BTreeSet<&str> = runs.iter().map(|run| run.3.as_str()).collect();
    assert_eq!(agents_used.len(), AGENTS, "every agent ran a job: {runs:?}");
    for number in PULL_REQUESTS {
        let comments = stub.comments(REPO, number);
        assert_eq!(
            comments.len(),
            1,
            "pull request {number} has {} comments",
            comments.len()
        );
        assert!(
            comments[0].body.contains(&demo.head_sha),
            "{}",
            comments[0].body
        );
    }

    first.stop().await.expect("first server stops");
    second.stop().await.expect("second server stops");
}
