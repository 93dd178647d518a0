//! Faults injected into the real `pitot serve` process: killed with SIGKILL
//! in the middle of a burst of webhook deliveries, then started again.
//!
//! GitHub redelivers what did not get a 2xx response, so pitot promises
//! that every delivery it acknowledged with a 2xx is stored with its job,
//! and that a delivery sent again after the restart never creates a second
//! job.

#[path = "support/serve_process.rs"]
mod serve_process;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
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

    let stored = stored_delivery_ids(&pool).await;
    assert!(accepted.len() >= KILL_AFTER - CONCURRENCY, "only {} accepted before the kill", accepted.len());
    assert!(accepted.len() < DELIVERIES, "the kill came after the burst ended");
    let lost: Vec<&String> = accepted.difference(&stored).collect();
    assert!(lost.is_empty(), "accepted but not stored: {lost:?}");
    assert_eq!(job_count(&pool).await, stored.len() as i64, "one job per stored delivery");

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
