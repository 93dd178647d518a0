//! History jobs from pushes to the default branch, and release reports,
//! through the real router and a real database, with octokit's `push` and
//! `release` payloads and the GitHub stand-in. A release report never
//! edits a comment or an issue that a stranger wrote with its marker.

mod common;

use axum::http::StatusCode;
use common::*;
use pitot_github::{ClientSettings, Credentials, GitHubClient};
use pitot_github_stub::{GitHubStub, Release, User, TEST_APP_BOT_LOGIN, TEST_INSTALLATION_ID};
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::api_tokens::ApiScope;
use pitot_server::config::{HistoryMode, ReleaseReports, RepositoryConfig};
use pitot_server::releases::process_pending_releases;
use pitot_server::reporter::report_pending;
use pitot_store::commit_jobs::JobKind;
use pitot_store::jobs::{self, JobState};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

const REPOSITORY: &str = "Codertocat/Hello-World";
/// The default branch's commit before the push, for pushes that the
/// payload describes as creating the branch.
const BEFORE: &str = "2222222222222222222222222222222222222222";
/// The commit the payloads push.
const AFTER: &str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const PREVIOUS_RELEASE: &str = "3333333333333333333333333333333333333333";
const RELEASE: &str = "4444444444444444444444444444444444444444";
const RESULTS_FIXTURE: &str =
    "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json";
const SLOWED: &str = "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean";

/// octokit's push that created `master`, turned into a push of `AFTER` on
/// top of `BEFORE`.
fn push_to_default_branch() -> Value {
    let mut payload = fixture("push/with-new-branch.payload.json");
    payload["before"] = BEFORE.into();
    payload["created"] = false.into();
    payload
}

async fn load(app: &TestApp, job_id: i64) -> jobs::Job {
    jobs::load_job(&app.pool, job_id)
        .await
        .expect("job query")
        .expect("the job exists")
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_to_default_branch_queues_history_job(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = app.deliver("push", "d-1", &push_to_default_branch()).await;

    assert_eq!(response["outcome"], "job_queued");
    let job = load(&app, response["job_id"].as_i64().expect("a job id")).await;
    assert_eq!(job.kind, JobKind::History);
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.head_sha, AFTER);
    assert_eq!(job.base_sha.as_deref(), Some(BEFORE));
    assert_eq!(job.base_ref, "master");
    assert_eq!(job.pr_number, None);
    assert_eq!(job.repository, REPOSITORY);
    assert_eq!(job.installation_id, Some(1));
}

#[sqlx::test(migrations = "../../migrations")]
async fn default_branch_is_read_from_the_payload(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut to_master = push_to_default_branch();
    to_master["repository"]["default_branch"] = "develop".into();
    let mut to_develop = to_master.clone();
    to_develop["ref"] = "refs/heads/develop".into();

    let ignored = app.deliver("push", "d-master", &to_master).await;
    let queued = app.deliver("push", "d-develop", &to_develop).await;

    assert_eq!(ignored["outcome"], "ignored");
    assert_eq!(queued["outcome"], "job_queued");
    assert_eq!(app.count("jobs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn pushes_without_a_pair_of_commits_queue_nothing(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut other_branch = push_to_default_branch();
    other_branch["ref"] = "refs/heads/feature".into();
    let mut branch_deleted = push_to_default_branch();
    branch_deleted["after"] = "0".repeat(40).into();
    let cases = [
        ("push to another branch", other_branch),
        ("tag deleted", fixture("push/payload.json")),
        (
            "default branch created",
            fixture("push/with-new-branch.payload.json"),
        ),
        ("default branch deleted", branch_deleted),
    ];

    for (index, (case, payload)) in cases.iter().enumerate() {
        let response = app.deliver("push", &format!("d-{index}"), payload).await;

        assert_eq!(response["outcome"], "ignored", "{case}");
    }
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn redelivered_push_queues_one_job(pool: PgPool) {
    let app = TestApp::new(pool);
    let payload = push_to_default_branch();

    app.deliver("push", "d-1", &payload).await;
    let redelivery = app.deliver("push", "d-1", &payload).await;
    let second_webhook = app.deliver("push", "d-2", &payload).await;

    assert_eq!(redelivery["outcome"], "redelivery");
    assert_eq!(second_webhook["outcome"], "job_unchanged");
    assert_eq!(app.count("jobs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn history_settings_turn_pushes_off(pool: PgPool) {
    let app = TestApp::with_config(pool, |config| {
        config.repositories.push(RepositoryConfig {
            name: REPOSITORY.to_lowercase(),
            history: HistoryMode::Off,
            ..RepositoryConfig::default()
        });
    });

    let response = app.deliver("push", "d-1", &push_to_default_branch()).await;

    assert_eq!(response["outcome"], "ignored");
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn newer_pushes_do_not_supersede_older_ones_below_the_bound(pool: PgPool) {
    let app = TestApp::new(pool);
    let bound = pitot_server::MAX_QUEUED_HISTORY_JOBS;
    let pushes = bound + 2;

    for index in 0..pushes {
        let mut payload = push_to_default_branch();
        payload["before"] = format!("{:040x}", index + 1000).into();
        payload["after"] = format!("{:040x}", index + 2000).into();
        app.deliver("push", &format!("d-{index}"), &payload).await;
    }

    let states = app.jobs().await;
    assert_eq!(states.len() as i64, pushes);
    let superseded: Vec<i64> = states
        .iter()
        .filter(|(_, state)| state == "superseded")
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        superseded,
        vec![states[0].0, states[1].0],
        "the two oldest go"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn claimed_history_job_carries_its_base(pool: PgPool) {
    let app = TestApp::new(pool);
    let token = app.agent_token("bench-1").await;
    app.deliver("push", "d-1", &push_to_default_branch()).await;

    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": "bench-1", "machine": "m" }),
        )
        .await;

    assert_eq!(claimed.status, StatusCode::OK);
    let job = claimed.json();
    assert_eq!(job["base_sha"], BEFORE);
    assert_eq!(job["head_sha"], AFTER);
    assert_eq!(job["base_ref"], "master");
    assert_eq!(job["head_fetch_ref"], "refs/heads/master");
}

/// Returns the results fixture as JSON for commit `sha`, with `SLOWED`'s
/// value and interval multiplied by `factor`.
fn results_json(sha: &str, factor: f64) -> Value {
    let text =
        std::fs::read_to_string(workspace_path(RESULTS_FIXTURE)).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    let row = results["results"][SLOWED]
        .as_array_mut()
        .expect("fixture has the benchmark");
    // Columns 0 and 5 to 8: the result, the 99% interval and the quartiles.
    for column in [0, 5, 6, 7, 8] {
        for value in row[column].as_array_mut().expect("a list per column") {
            *value = (value.as_f64().expect("a number") * factor).into();
        }
    }
    results
}

/// Returns a name part that differs on every call, so each simulated
/// agent gets its own token.
fn agent_serial() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Claims the next job as an agent would and reports `base` and `head`
/// results for it; returns the claimed job.
async fn run_job_as_agent(app: &TestApp, base: &str, head: &str, head_factor: f64) -> Value {
    run_job_with_results(
        app,
        base,
        head,
        results_json(base, 1.0),
        results_json(head, head_factor),
    )
    .await
}

/// Like [`run_job_as_agent`], with the results files given.
async fn run_job_with_results(
    app: &TestApp,
    base: &str,
    head: &str,
    base_results: Value,
    head_results: Value,
) -> Value {
    let name = format!("bench-{}", agent_serial());
    let token = app.agent_token(&name).await;
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": name, "machine": "macos-12" }),
        )
        .await;
    assert_eq!(
        claimed.status,
        StatusCode::OK,
        "{:?}",
        String::from_utf8_lossy(&claimed.body)
    );
    let job = claimed.json();
    let report = json!({
        "attempt": job["attempt"],
        "base_sha": base,
        "head_sha": head,
        "machine": "macos-12",
        "results": [
            { "path": "macos-12/base.json", "content": base_results.to_string() },
            { "path": "macos-12/head.json", "content": head_results.to_string() },
        ],
        "log": "asv continuous\n",
        "outcome": "completed",
    });
    let path = report_path(job["job_id"].as_i64().expect("a job id"));
    let stored = app.post_agent(&path, Some(&token), &report).await;
    assert_eq!(
        stored.status,
        StatusCode::OK,
        "{:?}",
        String::from_utf8_lossy(&stored.body)
    );
    job
}

#[sqlx::test(migrations = "../../migrations")]
async fn history_job_results_are_ingested_without_writing_to_github(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    app.deliver("push", "d-1", &push_to_default_branch()).await;

    let job = run_job_as_agent(&app, BEFORE, AFTER, 1.0).await;
    report_pending(&app.state).await.expect("reporter round");

    let job = load(&app, job["job_id"].as_i64().unwrap()).await;
    assert_eq!(job.state, JobState::Reported, "{:?}", job.error);
    let commits: Vec<String> = sqlx::query_scalar(
        "SELECT commits.sha FROM runs JOIN commits ON commits.id = runs.commit_id ORDER BY commits.sha",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(commits, vec![BEFORE.to_owned(), AFTER.to_owned()]);
    let writes: Vec<String> = stub
        .requests()
        .iter()
        .filter(|request| {
            request.method != axum::http::Method::GET && !request.path.starts_with("/app/")
        })
        .map(|request| request.line())
        .collect();
    assert!(
        writes.is_empty(),
        "a history job wrote to GitHub: {writes:?}"
    );
}

/// Seeds the stand-in with releases `v0.9.0` (`PREVIOUS_RELEASE`), a
/// draft, a pre-release, and the published `0.0.1` renamed `v1.0.0`
/// (`RELEASE`), and returns the `release` `published` payload for it.
fn seed_releases(stub: &GitHubStub) -> Value {
    let release = |tag: &str, draft, prerelease| Release {
        tag_name: tag.to_owned(),
        target_commitish: "master".to_owned(),
        draft,
        prerelease,
    };
    stub.add_release(REPOSITORY, release("v0.8.0", false, false));
    stub.add_release(REPOSITORY, release("v0.9.0", false, false));
    stub.add_release(REPOSITORY, release("v0.10.0", true, false));
    stub.add_release(REPOSITORY, release("v1.0.0rc1", false, true));
    stub.add_release(REPOSITORY, release("v1.0.0", false, false));
    stub.set_ref(
        REPOSITORY,
        "v0.8.0",
        "5555555555555555555555555555555555555555",
    );
    stub.set_ref(REPOSITORY, "v0.9.0", PREVIOUS_RELEASE);
    stub.set_ref(
        REPOSITORY,
        "v1.0.0rc1",
        "6666666666666666666666666666666666666666",
    );
    stub.set_ref(REPOSITORY, "v1.0.0", RELEASE);

    let mut payload = fixture("release/published.payload.json");
    payload["release"]["tag_name"] = "v1.0.0".into();
    payload["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    payload
}

/// What publishing `v1.0.0` led to: pitot's response to the `release`
/// delivery, the number of releases its worker resolved, and the release
/// job as the agent claimed it.
struct PublishedRelease {
    recorded: Value,
    resolved: usize,
    job: Value,
}

/// Reports the history job of the push that made `RELEASE` the default
/// branch's head, with `SLOWED` three times slower than at
/// `PREVIOUS_RELEASE`. Then publishes `v1.0.0` at `RELEASE`, and runs and
/// reports its release job.
async fn publish_release(app: &TestApp, stub: &GitHubStub) -> PublishedRelease {
    let payload = seed_releases(stub);
    let mut push = push_to_default_branch();
    push["before"] = PREVIOUS_RELEASE.into();
    push["after"] = RELEASE.into();
    stub.set_commit_pulls(REPOSITORY, RELEASE, vec![42]);
    app.deliver("push", "d-push", &push).await;
    run_job_as_agent(app, PREVIOUS_RELEASE, RELEASE, 3.0).await;
    report_pending(&app.state)
        .await
        .expect("history reporter round");

    let recorded = app.deliver("release", "d-1", &payload).await;
    let resolved = process_pending_releases(&app.state)
        .await
        .expect("release worker round");
    let job = run_job_as_agent(app, PREVIOUS_RELEASE, RELEASE, 3.0).await;
    report_pending(&app.state).await.expect("reporter round");
    PublishedRelease {
        recorded,
        resolved,
        job,
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn published_release_gets_commit_comment_and_issue(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);

    let PublishedRelease {
        recorded,
        resolved,
        job,
    } = publish_release(&app, &stub).await;

    assert_eq!(recorded["outcome"], "release_recorded");
    assert_eq!(resolved, 1);
    assert_eq!(
        job["base_sha"], PREVIOUS_RELEASE,
        "compared with v0.9.0, not the draft or the rc"
    );
    assert_eq!(job["head_sha"], RELEASE);
    assert_eq!(job["head_fetch_ref"], "refs/tags/v1.0.0");
    let stored = load(&app, job["job_id"].as_i64().unwrap()).await;
    assert_eq!(stored.kind, JobKind::Release);
    assert_eq!(stored.state, JobState::Reported, "{:?}", stored.error);
    let comments = stub.commit_comments(REPOSITORY);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].commit_id, RELEASE);
    assert!(comments[0].body.contains("v0.9.0"), "{}", comments[0].body);
    assert!(
        comments[0].body.contains("time_form_clean"),
        "{}",
        comments[0].body
    );
    let change_points = comments[0]
        .body
        .split("### Changes on")
        .nth(1)
        .expect("a section on the default branch's changes");
    assert!(
        change_points.contains(&format!("Commit {RELEASE} (#42)")),
        "{change_points}"
    );
    assert!(change_points.contains("time_form_clean"), "{change_points}");
    let issues = stub.issues(REPOSITORY);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].title, "Performance regressions in v1.0.0");
    let issue_number: Option<i64> = sqlx::query_scalar("SELECT issue_number FROM releases")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(issue_number, Some(issues[0].number as i64));
}

#[sqlx::test(migrations = "../../migrations")]
async fn stranger_release_comment_and_issue_are_left_alone(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    // A stranger copies the markers of the release's comment and issue.
    let fake_comment = "No regressions.\n\n<!-- pitot:release v1.0.0 -->\n";
    let fake_issue = "Nothing regressed.\n\n<!-- pitot:release-regressions v1.0.0 -->\n";
    let stranger = User::octocat();
    stub.seed_commit_comment(&stranger, REPOSITORY, RELEASE, fake_comment);
    stub.seed_issue(&stranger, REPOSITORY, "Performance regressions in v1.0.0", fake_issue);

    publish_release(&app, &stub).await;

    let comments = stub.commit_comments(REPOSITORY);
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert_eq!(comments[0].body, fake_comment, "the stranger's comment is unchanged");
    assert_eq!(comments[1].user.login, TEST_APP_BOT_LOGIN);
    assert!(comments[1].body.contains("time_form_clean"), "{}", comments[1].body);
    let issues = stub.issues(REPOSITORY);
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert_eq!(issues[0].body, fake_issue, "the stranger's issue is unchanged");
    assert_eq!(issues[1].user.login, TEST_APP_BOT_LOGIN);
    let stored: (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT comment_id, issue_number FROM releases")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        (Some(comments[1].id as i64), Some(issues[1].number as i64))
    );
}

/// Returns commit `index` of a made-up default-branch history: the
/// previous release first and the release last.
fn history_commit(index: usize, last: usize) -> String {
    match index {
        0 => PREVIOUS_RELEASE.to_owned(),
        _ if index == last => RELEASE.to_owned(),
        _ => format!("{:040x}", 0x00c0_ffee_0000_u64 + index as u64),
    }
}

/// Returns the results of history commit `index`, an hour after the one
/// before, with `SLOWED` three times slower from `STEP_AT` on.
fn history_results(index: usize, last: usize) -> Value {
    const STEP_AT: usize = 6;
    let factor = if index >= STEP_AT { 3.0 } else { 1.0 };
    let mut results = results_json(&history_commit(index, last), factor);
    let date = results["date"].as_i64().expect("the fixture has a date");
    results["date"] = (date + index as i64 * 3_600_000).into();
    results
}

/// Pushes and benchmarks history commits 1 to `last`, each against the one
/// before, reporting after each as the service would.
async fn benchmark_history(app: &TestApp, first: usize, last: usize, pushes_to: usize) {
    for index in first..=last {
        let (base, head) = (
            history_commit(index - 1, pushes_to),
            history_commit(index, pushes_to),
        );
        let mut push = push_to_default_branch();
        push["before"] = base.clone().into();
        push["after"] = head.clone().into();
        app.deliver("push", &format!("d-history-{index}"), &push).await;
        run_job_with_results(
            app,
            &base,
            &head,
            history_results(index - 1, pushes_to),
            history_results(index, pushes_to),
        )
        .await;
        report_pending(&app.state).await.expect("reporter round");
    }
}

async fn stored_change_points(app: &TestApp) -> Vec<(i64, String, String, String, String)> {
    sqlx::query_as(
        "SELECT g.id, b.name, after_c.sha, g.direction, g.state
         FROM regressions g
         JOIN series s ON s.id = g.series_id
         JOIN benchmarks b ON b.id = s.benchmark_id
         JOIN commits after_c ON after_c.id = g.after_commit_id
         WHERE g.current ORDER BY g.id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("regressions query")
}

#[sqlx::test(migrations = "../../migrations")]
async fn history_jobs_detect_change_points(pool: PgPool) {
    let app = TestApp::new(pool);

    benchmark_history(&app, 1, 11, 11).await;

    let found = stored_change_points(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let (_, benchmark, after, direction, state) = &found[0];
    assert_eq!(benchmark, SLOWED);
    assert_eq!(after, &history_commit(6, 11));
    assert_eq!(direction, "worse");
    assert_eq!(state, "untriaged");
}

#[sqlx::test(migrations = "../../migrations")]
async fn history_triage_survives_later_jobs(pool: PgPool) {
    let app = TestApp::new(pool);
    benchmark_history(&app, 1, 11, 14).await;
    let token = app.api_token("octocat", &[ApiScope::Triage]).await;
    let (id, ..) = stored_change_points(&app).await[0].clone();
    let triaged = app
        .send_api(
            "PATCH",
            &format!("/api/v1/regressions/{id}"),
            Some(&token),
            Some(&json!({ "state": "acknowledged" })),
        )
        .await;
    assert_eq!(triaged.status, StatusCode::OK, "{}", triaged.error());

    benchmark_history(&app, 12, 14, 14).await;

    let found = stored_change_points(&app).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, id);
    assert_eq!(found[0].4, "acknowledged");
    assert_eq!(app.count("regressions").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn release_report_lists_detected_change_points(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    let payload = seed_releases(&stub);
    stub.set_commit_pulls(REPOSITORY, &history_commit(6, 11), vec![77]);
    benchmark_history(&app, 1, 11, 11).await;

    app.deliver("release", "d-release", &payload).await;
    process_pending_releases(&app.state)
        .await
        .expect("release worker round");
    run_job_with_results(
        &app,
        PREVIOUS_RELEASE,
        RELEASE,
        history_results(0, 11),
        history_results(11, 11),
    )
    .await;
    report_pending(&app.state).await.expect("reporter round");

    let comments = stub.commit_comments(REPOSITORY);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let section = comments[0]
        .body
        .split("### Change points between the releases")
        .nth(1)
        .expect("a section on the detected change points");
    let row = section
        .lines()
        .find(|line| line.contains("time_form_clean"))
        .unwrap_or_else(|| panic!("no row for the slowed benchmark in {section}"));
    assert!(row.contains("3.00x worse"), "{row}");
    let range = format!(
        "{}..{}",
        &history_commit(5, 11)[..12],
        &history_commit(6, 11)[..12]
    );
    assert!(row.contains(&range), "{row}");
    assert!(row.contains("(#77)"), "{row}");
    assert!(row.contains("untriaged"), "{row}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn release_without_regressions_opens_no_issue(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    let payload = seed_releases(&stub);

    app.deliver("release", "d-1", &payload).await;
    process_pending_releases(&app.state)
        .await
        .expect("release worker round");
    run_job_as_agent(&app, PREVIOUS_RELEASE, RELEASE, 1.0).await;
    report_pending(&app.state).await.expect("reporter round");

    let comments = stub.commit_comments(REPOSITORY);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("no unbroken history"),
        "{}",
        comments[0].body
    );
    assert!(stub.issues(REPOSITORY).is_empty());
}

#[sqlx::test(migrations = "../../migrations")]
async fn first_release_and_other_actions_queue_nothing(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_github(pool, &stub);
    stub.add_release(
        REPOSITORY,
        Release {
            tag_name: "0.0.1".into(),
            target_commitish: "master".into(),
            draft: false,
            prerelease: false,
        },
    );
    stub.set_ref(REPOSITORY, "0.0.1", RELEASE);
    let mut published = fixture("release/published.payload.json");
    published["installation"] = json!({ "id": TEST_INSTALLATION_ID });

    let created = app
        .deliver(
            "release",
            "d-created",
            &fixture("release/created.payload.json"),
        )
        .await;
    let recorded = app.deliver("release", "d-published", &published).await;
    process_pending_releases(&app.state)
        .await
        .expect("release worker round");

    assert_eq!(created["outcome"], "ignored");
    assert_eq!(recorded["outcome"], "release_recorded");
    let state: String = sqlx::query_scalar("SELECT state FROM releases")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "skipped");
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn nightly_queues_newest_commit_once(pool: PgPool) {
    let stub = GitHubStub::start().await;
    stub.set_default_branch(REPOSITORY, "trunk");
    stub.set_ref(REPOSITORY, "trunk", AFTER);
    stub.set_parent(REPOSITORY, AFTER, BEFORE);
    let mut app = TestApp::with_config(pool, |config| {
        config.repositories.push(RepositoryConfig {
            name: REPOSITORY.to_owned(),
            history: HistoryMode::Nightly,
            ..RepositoryConfig::default()
        });
    });
    let settings = ClientSettings {
        base_url: stub.url().to_owned(),
        ..ClientSettings::default()
    };
    let token = Credentials::Token(SecretString::from(pitot_github_stub::TEST_PERSONAL_TOKEN));
    let client = GitHubClient::new(settings, token).expect("client builds");
    app.state = app.state.clone().with_github(client);

    let first = pitot_server::nightly::queue_nightly(&app.state).await;
    let second = pitot_server::nightly::queue_nightly(&app.state).await;

    assert_eq!(first.len(), 1, "{first:?}");
    assert!(second.is_empty(), "the commit was queued again: {second:?}");
    let job = load(&app, first[0]).await;
    assert_eq!(job.kind, JobKind::History);
    assert_eq!(job.head_sha, AFTER);
    assert_eq!(job.base_sha.as_deref(), Some(BEFORE));
    assert_eq!(job.base_ref, "trunk");
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_with_malformed_commit_is_400(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut payload = push_to_default_branch();
    payload["after"] = "not-a-commit".into();

    let response = app
        .webhook("push", "d-1", &serde_json::to_vec(&payload).unwrap())
        .await;

    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(
        response.error().contains("not-a-commit"),
        "{}",
        response.error()
    );
    assert_eq!(app.count("jobs").await, 0);
    assert_eq!(app.count("deliveries").await, 0, "nothing half-written");
}

/// The object an annotated tag push names: the tag object, not the commit.
const TAG_OBJECT: &str = "7777777777777777777777777777777777777777";

/// A push that creates tag `tag` at object `after`. octokit has no
/// example of a tag creation, so this turns its tag deletion
/// (`push/payload.json`, `simple-tag` deleted) around: no object before
/// the push, `after` after it, `created` set.
fn tag_push(tag: &str, after: &str) -> Value {
    let mut payload = fixture("push/payload.json");
    payload["ref"] = format!("refs/tags/{tag}").into();
    payload["before"] = "0".repeat(40).into();
    payload["after"] = after.into();
    payload["created"] = true.into();
    payload["deleted"] = false.into();
    payload["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    payload
}

fn app_with_release_reports(pool: PgPool, stub: &GitHubStub, reports: ReleaseReports) -> TestApp {
    app_with_github_config(pool, stub, |config| {
        config.repositories.push(RepositoryConfig {
            name: REPOSITORY.to_owned(),
            release_reports: reports,
            ..RepositoryConfig::default()
        });
    })
}

#[sqlx::test(migrations = "../../migrations")]
async fn annotated_tag_push_gets_release_report(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_release_reports(pool, &stub, ReleaseReports::Tags);
    // No GitHub releases: the previous release is the previous version tag.
    stub.add_tag(REPOSITORY, "v0.8.0", "5555555555555555555555555555555555555555");
    stub.add_tag(REPOSITORY, "v0.9.0", PREVIOUS_RELEASE);
    stub.add_tag(REPOSITORY, "v1.0.0rc1", "6666666666666666666666666666666666666666");
    stub.add_tag(REPOSITORY, "nightly", "8888888888888888888888888888888888888888");
    stub.add_annotated_tag(REPOSITORY, "v1.0.0", TAG_OBJECT, RELEASE);

    let recorded = app.deliver("push", "d-tag", &tag_push("v1.0.0", TAG_OBJECT)).await;
    let resolved = process_pending_releases(&app.state)
        .await
        .expect("release worker round");
    let job = run_job_as_agent(&app, PREVIOUS_RELEASE, RELEASE, 3.0).await;
    report_pending(&app.state).await.expect("reporter round");

    assert_eq!(recorded["outcome"], "release_recorded");
    assert_eq!(resolved, 1);
    assert_eq!(job["head_sha"], RELEASE, "the tag object was peeled to its commit");
    assert_eq!(
        job["base_sha"], PREVIOUS_RELEASE,
        "compared with v0.9.0, not the rc or a tag without a version"
    );
    assert_eq!(job["head_fetch_ref"], "refs/tags/v1.0.0");
    let peeled = stub.requests_matching(&pitot_github_stub::RequestMatch::get(&format!(
        "/repos/{REPOSITORY}/git/tags/{TAG_OBJECT}"
    )));
    assert_eq!(peeled.len(), 1);
    let comments = stub.commit_comments(REPOSITORY);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].commit_id, RELEASE);
    assert!(comments[0].body.contains("v0.9.0"), "{}", comments[0].body);
}

#[sqlx::test(migrations = "../../migrations")]
async fn tag_pushed_then_published_reports_once(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_release_reports(pool, &stub, ReleaseReports::Both);
    let published = seed_releases(&stub);
    stub.add_tag(REPOSITORY, "v0.9.0", PREVIOUS_RELEASE);
    stub.add_tag(REPOSITORY, "v1.0.0", RELEASE);

    let pushed = app.deliver("push", "d-tag", &tag_push("v1.0.0", RELEASE)).await;
    let first_round = process_pending_releases(&app.state)
        .await
        .expect("release worker round");
    let release = app.deliver("release", "d-release", &published).await;
    let second_round = process_pending_releases(&app.state)
        .await
        .expect("release worker round");
    let job = run_job_as_agent(&app, PREVIOUS_RELEASE, RELEASE, 3.0).await;
    report_pending(&app.state).await.expect("reporter round");

    assert_eq!(pushed["outcome"], "release_recorded");
    assert_eq!(release["outcome"], "release_recorded");
    assert_eq!(first_round, 1);
    assert_eq!(second_round, 0, "the published release was resolved again");
    assert_eq!(app.count("releases").await, 1);
    assert_eq!(app.count("jobs").await, 1);
    assert_eq!(job["head_sha"], RELEASE);
    assert_eq!(stub.commit_comments(REPOSITORY).len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn tag_pushes_follow_the_setting(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_release_reports(pool, &stub, ReleaseReports::Tags);
    let mut other_repository = tag_push("v2.0.0", RELEASE);
    other_repository["repository"]["full_name"] = "Codertocat/Other".into();
    let mut moved = tag_push("v3.0.0", RELEASE);
    moved["before"] = PREVIOUS_RELEASE.into();
    moved["created"] = false.into();
    let cases = [
        ("repository with the default setting", other_repository, "ignored"),
        ("tag deleted", fixture("push/payload.json"), "ignored"),
        ("tag moved", moved, "ignored"),
        ("tag created", tag_push("v1.0.0", RELEASE), "release_recorded"),
    ];

    for (index, (case, payload, expected)) in cases.iter().enumerate() {
        let response = app.deliver("push", &format!("d-{index}"), payload).await;

        assert_eq!(response["outcome"], *expected, "{case}");
    }
    let published = app.deliver("release", "d-release", &seed_releases(&stub)).await;
    assert_eq!(published["outcome"], "ignored", "a published release with tags only");
    let tags: Vec<String> = sqlx::query_scalar("SELECT tag FROM releases")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(tags, ["v1.0.0"]);
    assert_eq!(app.count("jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn unusable_tag_name_is_400(pool: PgPool) {
    let stub = GitHubStub::start().await;
    let app = app_with_release_reports(pool, &stub, ReleaseReports::Tags);
    let body = serde_json::to_vec(&tag_push("-x", RELEASE)).unwrap();

    let response = app.webhook("push", "d-bad", &body).await;

    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert!(response.error().contains("\"-x\""), "{}", response.error());
    assert_eq!(app.count("releases").await, 0);
}
