//! The agent API: the HTTP endpoints a `pitot agent` calls on the server,
//! and the JSON bodies they exchange.
//!
//! Every request carries `Authorization: Bearer <agent token>`. The server
//! responds `401 Unauthorized` when the token is missing or unknown. Bodies
//! are JSON in both directions. The server implements these endpoints, and
//! [`crate::client::ServerClient`] calls them.
//!
//! | endpoint | request body | responses |
//! |---|---|---|
//! | `POST /api/agent/claim` | [`ClaimRequest`] | `200` [`ClaimedJob`], `204` no job within the long-poll window |
//! | `POST /api/agent/jobs/{job_id}/heartbeat` | [`HeartbeatRequest`] | `200` [`HeartbeatResponse`], `409` lease lost |
//! | `POST /api/agent/jobs/{job_id}/report` | [`ReportRequest`] | `200`, `409` lease lost, `413` body too large |
//!
//! A job is claimed under a lease of [`ClaimedJob::lease_seconds`]. Each
//! heartbeat renews it. When it expires, the server may hand the job to
//! another agent as a new attempt, and then calls made with the old
//! [`ClaimedJob::attempt`] get `409 Conflict`. The agent retries a request
//! that failed with a connection error or a 5xx status, so the server must
//! treat a repeated heartbeat or report for the same attempt as harmless.

use serde::{Deserialize, Serialize};

/// The path of the claim endpoint.
pub const CLAIM_PATH: &str = "/api/agent/claim";

/// Returns the path of the heartbeat endpoint for a job.
pub fn heartbeat_path(job_id: i64) -> String {
    format!("/api/agent/jobs/{job_id}/heartbeat")
}

/// Returns the path of the report endpoint for a job.
pub fn report_path(job_id: i64) -> String {
    format!("/api/agent/jobs/{job_id}/report")
}

/// Body of `POST /api/agent/claim`: the agent that requests work.
///
/// The server keeps the request open for up to about 25 seconds (the
/// long-poll window) and responds as soon as a job is queued for this
/// machine, so an idle agent picks up new work without a polling delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The agent's name, unique among the server's agents; shown in logs and
    /// on the dashboard.
    pub agent: String,
    /// The asv machine name the agent records results under. Results are
    /// only comparable within one machine.
    pub machine: String,
}

/// Body of a `200` response to a claim: one job the agent now has a lease on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimedJob {
    /// The job's id, used in the heartbeat and report paths.
    pub job_id: i64,
    /// The attempt number, starting at 1. Heartbeats and the
    /// report send it back so the server can reject calls from an agent
    /// whose lease expired.
    pub attempt: i32,
    /// The repository's full name, `owner/name`.
    pub repository: String,
    /// The URL to fetch from. It may carry credentials for a private
    /// repository, so the agent never logs it unredacted.
    pub clone_url: String,
    /// The exact commit to benchmark: a full hexadecimal object id, never a
    /// branch name, so a push during the run cannot change what is measured.
    pub head_sha: String,
    /// The pull request's target branch (`main`, not `refs/heads/main`). The
    /// agent benchmarks the merge-base of the head and this branch, unless
    /// the job gives [`ClaimedJob::base_sha`]; the branch is fetched either way.
    pub base_ref: String,
    /// The exact commit to compare the head with, for jobs that know it:
    /// a push to the default branch (the commit before the push) and a
    /// release (the previous release's commit). The agent then computes no
    /// merge-base. Absent for pull request jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_sha: Option<String>,
    /// The pull request number, when the job comes from a pull request.
    #[serde(default)]
    pub pr_number: Option<i64>,
    /// How long the lease lasts without a heartbeat, in seconds. The agent
    /// sends a heartbeat every third of it.
    pub lease_seconds: u64,
    /// How to run asv.
    pub asv: AsvOptions,
    /// A ref that contains the head commit on the remote, such as
    /// `refs/pull/7/head`. The agent fetches it first, because many servers
    /// refuse to send a commit asked for by id alone, and then fetches
    /// `head_sha` itself if the ref has moved on.
    #[serde(default)]
    pub head_fetch_ref: Option<String>,
    /// Set for a calibration job: run asv on `head_sha` this many times,
    /// keeping each pass's results apart, instead of comparing two
    /// commits. `base_sha` then equals `head_sha`. Result paths are
    /// `pass-<n>/<machine>/<file>.json`, with `n` counting from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_passes: Option<u32>,
}

/// The asv options of a job, set by the repository's configuration on the
/// server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsvOptions {
    /// A regular expression passed as `asv continuous --bench`; all
    /// benchmarks run when it is absent.
    #[serde(default)]
    pub bench: Option<String>,
    /// The path of `asv.conf.json` relative to the repository root; asv's
    /// default, `asv.conf.json` at the root, when absent.
    #[serde(default)]
    pub config: Option<String>,
    /// The ratio asv treats as a change (`asv continuous --factor`).
    /// Default: 1.1.
    #[serde(default = "default_factor")]
    pub factor: f64,
    /// The time limit for the whole `asv continuous` run, environment
    /// builds included, in seconds. The agent stops asv when it passes.
    pub timeout_seconds: u64,
    /// Extra arguments appended to `asv continuous`, before the two commits.
    #[serde(default)]
    pub extra_args: Vec<String>,
    /// asv's `rounds` for every benchmark (`asv continuous --attribute
    /// rounds=N`), which overrides each benchmark's own setting. The server
    /// sets it for a confirmation, which re-runs flagged benchmarks with
    /// more rounds. Absent: each benchmark's own `rounds` (asv's default is 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
}

fn default_factor() -> f64 {
    1.1
}

/// The step of the job the agent is in, sent with each heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Fetching the commits with git.
    Fetching,
    /// Preparing asv: its own virtual environment and the machine entry.
    Building,
    /// Running `asv continuous`, which also builds the project's
    /// environments for both commits.
    Benchmarking,
    /// Sending the report.
    Uploading,
}

/// Body of `POST /api/agent/jobs/{job_id}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// The attempt from [`ClaimedJob::attempt`].
    pub attempt: i32,
    /// The current step.
    pub phase: Phase,
    /// The merge-base the agent benchmarks against, once it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_sha: Option<String>,
}

/// Body of a `200` response to a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// True when the job was cancelled (for example the label was removed
    /// or a new push superseded it). The agent then stops asv and sends no
    /// report.
    pub cancelled: bool,
}

/// The end state of a job, sent in its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobOutcome {
    /// asv wrote results for both commits.
    Completed,
    /// The job could not produce results for both commits; `error` gives the reason.
    Failed,
}

/// One asv results file, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultFile {
    /// The path relative to asv's results folder, `<machine>/<file>.json`:
    /// the results of each commit and the machine's `machine.json`.
    pub path: String,
    /// The file's contents.
    pub content: String,
}

/// Body of `POST /api/agent/jobs/{job_id}/report`: the end of an attempt.
///
/// A report is sent for completed and failed runs. No report is sent when
/// the job was cancelled, when its lease was lost, or when the agent shut
/// down in the middle of it. The server then lets the lease expire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// The attempt from [`ClaimedJob::attempt`].
    pub attempt: i32,
    /// The merge-base that was benchmarked; `null` when the job failed
    /// before it was computed (for example the fetch failed).
    pub base_sha: Option<String>,
    /// The head commit, as claimed.
    pub head_sha: String,
    /// The asv machine name the results are recorded under.
    pub machine: String,
    /// asv's `benchmarks.json` (the benchmark suite's description), or
    /// `null` when asv wrote none.
    pub benchmarks_json: Option<String>,
    /// The results files asv wrote for this job, possibly empty.
    pub results: Vec<ResultFile>,
    /// The job's log: git, asv setup and asv's interleaved stdout and
    /// stderr. Long logs keep their beginning and end, with a marker line
    /// where the middle was cut.
    pub log: String,
    /// The end state of the job.
    pub outcome: JobOutcome,
    /// The reason the job failed, for people: one sentence, followed by the
    /// last lines of the log when asv ran. Absent when the job completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claimed_job_optional_fields_default() {
        let body = r#"{
            "job_id": 12, "attempt": 1, "repository": "octo/demo",
            "clone_url": "https://github.com/octo/demo.git",
            "head_sha": "0123456789abcdef0123456789abcdef01234567",
            "base_ref": "main", "lease_seconds": 300,
            "asv": { "timeout_seconds": 3600 }
        }"#;

        let job: ClaimedJob = serde_json::from_str(body).expect("a valid job");

        assert_eq!(job.pr_number, None);
        assert_eq!(job.base_sha, None);
        assert_eq!(job.head_fetch_ref, None);
        assert_eq!(job.calibration_passes, None);
        assert_eq!(job.asv.factor, 1.1);
        assert_eq!(job.asv.bench, None);
        assert!(job.asv.extra_args.is_empty());
    }

    #[test]
    fn heartbeat_phase_is_lowercase() {
        let request = HeartbeatRequest {
            attempt: 2,
            phase: Phase::Benchmarking,
            base_sha: None,
        };

        let json = serde_json::to_value(&request).expect("serializable");

        assert_eq!(json, serde_json::json!({ "attempt": 2, "phase": "benchmarking" }));
    }

    #[test]
    fn report_outcome_and_null_fields() {
        let report = ReportRequest {
            attempt: 1,
            base_sha: None,
            head_sha: "abc".into(),
            machine: "bench-1".into(),
            benchmarks_json: None,
            results: vec![],
            log: String::new(),
            outcome: JobOutcome::Failed,
            error: Some("the fetch failed".into()),
        };

        let json = serde_json::to_value(&report).expect("serializable");

        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["base_sha"], serde_json::Value::Null);
        assert_eq!(json["benchmarks_json"], serde_json::Value::Null);
        assert_eq!(json["error"], "the fetch failed");
    }
}
