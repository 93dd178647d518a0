//! `GET /metrics`: the server's counters and histograms, the job queue
//! read from PostgreSQL, and the GitHub client's call counts, in
//! Prometheus's text format.
//!
//! Counters and histograms count what this process did since it started.
//! The job gauge is the same on every replica because it comes from the
//! database. Labels never carry repository names, so the page reveals
//! nothing about which projects a server benchmarks.

mod text;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::Context as _;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use pitot_github::CallStats;
use pitot_store::jobs::{self, JobState};
use pitot_store::IngestOutcome;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;
use text::{Encoder, Histogram, Kind};

/// Bucket bounds of the queue wait, in seconds: from an idle agent
/// (under a second) to a queue hours long.
const QUEUE_WAIT_BOUNDS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
];

/// Bucket bounds of a run, from claim to report, in seconds: asv builds
/// two environments and runs the suite twice, which takes from about a
/// minute (a small suite) to the default one-hour run timeout and beyond.
const RUN_DURATION_BOUNDS: &[f64] = &[
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 2700.0, 3600.0, 7200.0,
];

/// Every job state, so the gauge shows 0 for a state no job is in.
const JOB_STATES: [JobState; 7] = [
    JobState::Queued,
    JobState::Running,
    JobState::Ingesting,
    JobState::Reported,
    JobState::Failed,
    JobState::Cancelled,
    JobState::Superseded,
];

/// The counters and histograms of one server process; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Mutex<Recorded>>,
}

#[derive(Debug)]
struct Recorded {
    /// Webhook deliveries by (event, outcome).
    deliveries: BTreeMap<(String, String), u64>,
    queue_wait: Histogram,
    run_duration: Histogram,
    ingested_values: u64,
    /// Results files ingested by outcome: inserted, replaced, unchanged.
    ingested_files: BTreeMap<&'static str, u64>,
    /// Rows removed or changed by retention pruning, by kind.
    pruned: BTreeMap<&'static str, u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorded = Recorded {
            deliveries: BTreeMap::new(),
            queue_wait: Histogram::new(QUEUE_WAIT_BOUNDS),
            run_duration: Histogram::new(RUN_DURATION_BOUNDS),
            ingested_values: 0,
            ingested_files: BTreeMap::new(),
            pruned: BTreeMap::new(),
        };
        Metrics {
            inner: Arc::new(Mutex::new(recorded)),
        }
    }
}

impl Metrics {
    /// Counts a webhook delivery. `event` must come from a delivery whose
    /// signature was verified (or be a fixed word), because every distinct
    /// value becomes a series.
    pub fn count_delivery(&self, event: &str, outcome: &str) {
        let key = (event.to_owned(), outcome.to_owned());
        *self.lock().deliveries.entry(key).or_default() += 1;
    }

    /// Records how long a job waited in the queue before an agent claimed it.
    pub fn observe_queue_wait(&self, seconds: f64) {
        self.lock().queue_wait.observe(seconds);
    }

    /// Records how long an agent took from claiming a job to reporting it.
    pub fn observe_run(&self, seconds: f64) {
        self.lock().run_duration.observe(seconds);
    }

    /// Counts one results file ingested by the reporter.
    pub fn count_ingest(&self, outcome: IngestOutcome) {
        let (name, values) = match outcome {
            IngestOutcome::Inserted { values } => ("inserted", values),
            IngestOutcome::Replaced { values } => ("replaced", values),
            IngestOutcome::Unchanged => ("unchanged", 0),
            IngestOutcome::Kept => ("kept", 0),
        };
        let mut recorded = self.lock();
        recorded.ingested_values += values;
        *recorded.ingested_files.entry(name).or_default() += 1;
    }

    /// Counts the rows of one retention pruning round.
    pub fn count_pruned(&self, counts: &crate::retention::PruneCounts) {
        let mut recorded = self.lock();
        for (kind, rows) in counts.by_kind() {
            *recorded.pruned.entry(kind).or_default() += rows;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        // Counters stay valid after a panic elsewhere, so poisoning is ignored.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Renders every metric; `jobs` are the counts by state from the
    /// database, `deferred` the deliveries waiting to be applied, and
    /// `github` the client's call counts, if there is a client.
    fn render(&self, jobs: &[(JobState, i64)], deferred: i64, github: Option<&CallStats>) -> String {
        let mut encoder = Encoder::default();
        self.render_recorded(&mut encoder);
        render_jobs(&mut encoder, jobs);
        let name = "pitot_deferred_deliveries";
        encoder.family(
            name,
            Kind::Gauge,
            "Webhook deliveries stored to be applied later because a row they change was locked.",
        );
        encoder.sample(name, &[], deferred as f64);
        render_github(&mut encoder, github);
        encoder.finish()
    }

    fn render_recorded(&self, encoder: &mut Encoder) {
        let recorded = self.lock();

        let name = "pitot_webhook_deliveries_total";
        encoder.family(
            name,
            Kind::Counter,
            "Webhook deliveries by event and outcome; `rejected` deliveries failed a check and changed nothing.",
        );
        for ((event, outcome), count) in &recorded.deliveries {
            encoder.sample(
                name,
                &[("event", event), ("outcome", outcome)],
                *count as f64,
            );
        }

        let name = "pitot_job_queue_wait_seconds";
        encoder.family(
            name,
            Kind::Histogram,
            "Time from a job entering the queue to an agent claiming it.",
        );
        encoder.histogram(name, &recorded.queue_wait);

        let name = "pitot_job_run_duration_seconds";
        encoder.family(
            name,
            Kind::Histogram,
            "Time from an agent claiming a job to its report, asv runs included.",
        );
        encoder.histogram(name, &recorded.run_duration);

        let name = "pitot_ingested_values_total";
        encoder.family(
            name,
            Kind::Counter,
            "Benchmark result values stored from agents' reports.",
        );
        encoder.sample(name, &[], recorded.ingested_values as f64);

        let name = "pitot_ingested_files_total";
        encoder.family(
            name,
            Kind::Counter,
            "asv results files ingested from agents' reports, by outcome.",
        );
        for outcome in ["inserted", "replaced", "unchanged", "kept"] {
            let count = recorded.ingested_files.get(outcome).copied().unwrap_or(0);
            encoder.sample(name, &[("outcome", outcome)], count as f64);
        }

        let name = "pitot_retention_pruned_rows_total";
        encoder.family(
            name,
            Kind::Counter,
            "Rows deleted by data retention: reports, report_files and deliveries; samples counts results whose raw samples were cleared.",
        );
        for (kind, _) in crate::retention::PruneCounts::default().by_kind() {
            let count = recorded.pruned.get(kind).copied().unwrap_or(0);
            encoder.sample(name, &[("kind", kind)], count as f64);
        }
    }
}

fn render_jobs(encoder: &mut Encoder, jobs: &[(JobState, i64)]) {
    let name = "pitot_jobs";
    encoder.family(name, Kind::Gauge, "Jobs in the database by state.");
    for state in JOB_STATES {
        let count = jobs
            .iter()
            .find(|(found, _)| *found == state)
            .map_or(0, |(_, count)| *count);
        encoder.sample(name, &[("state", state.as_str())], count as f64);
    }
}

fn render_github(encoder: &mut Encoder, github: Option<&CallStats>) {
    let name = "pitot_github_requests_total";
    encoder.family(
        name,
        Kind::Counter,
        "GitHub REST API attempts by HTTP status, or `timeout` and `transport_error` without a response.",
    );
    let Some(stats) = github else {
        return;
    };
    for (status, count) in &stats.attempts {
        encoder.sample(name, &[("status", status)], *count as f64);
    }

    let name = "pitot_github_rate_limit_remaining";
    encoder.family(
        name,
        Kind::Gauge,
        "The x-ratelimit-remaining header of GitHub's latest response, by rate limit resource.",
    );
    for (resource, remaining) in &stats.rate_limit_remaining {
        encoder.sample(name, &[("resource", resource)], *remaining as f64);
    }
}

/// `GET /metrics`: the metrics in Prometheus's text format. When
/// `metrics.token` is set, the request must send it as a bearer token.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(expected) = &state.config.metrics.token {
        let sent = crate::secret_tokens::bearer_token(&headers).unwrap_or("");
        // Comparing digests takes the same time whatever the sent token.
        if Sha256::digest(sent) != Sha256::digest(expected.expose_secret()) {
            return Err(AppError::Unauthorized(
                "missing or invalid metrics token: send Authorization: Bearer <metrics.token>"
                    .into(),
            ));
        }
    }
    let jobs = jobs::count_jobs_by_state(&state.pool)
        .await
        .context("failed to count jobs by state")?;
    let deferred = pitot_store::deliveries::count_deferred(&state.pool)
        .await
        .context("failed to count deferred deliveries")?;
    let github = state.github.as_ref().map(|client| client.call_stats());
    let body = state.metrics.render(&jobs, deferred, github.as_ref());
    Ok(([(CONTENT_TYPE, text::CONTENT_TYPE)], body).into_response())
}
