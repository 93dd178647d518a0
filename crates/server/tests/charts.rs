//! The chart endpoints through the real router against a real database: a
//! job is queued by webhook, claimed and reported by an agent with real
//! asv results files (one benchmark 3 times slower on head), and the
//! reporter compares it and stores the comment with the chart URLs.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use pitot_asv::parse_results;
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::reporter::report_pending;
use pitot_store::{file_sha256, quarantines, reporting, RepoName, Store};
use serde_json::{json, Value};
use sqlx::PgPool;

const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
const REPOSITORY: &str = "Codertocat/Hello-World";
const FIXTURE: &str =
    "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json";
const SLOWED: &str = "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean";
/// The address of the default configuration, which comment URLs start with.
const PUBLIC_URL: &str = "http://127.0.0.1:8080";
const DAY_MS: i64 = 86_400_000;

/// Returns the fixture's results as JSON, for commit `sha` dated `days`
/// after the fixture's date, with `SLOWED`'s value and interval
/// multiplied by `factor`.
fn results_json(sha: &str, days: i64, factor: f64) -> Value {
    let text = std::fs::read_to_string(workspace_path(FIXTURE)).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    let date = results["date"].as_i64().expect("fixture has a date");
    results["date"] = (date + days * DAY_MS).into();
    let row = results["results"][SLOWED]
        .as_array_mut()
        .expect("fixture has the benchmark");
    // Columns 0, 5 to 8: result, 99% interval, quartiles.
    for column in [0, 5, 6, 7, 8] {
        for value in row[column].as_array_mut().expect("a list per column") {
            *value = (value.as_f64().expect("a number") * factor).into();
        }
    }
    results
}

/// Stores the results of a commit of the base branch, as `pitot import`
/// would.
async fn import_history(app: &TestApp, sha: &str, days: i64, factor: f64) {
    let bytes = serde_json::to_vec(&results_json(sha, days, factor)).expect("encodes");
    let file = parse_results(&bytes).expect("edited fixture parses");
    let repo: RepoName = REPOSITORY.parse().expect("valid name");
    Store::from_pool(app.pool.clone())
        .ingest(&repo, &file, file_sha256(&bytes))
        .await
        .expect("history is stored");
}

/// Queues, claims and reports a job whose head is 3 times slower in
/// `SLOWED`, lets the reporter compare it, and returns the job id and the
/// stored comment.
async fn reported_job(app: &TestApp) -> (i64, String) {
    let token = app.agent_token("bench-1").await;
    let queued = app
        .deliver("pull_request", "charts", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": "bench-1", "machine": "macos-12" }),
        )
        .await;
    assert_eq!(claimed.status, StatusCode::OK, "{:?}", claimed.body);
    let base = results_json(MERGE_BASE, 0, 1.0);
    let head = results_json(FIXTURE_HEAD, 1, 3.0);
    let report = json!({
        "attempt": 1,
        "base_sha": MERGE_BASE,
        "head_sha": FIXTURE_HEAD,
        "machine": "macos-12",
        "results": [
            { "path": "macos-12/f95f852b-virtualenv-py3.10.json", "content": base.to_string() },
            { "path": "macos-12/ec26c3e5-virtualenv-py3.10.json", "content": head.to_string() },
        ],
        "log": "asv continuous\n",
        "outcome": "completed",
    });
    let reported = app
        .post_agent(&report_path(job_id), Some(&token), &report)
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{:?}", reported.body);

    report_pending(&app.state).await.expect("the reporter runs");

    let outcome = reporting::job_outcome(&app.pool, job_id)
        .await
        .expect("outcome query")
        .expect("the job exists");
    let comment = outcome.comment_body.expect("a stored comment");
    (job_id, comment)
}

/// Returns the path of the first URL in `text` that starts with
/// `{PUBLIC_URL}/charts/jobs/{job_id}/{kind}-`.
#[track_caller]
fn chart_path(text: &str, job_id: i64, kind: &str) -> String {
    let prefix = format!("{PUBLIC_URL}/charts/jobs/{job_id}/{kind}-");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no {kind} chart URL in: {text}"));
    let end = start + text[start..].find(".png").expect("URL ends with .png") + ".png".len();
    text[start + PUBLIC_URL.len()..end].to_owned()
}

async fn get(app: &TestApp, path: &str) -> TestResponse {
    app.send(
        Request::get(path)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

#[track_caller]
fn decode_png(body: &[u8]) -> (u32, u32) {
    let mut reader = png::Decoder::new(body)
        .read_info()
        .expect("the body is a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("the PNG decodes");
    (info.width, info.height)
}

#[sqlx::test(migrations = "../../migrations")]
async fn comment_embeds_a_summary_that_is_served(pool: PgPool) {
    let app = TestApp::new(pool);
    let (job_id, comment) = reported_job(&app).await;
    let path = chart_path(&comment, job_id, "summary");

    let response = get(&app, &path).await;

    assert!(
        comment.contains(&format!(
            "![Head/base ratio of each benchmark, log scale]({PUBLIC_URL}{path})"
        )),
        "{comment}"
    );
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(response.headers["content-type"], "image/png");
    assert_eq!(
        response.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // 40 benchmarks, each drawn as a labelled row of 20 pixels.
    assert_eq!(decode_png(&response.body), (900, 900));
}

#[sqlx::test(migrations = "../../migrations")]
async fn history_chart_is_linked_and_served(pool: PgPool) {
    let app = TestApp::new(pool);
    import_history(&app, "1111111111111111111111111111111111111112", -2, 1.02).await;
    import_history(&app, "1111111111111111111111111111111111111113", -1, 0.98).await;
    let (job_id, comment) = reported_job(&app).await;
    let path = chart_path(&comment, job_id, "history");

    let response = get(&app, &path).await;

    assert!(
        comment.contains(&format!("[`{SLOWED}`]({PUBLIC_URL}{path})")),
        "the slowed benchmark is linked: {comment}"
    );
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(response.headers["content-type"], "image/png");
    assert_eq!(decode_png(&response.body), (900, 420));
}

#[sqlx::test(migrations = "../../migrations")]
async fn urls_follow_the_input(pool: PgPool) {
    let app = TestApp::new(pool);
    import_history(&app, "1111111111111111111111111111111111111112", -2, 1.02).await;
    let (job_id, comment) = reported_job(&app).await;
    let summary = chart_path(&comment, job_id, "summary");
    let history = chart_path(&comment, job_id, "history");

    let page = get(&app, &format!("/jobs/{job_id}")).await;
    let page = String::from_utf8(page.body).expect("the page is UTF-8");
    // A commit of the base branch older than the merge-base joins the
    // history, which changes that chart's input and so its URL.
    import_history(&app, "1111111111111111111111111111111111111114", -3, 1.01).await;
    let later_page = get(&app, &format!("/jobs/{job_id}")).await;
    let later_page = String::from_utf8(later_page.body).expect("the page is UTF-8");
    let stale_history = get(&app, &history).await;
    let summary_again = get(&app, &summary).await;

    assert!(
        page.contains(&format!("<img src=\"{summary}\"")),
        "the job page shows the comment's summary: {page}"
    );
    assert!(page.contains(&format!("<a href=\"{history}\">")), "{page}");
    assert!(
        later_page.contains(&format!("<img src=\"{summary}\"")),
        "same input, same summary URL: {later_page}"
    );
    // The page also quotes the stored comment, which keeps the old URL.
    assert!(
        !later_page.contains(&format!("<a href=\"{history}\">")),
        "new history, new URL: {later_page}"
    );
    assert_eq!(stale_history.status, StatusCode::NOT_FOUND);
    assert!(
        stale_history.error().contains("out of date"),
        "{}",
        stale_history.error()
    );
    assert_eq!(summary_again.status, StatusCode::OK);
}

/// Quarantines `benchmark` in the stored repository, as the API would.
async fn quarantine(app: &TestApp, benchmark: &str, kind: &str) {
    let (repository_id, _) = quarantines::find_repository(&app.pool, REPOSITORY)
        .await
        .expect("repository query")
        .expect("the repository is stored");
    let mut conn = app.pool.acquire().await.expect("a connection");
    quarantines::set_quarantine(
        &mut conn,
        &quarantines::NewQuarantine {
            repository_id,
            benchmark,
            kind,
            reason: "flaky on shared runners",
            expires_at: None,
            created_by: "maintainer",
        },
    )
    .await
    .expect("quarantine is stored");
}

#[sqlx::test(migrations = "../../migrations")]
async fn quarantines_shape_the_served_charts(pool: PgPool) {
    let app = TestApp::new(pool);
    import_history(&app, "1111111111111111111111111111111111111112", -2, 1.02).await;
    let fixture = results_json(MERGE_BASE, 0, 1.0);
    let ignored = fixture["results"]
        .as_object()
        .expect("results by name")
        .keys()
        .find(|name| *name != SLOWED)
        .expect("a second benchmark")
        .clone();
    quarantine(&app, &ignored, "ignored").await;
    quarantine(&app, SLOWED, "noisy").await;

    let (job_id, comment) = reported_job(&app).await;
    let summary = chart_path(&comment, job_id, "summary");
    let response = get(&app, &summary).await;

    // The comment's URL carries the digest of the chart without the
    // ignored benchmark; the route must compute the same one.
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.error());
    assert_eq!(
        decode_png(&response.body),
        (900, 880),
        "39 of the 40 benchmarks are drawn: the ignored one is left out"
    );
    assert!(
        !comment.contains(&format!("/charts/jobs/{job_id}/history-")),
        "a benchmark quarantined as noisy gets no history link: {comment}"
    );

    // Lifting the quarantines later leaves the comment's image as it was.
    let (repository_id, _) = quarantines::find_repository(&app.pool, REPOSITORY)
        .await
        .expect("repository query")
        .expect("the repository is stored");
    for benchmark in [ignored.as_str(), SLOWED] {
        quarantines::lift_quarantine(&app.pool, repository_id, benchmark, "maintainer")
            .await
            .expect("lift query")
            .expect("an active quarantine");
    }
    let after_lifting = get(&app, &summary).await;
    assert_eq!(after_lifting.status, StatusCode::OK, "{:?}", after_lifting.error());
    assert_eq!(after_lifting.body, response.body, "the same image");
}

/// Checks that the charts of one job reuse the comparison built for the
/// first: the second request is served after the report's files are gone.
#[sqlx::test(migrations = "../../migrations")]
async fn charts_reuse_the_built_comparison(pool: PgPool) {
    let app = TestApp::new(pool);
    let (job_id, comment) = reported_job(&app).await;
    let path = chart_path(&comment, job_id, "summary");
    let first = get(&app, &path).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.error());
    sqlx::query(
        "DELETE FROM job_report_files USING job_reports
         WHERE job_reports.id = job_report_files.report_id AND job_reports.job_id = $1",
    )
    .bind(job_id)
    .execute(&app.pool)
    .await
    .expect("files deleted");

    let second = get(&app, &path).await;

    assert_eq!(second.status, StatusCode::OK, "{:?}", second.error());
    assert_eq!(second.body, first.body, "the same image");
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_chart_requests_are_404(pool: PgPool) {
    let app = TestApp::new(pool);
    let (job_id, comment) = reported_job(&app).await;
    let summary = chart_path(&comment, job_id, "summary");
    let wrong_digest = format!("/charts/jobs/{job_id}/summary-0000000000000000.png");
    let cases = [
        (wrong_digest.as_str(), "out of date", "stale digest"),
        (
            &summary.replace(&format!("/jobs/{job_id}/"), "/jobs/999/"),
            "job 999 not found",
            "unknown job",
        ),
        (
            &format!("/charts/jobs/{job_id}/summary.svg"),
            "no chart named \"summary.svg\"",
            "unknown file name",
        ),
        (
            &format!("/charts/jobs/{job_id}/history-999-0000000000000000.png"),
            "out of date or unknown",
            "row beyond the comparison",
        ),
    ];
    for (path, message, case) in cases {
        let response = get(&app, path).await;

        assert_eq!(response.status, StatusCode::NOT_FOUND, "{case}");
        assert!(
            response.error().contains(message),
            "{case}: {}",
            response.error()
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn job_without_report_has_no_charts(pool: PgPool) {
    let app = TestApp::new(pool);
    let queued = app
        .deliver("pull_request", "queued", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");

    let chart = get(
        &app,
        &format!("/charts/jobs/{job_id}/summary-0123456789abcdef.png"),
    )
    .await;
    let page = get(&app, &format!("/jobs/{job_id}")).await;

    assert_eq!(chart.status, StatusCode::NOT_FOUND);
    assert!(
        chart.error().contains("no agent has reported"),
        "{}",
        chart.error()
    );
    assert_eq!(page.status, StatusCode::OK);
    assert!(!String::from_utf8_lossy(&page.body).contains("<img"));
}
