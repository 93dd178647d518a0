//! Data retention against a real database: what pruning deletes and
//! keeps, its batches, the dry run's counts, `/metrics`, and the 410
//! responses for a deleted report.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::config::RetentionConfig;
use pitot_server::reporter::report_pending;
use pitot_server::retention::{count_prunable, prune, prune_and_record, PruneCounts};
use pitot_store::{RepoName, Store};
use serde_json::{json, Value};
use sqlx::PgPool;

const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const RECENT_HEAD: &str = "2222222222222222222222222222222222222222";

/// Reports and files kept 90 days, deliveries and samples forever.
fn reports_only() -> RetentionConfig {
    RetentionConfig {
        reports_days: 90,
        deliveries_days: 0,
        samples_days: 0,
    }
}

async fn get(app: &TestApp, path: &str) -> TestResponse {
    app.send(
        Request::get(path)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

/// The django-asv fixture as the results file of commit `sha`.
fn django_results(sha: &str) -> String {
    let path = workspace_path(
        "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json",
    );
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    results.to_string()
}

/// Queues a job for `head` of the fixture's pull request, lets an agent
/// claim it and report two results files and a log, and returns its id.
/// With `finish`, the reporter then compares it, which finishes the job;
/// without, the job stays `ingesting`.
async fn reported_job(app: &TestApp, head: &str, finish: bool) -> i64 {
    let agent = format!("agent-{}", &head[..8]);
    let token = app.agent_token(&agent).await;
    let payload = with_head(pull_request("labeled"), head);
    let queued = app
        .deliver("pull_request", &format!("label-{head}"), &payload)
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");

    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": agent, "machine": "macos-12" }),
        )
        .await;
    assert_eq!(
        claimed.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&claimed.body)
    );
    let report = json!({
        "attempt": 1,
        "base_sha": MERGE_BASE,
        "head_sha": head,
        "machine": "macos-12",
        "results": [
            { "path": "macos-12/f95f852b-virtualenv-py3.10.json", "content": django_results(MERGE_BASE) },
            { "path": format!("macos-12/{}-virtualenv-py3.10.json", &head[..8]), "content": django_results(head) },
        ],
        "log": "asv continuous\n",
        "outcome": "completed",
    });

    let reported = app
        .post_agent(&report_path(job_id), Some(&token), &report)
        .await;
    assert_eq!(
        reported.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reported.body)
    );
    if finish {
        report_pending(&app.state).await.expect("the reporter runs");
    }
    job_id
}

/// Moves a job's finish (or, for an unfinished job, its creation) and its
/// reports `days` into the past.
async fn age_job(pool: &PgPool, job_id: i64, days: i32) {
    sqlx::query(
        "UPDATE jobs SET created_at = created_at - make_interval(days => $2),
                finished_at = finished_at - make_interval(days => $2)
         WHERE id = $1",
    )
    .bind(job_id)
    .bind(days)
    .execute(pool)
    .await
    .expect("job aged");
    sqlx::query("UPDATE job_reports SET received_at = received_at - make_interval(days => $2) WHERE job_id = $1")
        .bind(job_id)
        .bind(days)
        .execute(pool)
        .await
        .expect("reports aged");
}

async fn report_rows(pool: &PgPool, job_id: i64) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(DISTINCT job_reports.id), count(job_report_files.path)
         FROM job_reports LEFT JOIN job_report_files ON job_report_files.report_id = job_reports.id
         WHERE job_reports.job_id = $1",
    )
    .bind(job_id)
    .fetch_one(pool)
    .await
    .expect("report count")
}

#[sqlx::test(migrations = "../../migrations")]
async fn old_finished_report_is_deleted(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let old = reported_job(&app, FIXTURE_HEAD, true).await;
    let recent = reported_job(&app, RECENT_HEAD, true).await;
    let unfinished = reported_job(&app, NEW_HEAD, false).await;
    age_job(&pool, old, 100).await;
    age_job(&pool, unfinished, 100).await;

    let counts = prune(&pool, &reports_only(), 1000)
        .await
        .expect("pruning works");

    assert_eq!(
        counts,
        PruneCounts {
            reports: 1,
            report_files: 2,
            deliveries: 0,
            samples: 0
        }
    );
    assert_eq!(report_rows(&pool, old).await, (0, 0));
    assert_eq!(report_rows(&pool, recent).await, (1, 2));
    assert_eq!(report_rows(&pool, unfinished).await, (1, 2));
    let marked: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE reports_deleted_at IS NOT NULL")
            .fetch_all(&pool)
            .await
            .expect("jobs query");
    assert_eq!(marked, [old]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn deleted_report_answers_gone(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let old = reported_job(&app, FIXTURE_HEAD, true).await;
    let recent = reported_job(&app, RECENT_HEAD, true).await;
    age_job(&pool, old, 100).await;
    prune(&pool, &reports_only(), 1000)
        .await
        .expect("pruning works");

    let log = get(&app, &format!("/api/v1/jobs/{old}/log")).await;
    let file = get(
        &app,
        &format!("/api/v1/jobs/{old}/files/macos-12/f95f852b-virtualenv-py3.10.json"),
    )
    .await;
    let detail = get(&app, &format!("/api/v1/jobs/{old}")).await;
    let page = get(&app, &format!("/jobs/{old}")).await;
    let recent_log = get(&app, &format!("/api/v1/jobs/{recent}/log")).await;

    assert_eq!(log.status, StatusCode::GONE);
    assert!(log.error().contains("were deleted on"), "{}", log.error());
    assert!(
        log.error().contains("retention.reports_days = 90"),
        "{}",
        log.error()
    );
    assert_eq!(file.status, StatusCode::GONE);
    assert!(
        file.error().contains(&format!("job {old}")),
        "{}",
        file.error()
    );
    assert_eq!(detail.status, StatusCode::OK);
    let comparison_error = detail.json()["comparison_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        comparison_error.contains("retention.reports_days"),
        "{comparison_error}"
    );
    assert_eq!(page.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&page.body).contains("retention.reports_days = 90"));
    assert_eq!(recent_log.status, StatusCode::OK);
    assert_eq!(recent_log.body, b"asv continuous\n");
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_of_unknown_file_stays_not_found(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let job = reported_job(&app, FIXTURE_HEAD, true).await;

    let file = get(
        &app,
        &format!("/api/v1/jobs/{job}/files/macos-12/none.json"),
    )
    .await;

    assert_eq!(file.status, StatusCode::NOT_FOUND);
}

/// Inserts `count` deliveries received `days` ago, for job `job_id` if any.
async fn insert_deliveries(
    pool: &PgPool,
    prefix: &str,
    count: i32,
    days: i32,
    job_id: Option<i64>,
) {
    sqlx::query(
        "INSERT INTO deliveries (delivery_id, event, outcome, job_id, received_at)
         SELECT $1 || n, 'pull_request', 'job_unchanged', $4, now() - make_interval(days => $3)
         FROM generate_series(1, $2) AS n",
    )
    .bind(prefix)
    .bind(count)
    .bind(days)
    .bind(job_id)
    .execute(pool)
    .await
    .expect("deliveries inserted");
}

#[sqlx::test(migrations = "../../migrations")]
async fn deliveries_pruned_in_batches(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let queued = app
        .deliver("pull_request", "pending-job", &pull_request("labeled"))
        .await;
    let queued_job = queued["job_id"].as_i64().expect("a job id");
    insert_deliveries(&pool, "old-", 25, 100, None).await;
    insert_deliveries(&pool, "recent-", 3, 10, None).await;
    insert_deliveries(&pool, "old-pending-", 2, 100, Some(queued_job)).await;
    // A deferred delivery is still to be applied, however old.
    sqlx::query(
        "INSERT INTO deliveries (delivery_id, event, outcome, payload, received_at)
         VALUES ('deferred-long-ago', 'pull_request', 'deferred', '{}', now() - interval '100 days')",
    )
    .execute(&pool)
    .await
    .expect("deferred delivery inserted");
    let retention = RetentionConfig {
        reports_days: 0,
        deliveries_days: 90,
        samples_days: 0,
    };

    let counts = prune(&pool, &retention, 10).await.expect("pruning works");

    assert_eq!(counts.deliveries, 25);
    assert_eq!(
        app.count("deliveries WHERE delivery_id LIKE 'old-%' AND job_id IS NULL")
            .await,
        0
    );
    assert_eq!(
        app.count("deliveries WHERE delivery_id LIKE 'recent-%'")
            .await,
        3
    );
    assert_eq!(
        app.count("deliveries WHERE delivery_id LIKE 'old-pending-%'")
            .await,
        2
    );
    assert_eq!(
        app.count("deliveries WHERE delivery_id = 'pending-job'")
            .await,
        1
    );
    assert_eq!(
        app.count("deliveries WHERE delivery_id = 'deferred-long-ago'")
            .await,
        1
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn pruning_is_counted_in_metrics(pool: PgPool) {
    let app = TestApp::with_config(pool.clone(), |config| {
        config.retention = RetentionConfig {
            reports_days: 0,
            deliveries_days: 90,
            samples_days: 0,
        };
    });
    insert_deliveries(&pool, "old-", 4, 100, None).await;

    let counts = prune_and_record(&app.state).await.expect("pruning works");
    let metrics = get(&app, "/metrics").await;

    assert_eq!(counts.deliveries, 4);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("pitot_retention_pruned_rows_total{kind=\"deliveries\"} 4"),
        "{text}"
    );
    assert!(
        text.contains("pitot_retention_pruned_rows_total{kind=\"reports\"} 0"),
        "{text}"
    );
}

/// Stores the fixture with samples as the runs of two commits and returns
/// the run ids, oldest commit first.
async fn runs_with_samples(pool: &PgPool) -> (i64, i64) {
    let path = workspace_path(
        "tests/fixtures/asv/django-asv/results/ubuntu-latest/b049bec7-conda-py3.10.json",
    );
    let bytes = std::fs::read(path).expect("fixture is readable");
    let store = Store::from_pool(pool.clone());
    let repo: RepoName = "acme/widgets".parse().expect("valid name");
    for (seed, sha) in [(1u8, "1".repeat(40)), (2, "2".repeat(40))] {
        let mut file = pitot_asv::parse_results(&bytes).expect("fixture parses");
        file.commit_hash = sha;
        store
            .ingest(&repo, &file, [seed; 32])
            .await
            .expect("results stored");
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT runs.id FROM runs JOIN repositories ON repositories.id = runs.repository_id
         WHERE repositories.name = 'acme/widgets' ORDER BY runs.id",
    )
        .fetch_all(pool)
        .await
        .expect("runs query");
    (ids[0], ids[1])
}

async fn results_of_run(pool: &PgPool, run_id: i64) -> (i64, i64) {
    sqlx::query_as("SELECT count(samples), count(value) FROM results WHERE run_id = $1")
        .bind(run_id)
        .fetch_one(pool)
        .await
        .expect("results query")
}

#[sqlx::test(migrations = "../../migrations")]
async fn samples_cleared_past_samples_days(pool: PgPool) {
    let (old, recent) = runs_with_samples(&pool).await;
    sqlx::query("UPDATE runs SET ingested_at = now() - interval '40 days' WHERE id = $1")
        .bind(old)
        .execute(&pool)
        .await
        .expect("run aged");
    let (old_samples, old_values) = results_of_run(&pool, old).await;
    let before_recent = results_of_run(&pool, recent).await;
    assert!(old_samples > 3, "the fixture has samples: {old_samples}");
    let retention = RetentionConfig {
        reports_days: 0,
        deliveries_days: 0,
        samples_days: 30,
    };

    let counts = prune(&pool, &retention, 3).await.expect("pruning works");

    assert_eq!(counts.samples, old_samples as u64);
    assert_eq!(results_of_run(&pool, old).await, (0, old_values));
    assert_eq!(results_of_run(&pool, recent).await, before_recent);
}

#[sqlx::test(migrations = "../../migrations")]
async fn dry_run_counts_and_deletes_nothing(pool: PgPool) {
    let app = TestApp::new(pool.clone());
    let old = reported_job(&app, FIXTURE_HEAD, true).await;
    age_job(&pool, old, 100).await;
    insert_deliveries(&pool, "old-", 5, 100, None).await;
    let (old_run, _) = runs_with_samples(&pool).await;
    sqlx::query("UPDATE runs SET ingested_at = now() - interval '40 days' WHERE id = $1")
        .bind(old_run)
        .execute(&pool)
        .await
        .expect("run aged");
    let retention = RetentionConfig {
        reports_days: 90,
        deliveries_days: 90,
        samples_days: 30,
    };
    let samples_before = app.count("results WHERE samples IS NOT NULL").await;

    let would = count_prunable(&pool, &retention)
        .await
        .expect("counting works");

    assert_eq!(report_rows(&pool, old).await, (1, 2));
    assert_eq!(
        app.count("deliveries WHERE delivery_id LIKE 'old-%'").await,
        5
    );
    assert_eq!(
        app.count("results WHERE samples IS NOT NULL").await,
        samples_before
    );
    assert_eq!(would.reports, 1);
    assert_eq!(would.report_files, 2);
    assert_eq!(would.deliveries, 5);
    assert!(would.samples > 0);
    let did = prune(&pool, &retention, 1000).await.expect("pruning works");
    assert_eq!(did, would);
}
