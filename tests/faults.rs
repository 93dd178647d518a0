//! Faults injected into the real `pitot serve` process. It is killed with
//! SIGKILL in the middle of a burst of webhook deliveries or of an ingest,
//! then started again. Its PostgreSQL server crashes under it, then comes
//! back.
//!
//! GitHub redelivers what did not get a 2xx response, so pitot promises
//! that every delivery it acknowledged with a 2xx is stored with its job,
//! that it never acknowledges one it could not store, and that a delivery
//! sent again after a restart never creates a second job.

#[path = "support/serve_process.rs"]
mod serve_process;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use serve_process::{database_url, free_port, serve_command, wait_until_healthy, Server};
use sqlx::PgPool;

const SECRET: &str = "faults-webhook-secret";
const DELIVERIES: usize = 300;
/// The server is killed once this many deliveries have a response or an error.
const KILL_AFTER: usize = 100;
const CONCURRENCY: usize = 16;

/// Returns the `labeled` payload for pull request `number`, with a head
/// commit of its own, and its delivery id.
fn labelled_delivery(number: usize) -> (String, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhooks/pull_request/labeled.payload.json");
    let mut payload: Value = serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["number"] = number.into();
    payload["pull_request"]["number"] = number.into();
    payload["pull_request"]["head"]["sha"] = format!("{number:040x}").into();
    (format!("burst-{number}"), serde_json::to_vec(&payload).expect("encodes"))
}

/// Posts one delivery and returns the HTTP status, or `None` when the
/// server sent no response because it was killed.
async fn deliver(client: &reqwest::Client, url: &str, id: &str, body: &[u8]) -> Option<u16> {
    let response = client
        .post(format!("{url}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", pitot_github::sign(SECRET.as_bytes(), body))
        .body(body.to_vec())
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

fn start_server(database_url: &str, home: &Path, port: u16) -> Server {
    let child = serve_command(database_url, home, port, SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pitot serve starts");
    Server(child)
}

async fn stored_delivery_ids(pool: &PgPool) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT delivery_id FROM deliveries")
        .fetch_all(pool)
        .await
        .expect("deliveries")
        .into_iter()
        .collect()
}

/// Returns the pull request numbers that have more than one job.
async fn pull_requests_with_two_jobs(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT pr_number FROM jobs GROUP BY pr_number HAVING count(*) > 1")
        .fetch_all(pool)
        .await
        .expect("jobs")
}

/// Returns the stored delivery ids and the number of jobs, read in one
/// snapshot.
async fn stored_deliveries_and_jobs(pool: &PgPool) -> (BTreeSet<String>, i64) {
    let mut tx = pool.begin().await.expect("transaction");
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .expect("isolation level");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    let stored = sqlx::query_scalar("SELECT delivery_id FROM deliveries")
        .fetch_all(&mut *tx)
        .await
        .expect("deliveries")
        .into_iter()
        .collect();
    (stored, jobs)
}

async fn job_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(pool).await.expect("count")
}

#[sqlx::test]
async fn killed_server_loses_no_accepted_delivery(pool: PgPool) {
    let home = tempfile::tempdir().expect("folder");
    let database = database_url(&pool).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deliveries: Arc<Vec<(String, Vec<u8>)>> = Arc::new((1..=DELIVERIES).map(labelled_delivery).collect());

    let mut server = start_server(&database, home.path(), port);
    wait_until_healthy(&client, &url).await;

    // CONCURRENCY senders share the list; the server dies mid-burst.
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url) = (client.clone(), url.clone());
        let (deliveries, next, answered) = (deliveries.clone(), next.clone(), answered.clone());
        senders.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some((id, body)) = deliveries.get(index) else { break };
                let status = deliver(&client, &url, id, body).await;
                answered.fetch_add(1, Ordering::SeqCst);
                if status.is_some_and(|status| (200..300).contains(&status)) {
                    accepted.push(id.clone());
                }
            }
            accepted
        }));
    }
    while answered.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("server exits");
    let mut accepted = BTreeSet::new();
    for sender in senders {
        accepted.extend(sender.await.expect("sender"));
    }

    // The killed server's last commits may still be landing, so the
    // deliveries and the jobs are read in one snapshot.
    let (stored, jobs) = stored_deliveries_and_jobs(&pool).await;
    assert!(accepted.len() >= KILL_AFTER - CONCURRENCY, "only {} accepted before the kill", accepted.len());
    assert!(accepted.len() < DELIVERIES, "the kill came after the burst ended");
    let lost: Vec<&String> = accepted.difference(&stored).collect();
    assert!(lost.is_empty(), "accepted but not stored: {lost:?}");
    assert_eq!(jobs, stored.len() as i64, "one job per stored delivery");

    // GitHub redelivers what failed. Here every delivery is sent again to
    // the restarted server, the accepted ones included.
    let _server = start_server(&database, home.path(), port);
    wait_until_healthy(&client, &url).await;
    for (id, body) in deliveries.iter() {
        let status = deliver(&client, &url, id, body).await;
        assert!(status.is_some_and(|status| (200..300).contains(&status)), "{id}: {status:?}");
    }

    assert_eq!(stored_delivery_ids(&pool).await.len(), DELIVERIES);
    assert_eq!(job_count(&pool).await, DELIVERIES as i64);
    assert_eq!(pull_requests_with_two_jobs(&pool).await, Vec::<i64>::new());
}

/// A PostgreSQL server of the test's own, on a TCP port of 127.0.0.1, so
/// the test can crash and restart it without disturbing other tests. It
/// runs as the `postgres` user when the test runs as root, because
/// PostgreSQL refuses to run as root.
struct PrivatePostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    /// Holds the data folder until the server is stopped.
    _folder: tempfile::TempDir,
}

impl PrivatePostgres {
    fn init() -> PrivatePostgres {
        let bin_dir = postgres_bin_dir();
        let folder = tempfile::tempdir().expect("folder");
        std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let data_dir = folder.path().join("data");
        std::fs::create_dir(&data_dir).expect("data folder");
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        if running_as_root() {
            let (uid, gid) = postgres_user_ids();
            std::os::unix::fs::chown(folder.path(), Some(uid), Some(gid)).expect("chown");
            std::os::unix::fs::chown(&data_dir, Some(uid), Some(gid)).expect("chown");
        }
        let server = PrivatePostgres { bin_dir, data_dir, port: free_port(), _folder: folder };
        let data = server.data_dir.to_str().expect("UTF-8 path").to_owned();
        server.run("initdb", &["--pgdata", &data, "--auth", "trust", "--username", "postgres", "--no-sync"]);
        server
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let data = self.data_dir.to_str().expect("UTF-8 path");
        let log = self.data_dir.join("server.log");
        let options = format!("-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories=''", self.port);
        self.run("pg_ctl", &["start", "--wait", "--pgdata", data, "--log", log.to_str().expect("a UTF-8 log path"), "-o", &options]);
    }

    /// Stops the server as a crash would: no checkpoint, clients cut off.
    fn crash(&self) {
        let data = self.data_dir.to_str().expect("UTF-8 path");
        self.run("pg_ctl", &["stop", "--wait", "--mode", "immediate", "--pgdata", data]);
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin_dir.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command.args(args).current_dir(&self.data_dir).output().expect("PostgreSQL tool runs");
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.data_dir.join("postmaster.pid").exists() {
            self.crash();
        }
    }
}

/// Returns the folder of the newest installed PostgreSQL's programs.
fn postgres_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().expect("an initdb under /usr/lib/postgresql/*/bin").1
}

fn running_as_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

fn postgres_user_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let output = Command::new("id").args([flag, "postgres"]).output().expect("id runs");
        assert!(output.status.success(), "no `postgres` user to run PostgreSQL as");
        String::from_utf8_lossy(&output.stdout).trim().parse::<u32>().expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// Polls `GET {url}/readyz` until it responds with `status`, for at most `limit`.
async fn wait_for_readiness(client: &reqwest::Client, url: &str, status: u16, limit: Duration) -> String {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < limit {
        if let Ok(response) = client.get(format!("{url}/readyz")).send().await {
            let answered = response.status().as_u16();
            last = format!("{answered} {}", response.text().await.unwrap_or_default());
            if answered == status {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("/readyz did not answer {status} within {limit:?}; last answer: {last}");
}

#[tokio::test]
async fn database_crash_fails_readiness_and_loses_no_delivery() {
    let postgres = PrivatePostgres::init();
    postgres.start();
    let home = tempfile::tempdir().expect("folder");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let _server = start_server(&postgres.url(), home.path(), port);
    wait_until_healthy(&client, &url).await;
    wait_for_readiness(&client, &url, 200, Duration::from_secs(30)).await;

    postgres.crash();

    // The readiness probe fails promptly, so a load balancer stops sending
    // traffic; liveness stays up, so nothing restarts a process that is fine.
    let unready = wait_for_readiness(&client, &url, 503, Duration::from_secs(15)).await;
    assert!(unready.contains("database"), "{unready}");
    let live = client.get(format!("{url}/healthz")).send().await.expect("healthz answers");
    assert_eq!(live.status().as_u16(), 200);
    // A delivery that cannot be stored is refused, so GitHub marks it failed
    // and it can be delivered again.
    let (id, body) = labelled_delivery(7);
    let rejected = deliver(&client, &url, &id, &body).await;
    assert_eq!(rejected, Some(503), "a delivery during the outage");

    postgres.start();
    wait_for_readiness(&client, &url, 200, Duration::from_secs(60)).await;
    assert_eq!(deliver(&client, &url, &id, &body).await, Some(202), "the redelivery");
    assert_eq!(deliver(&client, &url, &id, &body).await, Some(202), "a second redelivery");

    let pool = PgPool::connect(&postgres.url()).await.expect("connects");
    assert_eq!(stored_delivery_ids(&pool).await, BTreeSet::from([id]));
    assert_eq!(job_count(&pool).await, 1);
    pool.close().await;
}

/// The django-asv results file that the ingest test reports twice.
const DJANGO_RESULTS: &str = "tests/fixtures/asv/django-asv/results/macos-12/b1f88476-virtualenv-py3.10.json";

/// Returns the django-asv results file recorded for commit `sha`, and the
/// number of result rows its ingest stores: one per benchmark and
/// parameter combination.
fn django_results_for(sha: &str) -> (String, i64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DJANGO_RESULTS);
    let mut results: Value = serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    results["commit_hash"] = sha.into();
    let text = results.to_string();
    let parsed = pitot_asv::parse_results(text.as_bytes()).expect("the fixture parses");
    let rows = parsed.benchmarks.iter().map(|benchmark| benchmark.outcomes.len() as i64).sum();
    (text, rows)
}

async fn job_state(pool: &PgPool, job_id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, error FROM jobs WHERE id = $1")
        .bind(job_id)
        .fetch_one(pool)
        .await
        .expect("the job")
}

/// Waits until no other session of the test's database is in a
/// transaction, so that a killed server's transactions have ended.
async fn wait_for_other_sessions_to_end(pool: &PgPool) {
    let started = Instant::now();
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
        )
        .fetch_one(pool)
        .await
        .expect("sessions");
        if others == 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{others} sessions outlived the killed server");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test]
async fn killed_ingest_leaves_no_partial_run(pool: PgPool) {
    let home = tempfile::tempdir().expect("folder");
    let database = database_url(&pool).await;
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start_server(&database, home.path(), port);
    wait_until_healthy(&client, &url).await;

    let (delivery_id, body) = labelled_delivery(1);
    assert_eq!(deliver(&client, &url, &delivery_id, &body).await, Some(202));
    let token = pitot_server::agent_tokens::create_agent_token(&pool, "bench-1").await.expect("token");
    let claimed: Value = client
        .post(format!("{url}{}", pitot_runner::api::CLAIM_PATH))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&token))
        .json(&serde_json::json!({ "agent": "bench-1", "machine": "macos-12" }))
        .send()
        .await
        .expect("claim answered")
        .json()
        .await
        .expect("claim JSON");
    let job_id = claimed["job_id"].as_i64().expect("a claimed job");
    let head = format!("{:040x}", 1);
    let base = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";
    let (head_file, rows_per_file) = django_results_for(&head);
    let (base_file, _) = django_results_for(base);

    // A share lock on `results` lets the ingest write the runs of both
    // files, then stops it at their result rows, so the kill lands in the
    // middle of it.
    let mut blocker = pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE results IN SHARE MODE").execute(&mut *blocker).await.expect("lock");
    let report = serde_json::json!({
        "attempt": claimed["attempt"],
        "base_sha": base,
        "head_sha": head,
        "machine": "macos-12",
        "results": [
            { "path": "macos-12/f95f852b-virtualenv-py3.10.json", "content": base_file },
            { "path": format!("macos-12/{}-virtualenv-py3.10.json", &head[..8]), "content": head_file },
        ],
        "log": "asv continuous\n",
        "outcome": "completed",
    });
    let reported = client
        .post(format!("{url}{}", pitot_runner::api::report_path(job_id)))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&token))
        .json(&report)
        .send()
        .await
        .expect("report answered");
    assert!(reported.status().is_success(), "report: {}", reported.status());
    let started = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE relation = 'results'::regclass AND NOT granted",
        )
        .fetch_one(&pool)
        .await
        .expect("locks");
        if waiting > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the ingest never reached the results table");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.0.kill().expect("SIGKILL");
    server.0.wait().expect("server exits");
    blocker.rollback().await.expect("unlock");
    wait_for_other_sessions_to_end(&pool).await;

    let runs_after_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(&pool).await.expect("runs");
    assert_eq!(runs_after_kill, 0, "the killed ingest left runs behind");
    assert_eq!(job_state(&pool, job_id).await.0, "ingesting");

    let _server = start_server(&database, home.path(), port);
    let started = Instant::now();
    loop {
        let (state, error) = job_state(&pool, job_id).await;
        if state == "reported" {
            break;
        }
        assert!(state == "ingesting", "the job ended {state}: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(120), "the restarted server never reported the job");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let runs: Vec<(String, i64)> = sqlx::query_as(
        "SELECT commits.sha, count(results.*) FROM runs
         JOIN commits ON commits.id = runs.commit_id
         LEFT JOIN results ON results.run_id = runs.id
         GROUP BY runs.id, commits.sha ORDER BY commits.sha",
    )
    .fetch_all(&pool)
    .await
    .expect("runs");
    assert_eq!(runs, vec![(head, rows_per_file), (base.to_owned(), rows_per_file)]);
}
