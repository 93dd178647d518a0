//! `/pitot` commands in pull request comments, end to end: signed
//! `issue_comment` deliveries through the real router, the command worker,
//! PostgreSQL, and the GitHub stand-in for the pull request, the reactions
//! and the replies.

use std::time::{Duration, Instant};

use pitot_github_stub::{GitHubStub, PullRequest, TEST_INSTALLATION_ID};
use pitot_runner::api::CLAIM_PATH;
use pitot_server::service::Service;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;

#[path = "support/github_app.rs"]
mod github_app;

const SECRET: &str = "commands-secret";
const REPO: &str = "Codertocat/Hello-World";
const PR: u64 = 7;
const HEAD: &str = "7777777777777777777777777777777777777777";
const NEW_HEAD: &str = "8888888888888888888888888888888888888888";

/// Builds a real `issue_comment` payload, moved to pull request [`PR`]
/// with the comment's id, author association and body.
fn comment_payload(comment_id: u64, association: &str, body: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/webhooks/issue_comment/created.with-installation.payload.json"
    );
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    payload["issue"]["number"] = PR.into();
    payload["issue"]["pull_request"] =
        json!({ "url": format!("https://api.github.com/repos/{REPO}/pulls/{PR}") });
    payload["comment"]["id"] = comment_id.into();
    payload["comment"]["author_association"] = association.into();
    payload["comment"]["body"] = body.into();
    payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
    payload
}

struct Harness {
    stub: GitHubStub,
    service: Service,
    pool: PgPool,
    deliveries: u32,
    _home: tempfile::TempDir,
}

impl Harness {
    async fn start(pool: PgPool) -> Harness {
        let stub = GitHubStub::start().await;
        stub.set_pull_request(REPO, open_pull_request(HEAD));
        let mut config = github_app::app_config(&stub, SECRET);
        config.jobs.in_process_agent = false;
        let (service, home) = github_app::start_service(pool.clone(), config).await;
        Harness {
            stub,
            service,
            pool,
            deliveries: 0,
            _home: home,
        }
    }

    /// Writes `body` as a comment on the pull request in the stand-in and
    /// delivers its webhook. Returns the comment's id and pitot's response body.
    async fn comment(&mut self, association: &str, body: &str) -> (u64, Value) {
        let comment_id = self.stub.seed_comments(REPO, PR, [body])[0];
        let answer = self
            .deliver(&comment_payload(comment_id, association, body))
            .await;
        (comment_id, answer)
    }

    async fn deliver(&mut self, payload: &Value) -> Value {
        self.deliveries += 1;
        let delivery = format!("comment-delivery-{}", self.deliveries);
        let response = github_app::post_webhook(
            &self.service.url(),
            SECRET,
            "issue_comment",
            &delivery,
            payload,
        )
        .await;
        assert_eq!(response.status(), 202);
        response.json().await.expect("JSON response")
    }

    /// Waits until `done` holds, for at most ten seconds.
    async fn wait_for(&self, what: &str, done: impl Fn(&GitHubStub) -> bool) {
        let started = Instant::now();
        while !done(&self.stub) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Returns the reply comments pitot wrote, without the seeded commands.
    fn replies(&self) -> Vec<String> {
        self.stub
            .comments(REPO, PR)
            .into_iter()
            .map(|comment| comment.body)
            .filter(|body| body.starts_with('@'))
            .collect()
    }

    /// Returns the pull request's jobs once every stored command is carried
    /// out. The worker reacts on GitHub before its transaction commits, so a
    /// reaction alone does not mean the jobs have changed yet.
    async fn jobs(&self) -> Vec<(String, String, Option<String>)> {
        let started = Instant::now();
        loop {
            let pending: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pull_request_commands WHERE state = 'pending'",
            )
            .fetch_one(&self.pool)
            .await
            .expect("pending commands");
            if pending == 0 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{pending} commands still pending"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sqlx::query_as("SELECT head_sha, state, bench FROM jobs WHERE pr_number = $1 ORDER BY id")
            .bind(PR as i64)
            .fetch_all(&self.pool)
            .await
            .expect("jobs")
    }
}

fn open_pull_request(head_sha: &str) -> PullRequest {
    PullRequest {
        number: PR,
        state: "open".to_owned(),
        head_sha: head_sha.to_owned(),
        head_ref: "changes".to_owned(),
        base_ref: "master".to_owned(),
    }
}

#[sqlx::test]
async fn run_with_bench_queues_job_and_reacts(pool: PgPool) {
    let mut harness = Harness::start(pool.clone()).await;

    let (comment_id, answer) = harness
        .comment("OWNER", "Looks good.\n\n/pitot run --bench time_sort")
        .await;

    assert_eq!(answer["outcome"], "command_recorded");
    harness
        .wait_for("the rocket", |stub| {
            stub.reactions(comment_id) == ["rocket"]
        })
        .await;
    let jobs = harness.jobs().await;
    assert_eq!(
        jobs,
        [(
            HEAD.to_owned(),
            "queued".to_owned(),
            Some("time_sort".to_owned())
        )]
    );

    // The agent gets the regular expression for `asv continuous --bench`.
    let token = pitot_server::agent_tokens::create_agent_token(&pool, "bench-1")
        .await
        .expect("token");
    let claimed: Value = reqwest::Client::new()
        .post(format!("{}{CLAIM_PATH}", harness.service.url()))
        .bearer_auth(token.expose_secret())
        .json(&json!({"agent": "bench-1", "machine": "bench-1"}))
        .send()
        .await
        .expect("claim answers")
        .json()
        .await
        .expect("a claimed job");
    assert_eq!(claimed["head_sha"], HEAD);
    assert_eq!(claimed["asv"]["bench"], "time_sort");

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn cancel_and_rerun_act_on_the_pull_requests_job(pool: PgPool) {
    let mut harness = Harness::start(pool).await;
    let (run, _) = harness.comment("MEMBER", "/pitot run").await;
    harness
        .wait_for("the run's rocket", |stub| stub.reactions(run) == ["rocket"])
        .await;

    let (cancel, _) = harness.comment("COLLABORATOR", "/pitot cancel").await;
    harness
        .wait_for("the cancel's thumbs up", |stub| {
            stub.reactions(cancel) == ["+1"]
        })
        .await;
    assert_eq!(harness.jobs().await[0].1, "cancelled");

    // A push moves the pull request on; a rerun still runs the last job's head.
    harness
        .stub
        .set_pull_request(REPO, open_pull_request(NEW_HEAD));
    let (rerun, _) = harness.comment("OWNER", "/pitot rerun").await;
    harness
        .wait_for("the rerun's rocket", |stub| {
            stub.reactions(rerun) == ["rocket"]
        })
        .await;
    assert_eq!(
        harness.jobs().await,
        [(HEAD.to_owned(), "queued".to_owned(), None)]
    );

    let (run_new, _) = harness.comment("OWNER", "/pitot run").await;
    harness
        .wait_for("the new run's rocket", |stub| {
            stub.reactions(run_new) == ["rocket"]
        })
        .await;
    let heads: Vec<String> = harness.jobs().await.into_iter().map(|job| job.0).collect();
    assert_eq!(heads, [HEAD, NEW_HEAD]);

    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn outsiders_get_no_reaction_and_malformed_commands_get_usage(pool: PgPool) {
    let mut harness = Harness::start(pool).await;

    let (outsider, answer) = harness.comment("CONTRIBUTOR", "/pitot run").await;
    assert_eq!(answer["outcome"], "ignored");
    let (first_timer, answer) = harness
        .comment("FIRST_TIME_CONTRIBUTOR", "/pitot start")
        .await;
    assert_eq!(answer["outcome"], "ignored");

    let (_, answer) = harness.comment("OWNER", "/pitot start").await;
    assert_eq!(answer["outcome"], "command_recorded");
    harness
        .wait_for("the usage reply", |stub| stub.comments(REPO, PR).len() == 4)
        .await;
    let replies = harness.replies();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("unknown command \"start\""),
        "{}",
        replies[0]
    );
    assert!(
        replies[0].contains("/pitot run --bench REGEX"),
        "the usage: {}",
        replies[0]
    );

    // Comments without a command, and a closed pull request.
    let (_, answer) = harness
        .comment("OWNER", "Please run `/pitot run` later")
        .await;
    assert_eq!(answer["outcome"], "ignored");
    harness.stub.set_pull_request(
        REPO,
        PullRequest {
            state: "closed".to_owned(),
            ..open_pull_request(HEAD)
        },
    );
    harness.comment("OWNER", "/pitot run").await;
    harness
        .wait_for("the closed reply", |stub| {
            stub.comments(REPO, PR).len() == 7
        })
        .await;
    assert!(
        harness.replies()[1].contains("is closed"),
        "{:?}",
        harness.replies()
    );

    assert!(harness.jobs().await.is_empty());
    assert!(harness.stub.reactions(outsider).is_empty());
    assert!(harness.stub.reactions(first_timer).is_empty());
    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn same_comment_twice_is_one_command(pool: PgPool) {
    let mut harness = Harness::start(pool.clone()).await;
    let (comment_id, _) = harness.comment("OWNER", "/pitot run").await;

    // The same comment through a second webhook: another delivery id.
    let answer = harness
        .deliver(&comment_payload(comment_id, "OWNER", "/pitot run"))
        .await;

    assert_eq!(answer["outcome"], "command_recorded");
    harness
        .wait_for("the rocket", |stub| {
            stub.reactions(comment_id) == ["rocket"]
        })
        .await;
    let commands: i64 = sqlx::query_scalar("SELECT count(*) FROM pull_request_commands")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(commands, 1);
    assert_eq!(harness.jobs().await.len(), 1);
    harness.service.stop().await.expect("clean stop");
}

#[sqlx::test]
async fn quarantine_and_unquarantine_commands(pool: PgPool) {
    let mut harness = Harness::start(pool.clone()).await;

    let (outsider, answer) = harness
        .comment("CONTRIBUTOR", "/pitot quarantine bench.time_sort noisy mine now")
        .await;
    assert_eq!(answer["outcome"], "ignored");
    let (set, answer) = harness
        .comment(
            "COLLABORATOR",
            "/pitot quarantine bench.time_sort noisy until 2999-12-31 shared runner jitter",
        )
        .await;
    assert_eq!(answer["outcome"], "command_recorded");
    harness
        .wait_for("the thumbs-up on the quarantine", |stub| {
            stub.reactions(set) == ["+1"]
        })
        .await;

    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT benchmark, kind, reason, created_by, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') \
         FROM quarantines WHERE lifted_at IS NULL",
    )
    .fetch_all(&pool)
    .await
    .expect("quarantines");
    let author = comment_payload(0, "OWNER", "")["comment"]["user"]["login"]
        .as_str()
        .expect("the fixture's author")
        .to_owned();
    assert_eq!(
        rows,
        [(
            "bench.time_sort".to_owned(),
            "noisy".to_owned(),
            "shared runner jitter".to_owned(),
            format!("github:{author}"),
            Some("3000-01-01 00:00".to_owned()),
        )]
    );

    let (past, _) = harness
        .comment("OWNER", "/pitot quarantine bench.time_io ignored until 2001-01-01 old")
        .await;
    harness
        .wait_for("the reply to a past date", |stub| {
            stub.comments(REPO, PR).iter().any(|c| c.body.contains("in the past"))
        })
        .await;
    let (lift, _) = harness
        .comment("OWNER", "/pitot unquarantine bench.time_sort")
        .await;
    harness
        .wait_for("the thumbs-up on the lift", |stub| {
            stub.reactions(lift) == ["+1"]
        })
        .await;
    harness
        .comment("OWNER", "/pitot unquarantine bench.time_sort")
        .await;
    harness
        .wait_for("the reply to a second lift", |stub| {
            stub.comments(REPO, PR)
                .iter()
                .any(|c| c.body.contains("no active quarantine"))
        })
        .await;

    let history: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT benchmark, lifted_by FROM quarantines ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("quarantines");
    assert_eq!(
        history,
        [("bench.time_sort".to_owned(), Some(format!("github:{author}")))],
        "the past date set nothing, and the lift kept the row"
    );
    assert!(harness.stub.reactions(outsider).is_empty());
    assert!(harness.stub.reactions(past).is_empty());
    assert!(harness.jobs().await.is_empty());
    harness.service.stop().await.expect("clean stop");
}
