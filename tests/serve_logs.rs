//! The logs of the real `pitot serve` binary with `log.format = "json"`.
//! Each request is one JSON line with method, path, status, latency and a
//! request id. The id is returned in `x-request-id` and is on the lines of
//! the work done for the request. No secret or body is written.

#[path = "support/serve_process.rs"]
mod serve_process;

use std::io::Read as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use serve_process::{database_url, free_port, serve_command, wait_until_healthy, Server};
use sqlx::PgPool;

const SECRET: &str = "serve-logs-webhook-secret";
/// A string that appears only in the webhook's body.
const BODY_MARKER: &str = "body-marker-7f3a9c";

fn labeled_payload() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks/pull_request/labeled.payload.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON");
    payload["label"]["name"] = "run-benchmarks".into();
    payload["pull_request"]["body"] = BODY_MARKER.into();
    serde_json::to_vec(&payload).expect("encodes")
}

/// Returns the fields of `line`'s spans, innermost last.
fn spans(line: &Value) -> &[Value] {
    line["spans"].as_array().map_or(&[], Vec::as_slice)
}

#[sqlx::test]
async fn json_logs_carry_request_ids_and_no_secrets(pool: PgPool) {
    let home = tempfile::tempdir().expect("folder");
    let config = home.path().join("pitot.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\n").expect("write config");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let child = serve_command(&database_url(&pool).await, home.path(), port, SECRET)
        .arg("--config")
        .arg(&config)
        .env("PITOT_LOG", "info")
        .env_remove("PITOT_LOG_FORMAT")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("pitot serve starts");
    let mut server = Server(child);
    let client = reqwest::Client::new();
    wait_until_healthy(&client, &url).await;

    let body = labeled_payload();
    let signature = pitot_github::sign(SECRET.as_bytes(), &body);
    let response = client
        .post(format!("{url}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", "serve-logs-1")
        .header("x-hub-signature-256", &signature)
        .body(body)
        .send()
        .await
        .expect("server answers");
    assert_eq!(response.status(), 202);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    // The request's line is written before the response is sent; a short
    // pause lets the rest of the handler's output reach the pipe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.0.kill();
    let mut stderr = String::new();
    server
        .0
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("read stderr");

    let lines: Vec<Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let with_id: Vec<&Value> = lines
        .iter()
        .filter(|line| {
            spans(line)
                .iter()
                .any(|span| span["request_id"] == request_id.as_str())
        })
        .collect();
    let finished: Vec<&&Value> = with_id
        .iter()
        .filter(|line| line["fields"]["message"] == "finished processing request")
        .collect();
    assert_eq!(finished.len(), 1, "one line for the request: {stderr}");
    let request_line = finished[0];
    assert_eq!(request_line["fields"]["status"], 202, "{request_line}");
    assert!(
        request_line["fields"]["latency"].is_string(),
        "{request_line}"
    );
    let request_span = &request_line["span"];
    assert_eq!(request_span["method"], "POST");
    assert_eq!(request_span["path"], "/webhooks/github");
    assert!(
        with_id.iter().any(
            |line| line["fields"]["message"] == "webhook delivery applied"
                && spans(line)
                    .iter()
                    .any(|span| span["delivery_id"] == "serve-logs-1")
        ),
        "the handler's own line carries the request id: {stderr}"
    );
    for secret in [SECRET, signature.as_str(), BODY_MARKER] {
        assert!(!stderr.contains(secret), "{secret:?} was logged: {stderr}");
    }
}
