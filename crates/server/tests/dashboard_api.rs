//! The dashboard's JSON API and assets through the real router against a
//! real database.
//!
//! The seeded history has one repository, `acme/widgets`, with three
//! benchmarks on machine `m1` (five commits, one a day) and on machine
//! `m2` (one commit, stored first, so `m1` is the most recently run):
//!
//! | benchmark | m1 values, oldest first |
//! |---|---|
//! | `bench.strings.StringSuite.time_upper` | 1.0, 1.1, 1.2, 1.3, 2.6 |
//! | `bench.strings.time_pad(10)` | 2.0 each time |
//! | `bench.strings.time_pad(100)` | 3.0, 3.0, 3.0, 3.0, failed |
//! | `bench.io.peakmem_read` | 1000, 1000, skipped, 1000, 1000 bytes |

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use pitot_asv::{
    parse_results, BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome,
    ResultsFile, Stats,
};
use pitot_runner::api::{report_path, CLAIM_PATH};
use pitot_server::api::{API_PATHS, OPENAPI_JSON};
use pitot_server::reporter::report_pending;
use pitot_store::{RepoName, Store};
use serde_json::{json, Value};
use sqlx::PgPool;

const REPOSITORY: &str = "acme/widgets";
const UPPER: &str = "bench.strings.StringSuite.time_upper";
const PAD: &str = "bench.strings.time_pad";
const PEAKMEM: &str = "bench.io.peakmem_read";
const UPPER_VALUES: [f64; 5] = [1.0, 1.1, 1.2, 1.3, 2.6];
/// 2023-11-14T22:13:20Z, the date of the first commit.
const FIRST_DATE_MS: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 86_400_000;

/// Returns the sha of commit `n` (1 to 5 on `m1`, 9 on `m2`): 40 times the digit.
fn sha(n: u32) -> String {
    char::from_digit(n, 16)
        .expect("a hex digit")
        .to_string()
        .repeat(40)
}

fn upper_stats(value: f64) -> Option<Stats> {
    Some(Stats {
        ci_99: Some((value * 0.99, value * 1.01)),
        ..Stats::default()
    })
}

/// Returns the results of commit `n` of `m1` (day `n - 1`).
fn m1_file(n: u32) -> ResultsFile {
    let index = n as usize - 1;
    let upper = UPPER_VALUES[index];
    let pad_100 = if n == 5 {
        Outcome::Failed
    } else {
        Outcome::Value(3.0)
    };
    let peakmem = if n == 3 {
        Outcome::Skipped
    } else {
        Outcome::Value(1000.0)
    };
    results_file(
        "m1",
        n,
        vec![
            BenchmarkResult {
                name: UPPER.into(),
                outcomes: vec![Outcome::Value(upper)],
                stats: vec![upper_stats(upper)],
                version: Some("v1".into()),
                ..BenchmarkResult::default()
            },
            BenchmarkResult {
                name: PAD.into(),
                params: vec![vec!["10".into(), "100".into()]],
                outcomes: vec![Outcome::Value(2.0), pad_100],
                version: Some("v1".into()),
                ..BenchmarkResult::default()
            },
            BenchmarkResult {
                name: PEAKMEM.into(),
                outcomes: vec![peakmem],
                version: Some("v1".into()),
                ..BenchmarkResult::default()
            },
        ],
    )
}

fn results_file(machine: &str, n: u32, benchmarks: Vec<BenchmarkResult>) -> ResultsFile {
    ResultsFile {
        schema_version: 2,
        machine: machine.into(),
        env_name: "py3.12".into(),
        commit_hash: sha(n),
        date: Some(FIRST_DATE_MS + i64::from(n - 1) * DAY_MS),
        python: Some("3.12".into()),
        benchmarks,
        ..ResultsFile::default()
    }
}

fn suite() -> BenchmarkSuite {
    let info = |name: &str, kind: BenchmarkType, unit: &str, params: Vec<Vec<String>>| {
        let param_names = if params.is_empty() {
            Vec::new()
        } else {
            vec!["size".to_owned()]
        };
        (
            name.to_owned(),
            BenchmarkInfo {
                name: name.into(),
                kind,
                unit: unit.into(),
                params,
                param_names,
                version: Some("v1".into()),
            },
        )
    };
    BenchmarkSuite {
        benchmarks: [
            info(UPPER, BenchmarkType::Time, "seconds", vec![]),
            info(
                PAD,
                BenchmarkType::Time,
                "seconds",
                vec![vec!["10".into(), "100".into()]],
            ),
            info(PEAKMEM, BenchmarkType::PeakMemory, "bytes", vec![]),
        ]
        .into(),
    }
}

/// Stores the suite, one run on `m2`, then the five runs on `m1`.
async fn seed(app: &TestApp) {
    let store = Store::from_pool(app.pool.clone());
    let repo: RepoName = REPOSITORY.parse().expect("valid name");
    store
        .upsert_suite(&repo, &suite())
        .await
        .expect("suite stored");
    let mut m2 = m1_file(1);
    m2.machine = "m2".into();
    m2.commit_hash = sha(9);
    let mut files = vec![m2];
    files.extend((1..=5).map(m1_file));
    for (seed, file) in files.iter().enumerate() {
        store
            .ingest(&repo, file, [seed as u8; 32])
            .await
            .expect("results stored");
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

#[track_caller]
fn assert_ok(response: &TestResponse) {
    assert_eq!(
        response.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

/// Returns the overview entry named `name`.
#[track_caller]
fn entry<'a>(overview: &'a Value, name: &str) -> &'a Value {
    overview["series"]
        .as_array()
        .expect("a series list")
        .iter()
        .find(|series| series["name"] == name)
        .unwrap_or_else(|| panic!("no series {name} in {overview}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn repositories_list_their_history(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    let response = get(&app, "/api/v1/repositories").await;

    assert_ok(&response);
    let body = response.json();
    let repositories = body["repositories"].as_array().expect("a list");
    assert_eq!(repositories.len(), 1);
    let repository = &repositories[0];
    assert_eq!(repository["name"], REPOSITORY);
    assert_eq!(repository["benchmarks"], 3);
    assert_eq!(repository["machines"], 2);
    assert_eq!(repository["runs"], 6);
    assert_eq!(repository["jobs"], 0);
    assert_eq!(repository["latest_commit_at"], "2023-11-18T22:13:20Z");
    assert_eq!(
        repository["commit_url"],
        "https://github.com/acme/widgets/commit/{sha}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn overview_shows_latest_change_and_sparkline(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    let response = get(&app, "/api/v1/repositories/acme/widgets/benchmarks").await;

    assert_ok(&response);
    let overview = response.json();
    assert_eq!(overview["machine"], "m1", "the most recently run machine");
    assert_eq!(overview["environment"], "py3.12");
    let machines: Vec<&str> = overview["machines"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|pair| pair["machine"].as_str().expect("a name"))
        .collect();
    assert_eq!(machines, ["m1", "m2"]);
    let names: Vec<&str> = overview["series"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|series| series["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        [
            PEAKMEM,
            UPPER,
            "bench.strings.time_pad(10)",
            "bench.strings.time_pad(100)"
        ]
    );

    let upper = entry(&overview, UPPER);
    assert_eq!(upper["group"], "bench.strings");
    assert_eq!(upper["unit"], "seconds");
    assert_eq!(upper["kind"], "time");
    assert_eq!(upper["latest"]["commit"], sha(5));
    assert_eq!(upper["latest"]["committed_at"], "2023-11-18T22:13:20Z");
    assert_eq!(upper["latest"]["state"], "value");
    assert_eq!(upper["latest"]["value"], 2.6);
    assert_eq!(upper["previous_value"], 1.3);
    assert_eq!(upper["change"], 2.0);
    assert_eq!(upper["sparkline"], json!(UPPER_VALUES));
}

#[sqlx::test(migrations = "../../migrations")]
async fn overview_shows_failures_and_skips(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    let overview = get(&app, "/api/v1/repositories/acme/widgets/benchmarks")
        .await
        .json();

    let failed = entry(&overview, "bench.strings.time_pad(100)");
    assert_eq!(failed["group"], "bench.strings");
    assert_eq!(failed["params"], json!(["100"]));
    assert_eq!(failed["latest"]["state"], "failed");
    assert_eq!(failed["latest"]["value"], Value::Null);
    assert_eq!(failed["previous_value"], 3.0);
    assert_eq!(failed["change"], Value::Null);
    assert_eq!(failed["sparkline"], json!([3.0, 3.0, 3.0, 3.0, null]));
    let skipped = entry(&overview, PEAKMEM);
    assert_eq!(skipped["group"], "bench.io");
    assert_eq!(skipped["unit"], "bytes");
    assert_eq!(
        skipped["sparkline"],
        json!([1000.0, 1000.0, null, 1000.0, 1000.0])
    );
    assert_eq!(skipped["change"], 1.0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn overview_takes_machine_and_points(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    let short = get(
        &app,
        "/api/v1/repositories/acme/widgets/benchmarks?points=3",
    )
    .await
    .json();
    let other = get(
        &app,
        "/api/v1/repositories/ACME/Widgets/benchmarks?machine=m2",
    )
    .await
    .json();

    assert_eq!(entry(&short, UPPER)["sparkline"], json!([1.2, 1.3, 2.6]));
    assert_eq!(other["repository"], REPOSITORY, "the stored spelling");
    assert_eq!(other["machine"], "m2");
    let upper = entry(&other, UPPER);
    assert_eq!(upper["latest"]["commit"], sha(9));
    assert_eq!(upper["sparkline"], json!([1.0]));
    assert_eq!(upper["previous_value"], Value::Null);
    assert_eq!(upper["change"], Value::Null);
}

/// Two more results of `UPPER` on m1: one at commit 0 with the same date
/// as commit 5, stored after it so that its commit id is larger but its
/// hash smaller, and one at commit 6 without a date.
async fn seed_tie_and_undated(app: &TestApp) {
    let store = Store::from_pool(app.pool.clone());
    let repo: RepoName = REPOSITORY.parse().expect("valid name");
    let mut tied = m1_file(5);
    tied.commit_hash = sha(0);
    tied.benchmarks[0].outcomes = vec![Outcome::Value(7.0)];
    let mut undated = m1_file(5);
    undated.commit_hash = sha(6);
    undated.date = None;
    undated.benchmarks[0].outcomes = vec![Outcome::Value(6.0)];
    for (seed, file) in [(40, tied), (41, undated)] {
        store.ingest(&repo, &file, [seed; 32]).await.expect("results stored");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn same_date_orders_by_commit_id(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    seed_tie_and_undated(&app).await;

    let overview = get(&app, "/api/v1/repositories/acme/widgets/benchmarks")
        .await
        .json();
    let upper = entry(&overview, UPPER);
    let id = upper["id"].as_i64().expect("an id");
    let history = get(
        &app,
        &format!("/api/v1/repositories/acme/widgets/series/{id}"),
    )
    .await
    .json();

    // The overview leaves the undated result out, and of the two results
    // dated like commit 5, the one stored later is the latest.
    assert_eq!(upper["latest"]["commit"], sha(0));
    assert_eq!(upper["latest"]["value"], 7.0);
    assert_eq!(upper["previous_value"], UPPER_VALUES[4]);
    // The history has every result: by date, ties by commit id, and the
    // undated one last.
    let shas: Vec<String> = [1, 2, 3, 4, 5, 0, 6].into_iter().map(sha).collect();
    assert_eq!(history["points"]["commit"], json!(shas));
    assert_eq!(history["points"]["committed_at"][6], Value::Null);
    assert_eq!(history["points"]["value"][5], 7.0);
    assert_eq!(history["points"]["value"][6], 6.0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn overview_of_empty_repository_is_empty(pool: PgPool) {
    let app = TestApp::new(pool);
    let store = Store::from_pool(app.pool.clone());
    let repo: RepoName = REPOSITORY.parse().expect("valid name");
    store
        .upsert_suite(&repo, &suite())
        .await
        .expect("suite stored");

    let response = get(&app, "/api/v1/repositories/acme/widgets/benchmarks").await;

    assert_ok(&response);
    let overview = response.json();
    assert_eq!(overview["machine"], Value::Null);
    assert_eq!(overview["series"], json!([]));
    assert_eq!(overview["machines"], json!([]));
}

#[sqlx::test(migrations = "../../migrations")]
async fn series_history_has_every_point(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let overview = get(&app, "/api/v1/repositories/acme/widgets/benchmarks")
        .await
        .json();
    let id = entry(&overview, UPPER)["id"].as_i64().expect("an id");

    let response = get(
        &app,
        &format!("/api/v1/repositories/acme/widgets/series/{id}"),
    )
    .await;

    assert_ok(&response);
    let history = response.json();
    assert_eq!(history["series"]["name"], UPPER);
    assert_eq!(history["series"]["machine"], "m1");
    assert_eq!(history["series"]["environment"], "py3.12");
    assert_eq!(history["series"]["unit"], "seconds");
    assert_eq!(
        history["commit_url"],
        "https://github.com/acme/widgets/commit/{sha}"
    );
    let points = &history["points"];
    let shas: Vec<String> = (1..=5).map(sha).collect();
    assert_eq!(points["commit"], json!(shas));
    let dates: Vec<i64> = (0..5).map(|day| FIRST_DATE_MS + day * DAY_MS).collect();
    assert_eq!(points["committed_at"], json!(dates));
    assert_eq!(points["value"], json!(UPPER_VALUES));
    assert_eq!(points["state"], json!(vec!["value"; 5]));
    let lows: Vec<f64> = UPPER_VALUES.iter().map(|value| value * 0.99).collect();
    let highs: Vec<f64> = UPPER_VALUES.iter().map(|value| value * 1.01).collect();
    assert_eq!(points["ci_99_low"], json!(lows));
    assert_eq!(points["ci_99_high"], json!(highs));
    assert_eq!(points["version"], json!(vec!["v1"; 5]));
}

#[sqlx::test(migrations = "../../migrations")]
async fn series_history_marks_failures(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let overview = get(&app, "/api/v1/repositories/acme/widgets/benchmarks")
        .await
        .json();
    let id = entry(&overview, "bench.strings.time_pad(100)")["id"]
        .as_i64()
        .expect("an id");

    let history = get(
        &app,
        &format!("/api/v1/repositories/acme/widgets/series/{id}"),
    )
    .await
    .json();

    let points = &history["points"];
    assert_eq!(
        points["state"],
        json!(["value", "value", "value", "value", "failed"])
    );
    assert_eq!(points["value"], json!([3.0, 3.0, 3.0, 3.0, null]));
    assert_eq!(points["ci_99_low"], json!([null, null, null, null, null]));
}

#[sqlx::test(migrations = "../../migrations")]
async fn benchmark_lists_its_series(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;

    let response = get(
        &app,
        &format!("/api/v1/repositories/acme/widgets/benchmarks/{PAD}"),
    )
    .await;

    assert_ok(&response);
    let body = response.json();
    assert_eq!(body["benchmark"]["name"], PAD);
    assert_eq!(body["benchmark"]["group"], "bench.strings");
    assert_eq!(body["benchmark"]["param_names"], json!(["size"]));
    assert_eq!(body["benchmark"]["params"], json!([["10", "100"]]));
    assert_eq!(body["benchmark"]["unit"], "seconds");
    let series: Vec<(String, Value)> = body["series"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|series| {
            (
                series["machine"].as_str().expect("a machine").to_owned(),
                series["params"].clone(),
            )
        })
        .collect();
    assert_eq!(
        series,
        [
            ("m1".to_owned(), json!(["10"])),
            ("m1".to_owned(), json!(["100"])),
            ("m2".to_owned(), json!(["10"])),
            ("m2".to_owned(), json!(["100"])),
        ]
    );
    assert_eq!(
        body["series"][0]["latest_commit_at"],
        "2023-11-18T22:13:20Z"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn compare_two_commits(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    // Prefixes of 8 digits, as people copy them from asv's tables.
    let base = &sha(4)[..8];
    let head = &sha(5)[..8];

    let response = get(
        &app,
        &format!("/api/v1/repositories/acme/widgets/compare?machine=m1&base={base}&head={head}"),
    )
    .await;

    assert_ok(&response);
    let body = response.json();
    assert_eq!(body["base"], sha(4));
    assert_eq!(body["head"], sha(5));
    assert_eq!(body["machine"], "m1");
    let comparison = &body["comparison"];
    assert_eq!(comparison["before"]["hash"], sha(4));
    let rows = comparison["rows"].as_array().expect("rows");
    let upper = rows
        .iter()
        .find(|row| row["name"] == UPPER)
        .expect("the upper row");
    assert_eq!(upper["ratio"], 2.0);
    assert_eq!(upper["change"], "worse");
    assert_eq!(upper["before"]["value"], 1.3);
    assert_eq!(upper["after"]["value"], 2.6);
    let failed = rows
        .iter()
        .find(|row| row["name"] == "bench.strings.time_pad(100)")
        .expect("the failed row");
    assert_eq!(failed["after"]["state"], "failed");
    assert!(comparison["summary"]["worse"].as_u64() >= Some(1));
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_requests_name_the_input(pool: PgPool) {
    let app = TestApp::new(pool);
    seed(&app).await;
    let compare = "/api/v1/repositories/acme/widgets/compare";
    let unknown_head = format!("{compare}?machine=m1&base={}&head={}", sha(4), sha(7));
    let cases = [
        (
            "/api/v1/repositories/acme/widgets/benchmarks?points=1",
            StatusCode::BAD_REQUEST,
            "invalid points 1",
            "points too few",
        ),
        (
            "/api/v1/repositories/acme/widgets/benchmarks?points=x",
            StatusCode::BAD_REQUEST,
            "points",
            "points not a number",
        ),
        (
            "/api/v1/repositories/acme/widgets/benchmarks?machine=m9",
            StatusCode::NOT_FOUND,
            "no results on machine \"m9\"",
            "unknown machine",
        ),
        (
            "/api/v1/repositories/acme/nothing/benchmarks",
            StatusCode::NOT_FOUND,
            "repository acme/nothing not found",
            "unknown repository",
        ),
        (
            "/api/v1/repositories/acme/wid%20gets/benchmarks",
            StatusCode::BAD_REQUEST,
            "invalid repository",
            "invalid repository name",
        ),
        (
            "/api/v1/repositories/acme/widgets/benchmarks/bench.nothing",
            StatusCode::NOT_FOUND,
            "benchmark \"bench.nothing\" not found",
            "unknown benchmark",
        ),
        (
            "/api/v1/repositories/acme/widgets/series/x",
            StatusCode::BAD_REQUEST,
            "invalid series id \"x\"",
            "series id not a number",
        ),
        (
            "/api/v1/repositories/acme/widgets/series/999999",
            StatusCode::NOT_FOUND,
            "series 999999 not found",
            "unknown series",
        ),
        (
            "/api/v1/repositories/acme/widgets/jobs?limit=0",
            StatusCode::BAD_REQUEST,
            "invalid limit 0",
            "limit too small",
        ),
        (
            "/api/v1/jobs/abc",
            StatusCode::BAD_REQUEST,
            "invalid job id \"abc\"",
            "job id not a number",
        ),
        (
            "/api/v1/jobs/77",
            StatusCode::NOT_FOUND,
            "job 77 not found",
            "unknown job",
        ),
        (
            &format!("{compare}?machine=m1&base=1111"),
            StatusCode::BAD_REQUEST,
            "missing query parameter head",
            "no head",
        ),
        (
            &format!("{compare}?machine=m1&base=zz&head=1111"),
            StatusCode::BAD_REQUEST,
            "invalid commit \"zz\"",
            "base not hex",
        ),
        (
            &unknown_head,
            StatusCode::NOT_FOUND,
            "not found",
            "unknown commit",
        ),
        (
            &format!("{compare}?machine=m7&base=1111&head=5555"),
            StatusCode::NOT_FOUND,
            "machine m7",
            "unknown machine",
        ),
    ];
    for (path, status, message, case) in cases {
        let response = get(&app, path).await;

        assert_eq!(
            response.status,
            status,
            "{case}: {}",
            String::from_utf8_lossy(&response.body)
        );
        assert!(
            response.error().contains(message),
            "{case}: {}",
            response.error()
        );
    }
}

/// Queues, claims and reports a job of `Codertocat/Hello-World` with the
/// django-asv fixture as base and the same file with one benchmark 3 times
/// slower as head, lets the reporter compare it, and returns the job id.
async fn reported_job(app: &TestApp) -> (i64, Value, Value) {
    const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
    let token = app.agent_token("bench-1").await;
    let queued = app
        .deliver("pull_request", "dashboard", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");
    let claimed = app
        .post_agent(
            CLAIM_PATH,
            Some(&token),
            &json!({ "agent": "bench-1", "machine": "macos-12" }),
        )
        .await;
    assert_ok(&claimed);
    let base = django_results(MERGE_BASE, 1.0);
    let head = django_results(FIXTURE_HEAD, 3.0);
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
    assert_ok(&reported);
    report_pending(&app.state).await.expect("the reporter runs");
    (job_id, base, head)
}

const SLOWED: &str = "form_benchmarks.form_clean.benchmark.FormClean.time_form_clean";

/// The django-asv fixture for commit `sha`, with `SLOWED`'s value and
/// interval multiplied by `factor`.
fn django_results(sha: &str, factor: f64) -> Value {
    let path = workspace_path(
        "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json",
    );
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    let mut results: Value = serde_json::from_str(&text).expect("fixture is JSON");
    results["commit_hash"] = sha.into();
    let row = results["results"][SLOWED]
        .as_array_mut()
        .expect("fixture has the benchmark");
    // Columns 0, 5 to 8: result, 99% interval, quartiles.
    for column in [0, 5, 6, 7, 8] {
        for value in row[column].as_array_mut().expect("a list per column") {
            *value = (value.as_f64().expect("a number") * factor).into();
        }
    }
    // The edited file must still be valid asv output.
    parse_results(results.to_string().as_bytes()).expect("edited fixture parses");
    results
}

#[sqlx::test(migrations = "../../migrations")]
async fn jobs_list_and_detail(pool: PgPool) {
    let app = TestApp::new(pool);
    let (job_id, base, _) = reported_job(&app).await;

    let list = get(&app, "/api/v1/repositories/Codertocat/Hello-World/jobs").await;
    let detail = get(&app, &format!("/api/v1/jobs/{job_id}")).await;

    assert_ok(&list);
    let jobs = list.json();
    assert_eq!(jobs["jobs"].as_array().expect("a list").len(), 1);
    assert_eq!(jobs["jobs"][0]["id"], job_id);
    assert_eq!(jobs["jobs"][0]["state"], "reported");
    assert_eq!(jobs["jobs"][0]["pr_number"], 2);
    assert_eq!(jobs["jobs"][0]["head_sha"], FIXTURE_HEAD);
    assert_eq!(jobs["jobs"][0]["machine"], "macos-12");

    assert_ok(&detail);
    let detail = detail.json();
    assert_eq!(detail["job"]["state"], "reported");
    assert_eq!(detail["comparison_error"], Value::Null);
    let rows = detail["comparison"]["rows"].as_array().expect("rows");
    let slowed = rows
        .iter()
        .find(|row| row["name"] == SLOWED)
        .expect("the slowed row");
    assert_eq!(slowed["change"], "worse");
    let ratio = slowed["ratio"].as_f64().expect("a ratio");
    assert!((ratio - 3.0).abs() < 1e-9, "ratio {ratio}");
    let summary_url = detail["charts"]["summary_url"].as_str().expect("a chart");
    assert!(
        summary_url.starts_with(&format!("/charts/jobs/{job_id}/summary-")),
        "{summary_url}"
    );
    let chart = get(&app, summary_url).await;
    assert_ok(&chart);
    assert_eq!(chart.headers["content-type"], "image/png");

    let log_url = detail["log_url"].as_str().expect("a log");
    let log = get(&app, log_url).await;
    assert_ok(&log);
    assert_eq!(log.body, b"asv continuous\n");
    let files = detail["files"].as_array().expect("files");
    let paths: Vec<&str> = files
        .iter()
        .map(|file| file["path"].as_str().expect("a path"))
        .collect();
    assert_eq!(
        paths,
        [
            "macos-12/ec26c3e5-virtualenv-py3.10.json",
            "macos-12/f95f852b-virtualenv-py3.10.json"
        ]
    );
    let download = get(&app, files[1]["url"].as_str().expect("a url")).await;
    assert_ok(&download);
    assert_eq!(download.headers["content-type"], "application/json");
    assert_eq!(download.body, base.to_string().into_bytes());
}

#[sqlx::test(migrations = "../../migrations")]
async fn queued_job_has_no_comparison(pool: PgPool) {
    let app = TestApp::new(pool);
    let queued = app
        .deliver("pull_request", "queued", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");

    let detail = get(&app, &format!("/api/v1/jobs/{job_id}")).await;
    let log = get(&app, &format!("/api/v1/jobs/{job_id}/log")).await;
    let file = get(&app, &format!("/api/v1/jobs/{job_id}/files/m/x.json")).await;

    assert_ok(&detail);
    let detail = detail.json();
    assert_eq!(detail["job"]["state"], "queued");
    assert_eq!(detail["comparison"], Value::Null);
    assert!(
        detail["comparison_error"]
            .as_str()
            .is_some_and(|error| error.contains("no agent has reported")),
        "{detail}"
    );
    assert_eq!(detail["log_url"], Value::Null);
    assert_eq!(detail["files"], json!([]));
    assert_eq!(log.status, StatusCode::NOT_FOUND);
    assert_eq!(file.status, StatusCode::NOT_FOUND);
    assert!(
        file.error().contains("no results file \"m/x.json\""),
        "{}",
        file.error()
    );
}

/// Returns the paths of the OpenAPI document.
fn documented_paths() -> Vec<String> {
    let document: Value = serde_json::from_str(OPENAPI_JSON).expect("the document is JSON");
    document["paths"]
        .as_object()
        .expect("a paths object")
        .keys()
        .cloned()
        .collect()
}

/// Turns axum's `{*path}` wildcard into OpenAPI's `{path}`.
fn openapi_form(path: &str) -> String {
    path.replace("{*", "{")
}

#[test]
fn openapi_documents_every_route() {
    let documented = documented_paths();

    for path in API_PATHS {
        assert!(
            documented.contains(&openapi_form(path)),
            "{path} is routed but missing from openapi.json"
        );
    }
    for path in &documented {
        assert!(
            API_PATHS.iter().any(|routed| openapi_form(routed) == *path),
            "{path} is documented but not routed"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn openapi_document_is_served(pool: PgPool) {
    let app = TestApp::new(pool);

    let response = get(&app, "/api/v1/openapi.json").await;

    assert_ok(&response);
    assert_eq!(response.headers["content-type"], "application/json");
    let document = response.json();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document,
        serde_json::from_str::<Value>(OPENAPI_JSON).expect("JSON")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn dashboard_shell_and_assets_are_served(pool: PgPool) {
    let app = TestApp::new(pool);

    let shell = get(&app, "/").await;
    let script = get(&app, "/assets/app.js").await;
    let chart_library = get(&app, "/assets/vendor/uPlot.esm.js").await;
    let missing = get(&app, "/assets/nothing.js").await;

    assert_ok(&shell);
    assert_eq!(shell.headers["content-type"], "text/html; charset=utf-8");
    let html = String::from_utf8(shell.body.clone()).expect("UTF-8");
    assert!(
        html.contains("<script type=\"module\" src=\"/assets/app.js\">"),
        "{html}"
    );
    assert_ok(&script);
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(String::from_utf8_lossy(&script.body).contains("hashchange"));
    assert_ok(&chart_library);
    assert!(String::from_utf8_lossy(&chart_library.body).contains("export { uPlot as default }"));
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.error().contains("no dashboard file \"nothing.js\""),
        "{}",
        missing.error()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn pages_send_security_headers(pool: PgPool) {
    let app = TestApp::new(pool);
    let queued = app
        .deliver("pull_request", "headers", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");
    let paths = [
        "/".to_owned(),
        "/assets/app.js".to_owned(),
        format!("/jobs/{job_id}"),
        "/api/v1/repositories".to_owned(),
        "/no/such/path".to_owned(),
    ];

    for path in paths {
        let response = get(&app, &path).await;

        let policy = response.headers["content-security-policy"]
            .to_str()
            .expect("ASCII");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {directive} missing from {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(response.headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            response.headers["referrer-policy"],
            "strict-origin-when-cross-origin",
            "{path}"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn pages_have_no_inline_script_or_style(pool: PgPool) {
    let app = TestApp::new(pool);
    let queued = app
        .deliver("pull_request", "inline", &pull_request("labeled"))
        .await;
    let job_id = queued["job_id"].as_i64().expect("a job id");

    let shell = get(&app, "/").await;
    let job_page = get(&app, &format!("/jobs/{job_id}")).await;

    for (name, page) in [("shell", shell), ("job page", job_page)] {
        let html = String::from_utf8(page.body).expect("UTF-8");
        for script in html.match_indices("<script").map(|(at, _)| &html[at..]) {
            let tag = &script[..script.find('>').expect("a closed tag")];
            assert!(tag.contains(" src="), "{name}: inline script {tag}");
        }
        assert!(!html.contains("<style"), "{name}: inline style element");
        assert!(!html.contains(" style="), "{name}: style attribute");
        assert!(!html.contains(" onclick="), "{name}: event handler attribute");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn unchanged_asset_is_not_sent_again(pool: PgPool) {
    let app = TestApp::new(pool);
    let first = get(&app, "/assets/style.css").await;
    let etag = first.headers["etag"].to_str().expect("ASCII").to_owned();

    let again = app
        .send(
            Request::get("/assets/style.css")
                .header("if-none-match", &etag)
                .body(Body::empty())
                .expect("valid request"),
        )
        .await;

    assert_ok(&first);
    assert_eq!(first.headers["cache-control"], "no-cache");
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
}

/// Checks that every module the shell loads imports only served files, so
/// a file added to `web/` but not to the asset list fails here rather than
/// in the browser.
#[sqlx::test(migrations = "../../migrations")]
async fn every_imported_module_is_served(pool: PgPool) {
    let app = TestApp::new(pool);
    let mut pending = vec!["app.js".to_owned()];
    let mut seen = Vec::new();

    while let Some(path) = pending.pop() {
        if seen.contains(&path) {
            continue;
        }
        let response = get(&app, &format!("/assets/{path}")).await;
        assert_ok(&response);
        let text = String::from_utf8(response.body).expect("UTF-8");
        let folder = path
            .rsplit_once('/')
            .map(|(folder, _)| folder)
            .unwrap_or("");
        for line in text.lines().filter(|line| line.starts_with("import ")) {
            let target = line
                .rsplit_once(" from \"")
                .and_then(|(_, rest)| rest.strip_suffix("\";"))
                .unwrap_or_else(|| panic!("unexpected import in {path}: {line}"));
            pending.push(resolve(folder, target));
        }
        seen.push(path);
    }

    assert!(seen.len() >= 10, "{seen:?}");
}

/// Resolves a relative module path (`./x.js`, `../x.js`) against `folder`.
fn resolve(folder: &str, target: &str) -> String {
    let mut parts: Vec<&str> = folder.split('/').filter(|part| !part.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    parts.join("/")
}
