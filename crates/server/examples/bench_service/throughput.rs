//! Measurement 1: webhook deliveries per second and their latency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use pitot_github_stub::{GitHubStub, TEST_INSTALLATION_ID};
use serde_json::Value;
use tokio::runtime::Handle;

use crate::cpu::CpuSnapshot;
use crate::database::{PoolSettings, ScratchDatabase};
use crate::harness::{service_config, start_service, stop_service};
use crate::latency::{ms, Percentiles};
use crate::waits::WaitSampler;
use crate::{load_average, Args, WEBHOOK_SECRET};

/// A real `pull_request`/`labeled` payload, from octokit/webhooks' examples.
const LABELED_PAYLOAD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/webhooks/pull_request/labeled.payload.json"
);

/// Placeholders written into the template and replaced per delivery. Both
/// keep their length, so a delivery is a copy of the template with a few
/// bytes overwritten, which keeps the load generator's own CPU use low.
const SHA_PLACEHOLDER: &str = "feedfacefeedfacefeedfacefeedfacefeedface";
const NUMBER_PLACEHOLDER: i64 = 7_777_777_777;
/// Pull request numbers start here, so they all have the placeholder's ten digits.
const FIRST_NUMBER: i64 = 1_000_000_000;

/// The labelled payload with the trigger label and the stand-in's
/// installation, and the byte offsets where each delivery differs.
pub struct DeliveryTemplate {
    bytes: Vec<u8>,
    sha_offsets: Vec<usize>,
    number_offsets: Vec<usize>,
}

/// One signed delivery.
#[derive(Clone)]
pub struct Delivery {
    pub id: String,
    pub body: Vec<u8>,
    pub signature: String,
    pub number: i64,
    pub head_sha: String,
}

impl DeliveryTemplate {
    /// Loads the fixture and marks where the pull request number and head
    /// commit go.
    pub fn load() -> anyhow::Result<DeliveryTemplate> {
        let text = std::fs::read(LABELED_PAYLOAD)
            .with_context(|| format!("failed to read the webhook fixture {LABELED_PAYLOAD}"))?;
        let mut payload: Value =
            serde_json::from_slice(&text).context("the webhook fixture is not JSON")?;
        payload["label"]["name"] = "run-benchmarks".into();
        payload["installation"]["id"] = TEST_INSTALLATION_ID.into();
        payload["number"] = NUMBER_PLACEHOLDER.into();
        payload["pull_request"]["number"] = NUMBER_PLACEHOLDER.into();
        payload["pull_request"]["head"]["sha"] = SHA_PLACEHOLDER.into();
        let bytes = serde_json::to_vec(&payload).context("failed to encode the payload")?;

        let sha_offsets = find_all(&bytes, SHA_PLACEHOLDER.as_bytes());
        let number_offsets = find_all(&bytes, NUMBER_PLACEHOLDER.to_string().as_bytes());
        if sha_offsets.len() != 1 || number_offsets.len() != 2 {
            bail!(
                "the placeholders occur {} and {} times in the payload, expected 1 and 2",
                sha_offsets.len(),
                number_offsets.len()
            );
        }
        Ok(DeliveryTemplate {
            bytes,
            sha_offsets,
            number_offsets,
        })
    }

    /// Returns delivery `index` of run `run`: its own delivery id, pull
    /// request number and head commit, signed with the bench's secret.
    pub fn delivery(&self, run: usize, index: usize) -> Delivery {
        let number = FIRST_NUMBER + index as i64;
        let head_sha = format!("{:08x}{:032x}", run, index);
        let mut body = self.bytes.clone();
        for &offset in &self.sha_offsets {
            body[offset..offset + 40].copy_from_slice(head_sha.as_bytes());
        }
        let digits = number.to_string();
        for &offset in &self.number_offsets {
            body[offset..offset + digits.len()].copy_from_slice(digits.as_bytes());
        }
        let signature = pitot_github::sign(WEBHOOK_SECRET.as_bytes(), &body);
        Delivery {
            id: format!("bench-{run}-{index}"),
            body,
            signature,
            number,
            head_sha,
        }
    }
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(offset, _)| offset)
        .collect()
}

/// Sends `delivery` and returns its status code.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    delivery: Delivery,
) -> Result<u16, reqwest::Error> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", delivery.id)
        .header("x-hub-signature-256", delivery.signature)
        .body(delivery.body)
        .send()
        .await?;
    let status = response.status().as_u16();
    // Read the body so that the connection is reused.
    response.bytes().await?;
    Ok(status)
}

/// The result of one batch of deliveries.
struct Batch {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Batch {
    fn accepted(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .map(|(_, count)| count)
            .sum()
    }
}

/// Sends deliveries `first..first + count` of `run` over `concurrency`
/// connections. Each connection sends its next delivery when the response
/// to the previous one arrives. A connection error counts as status 0.
async fn send_batch(
    template: Arc<DeliveryTemplate>,
    url: Arc<str>,
    run: usize,
    first: usize,
    count: usize,
    concurrency: usize,
) -> Batch {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .build()
        .expect("a client without TLS always builds");
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + count;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, template, next) =
            (client.clone(), url.clone(), template.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut statuses = Vec::new();
            let mut first_error = None;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end {
                    break;
                }
                let delivery = template.delivery(run, index);
                let sent = Instant::now();
                let status = match send(&client, &url, delivery).await {
                    Ok(status) => status,
                    Err(error) => {
                        first_error.get_or_insert_with(|| format!("{error:#}"));
                        0
                    }
                };
                latencies.push(sent.elapsed());
                statuses.push(status);
            }
            (latencies, statuses, first_error)
        });
    }

    let mut batch = Batch {
        latencies: Vec::with_capacity(count),
        statuses: BTreeMap::new(),
        first_error: None,
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = tasks.join_next().await {
        let (latencies, statuses, first_error) = joined.expect("a sender task panicked");
        batch.latencies.extend(latencies);
        for status in statuses {
            *batch.statuses.entry(status).or_default() += 1;
        }
        if batch.first_error.is_none() {
            batch.first_error = first_error;
        }
    }
    batch.elapsed = started.elapsed();
    batch
}

/// One line of the summary table.
struct RunSummary {
    pool_size: u32,
    concurrency: usize,
    per_second: f64,
    latency: Percentiles,
    all_stored: bool,
    non_2xx: usize,
}

/// Runs the throughput measurement for every combination of pool size and
/// concurrency, each on an empty database and a freshly started server.
pub async fn run_all(
    args: &Args,
    scratch: &ScratchDatabase,
    server: &Handle,
) -> anyhow::Result<()> {
    let (version, synchronous_commit, fsync) = scratch.settings().await?;
    println!("PostgreSQL: {version}; synchronous_commit={synchronous_commit}, fsync={fsync}");
    let template = Arc::new(DeliveryTemplate::load()?);
    println!(
        "payload: {} bytes, the labeled fixture with a new number and head per delivery",
        template.bytes.len()
    );
    let stub = if args.throughput_with_github {
        Some(GitHubStub::start().await)
    } else {
        None
    };

    let bench = Bench {
        args,
        scratch,
        server,
        template,
        stub: stub.as_ref(),
    };
    let mut summaries = Vec::new();
    let mut run = 0;
    for &pool_size in &args.pool_sizes {
        for &concurrency in &args.concurrency {
            run += 1;
            let summary = bench
                .run_once(run, pool_size, concurrency)
                .await
                .with_context(|| {
                    format!(
                        "throughput run with pool {pool_size} and {concurrency} connections failed"
                    )
                })?;
            summaries.push(summary);
        }
    }
    print_summary(&summaries);
    Ok(())
}

/// The settings and resources that every throughput run shares.
struct Bench<'a> {
    args: &'a Args,
    scratch: &'a ScratchDatabase,
    server: &'a Handle,
    template: Arc<DeliveryTemplate>,
    stub: Option<&'a GitHubStub>,
}

impl Bench<'_> {
    /// Runs one throughput measurement on an empty database and a freshly
    /// started server, prints it and returns its summary.
    async fn run_once(
        &self,
        run: usize,
        pool_size: u32,
        concurrency: usize,
    ) -> anyhow::Result<RunSummary> {
        let (args, scratch) = (self.args, self.scratch);
        println!(
            "\nthroughput run {run}: server pool {pool_size}, {concurrency} connections, {} deliveries after {} warm-up, load average {}",
            args.deliveries,
            args.warmup,
            load_average()
        );
        scratch.reset().await?;
        let config = service_config(self.stub);
        let pool = PoolSettings {
            max_connections: pool_size,
            ping_on_acquire: !args.no_ping_on_acquire,
        };
        let service = start_service(self.server, scratch, pool, config).await?;
        let url: Arc<str> = format!("{}/webhooks/github", service.url()).into();
        let template = &self.template;

        let warmup = send_batch(
            template.clone(),
            url.clone(),
            run,
            0,
            args.warmup,
            concurrency,
        )
        .await;
        let cpu_before = CpuSnapshot::take(&scratch.name);
        let sampler = WaitSampler::start(scratch.pool.clone(), scratch.name.clone());
        let first = args.warmup;
        let mut measured = send_batch(
            template.clone(),
            url,
            run,
            first,
            args.deliveries,
            concurrency,
        )
        .await;
        let cpu = CpuSnapshot::take(&scratch.name).since(&cpu_before);
        let waits = sampler.finish().await;
        stop_service(self.server, service).await?;

        let per_second = args.deliveries as f64 / measured.elapsed.as_secs_f64();
        let latency =
            Percentiles::of(&mut measured.latencies).context("no deliveries were sent")?;
        print_batch(&warmup, &measured, per_second, &latency);
        let accepted = warmup.accepted() + measured.accepted();
        let all_stored = check_stored(scratch, accepted).await?;
        cpu.print();
        waits.print();

        Ok(RunSummary {
            pool_size,
            concurrency,
            per_second,
            latency,
            all_stored,
            non_2xx: args.warmup + args.deliveries - accepted,
        })
    }
}

fn print_batch(warmup: &Batch, measured: &Batch, per_second: f64, latency: &Percentiles) {
    println!(
        "  {per_second:.0} deliveries/s ({} in {:.2} s)",
        latency.count,
        measured.elapsed.as_secs_f64()
    );
    println!(
        "  latency ms: min {} p50 {} p95 {} p99 {} max {}",
        ms(latency.min),
        ms(latency.p50),
        ms(latency.p95),
        ms(latency.p99),
        ms(latency.max)
    );
    let mut statuses = warmup.statuses.clone();
    for (status, count) in &measured.statuses {
        *statuses.entry(*status).or_default() += count;
    }
    let histogram: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    println!(
        "  status codes (warm-up included; 0 = connection error): {}",
        histogram.join(", ")
    );
    if let Some(error) = measured
        .first_error
        .as_ref()
        .or(warmup.first_error.as_ref())
    {
        println!("  first connection error: {error}");
    }
}

/// Counts the stored deliveries and queued jobs, prints them and returns
/// whether each of the `accepted` deliveries has both.
async fn check_stored(scratch: &ScratchDatabase, accepted: usize) -> anyhow::Result<bool> {
    let accepted = accepted as i64;
    let deliveries = scratch.count("deliveries", "true").await?;
    let queued = scratch
        .count("deliveries", "outcome = 'job_queued'")
        .await?;
    let jobs = scratch.count("jobs", "state = 'queued'").await?;
    let all_stored = deliveries == accepted && queued == accepted && jobs == accepted;
    println!(
        "  stored: {deliveries} deliveries ({queued} with outcome job_queued) and {jobs} queued jobs for {accepted} accepted deliveries: {}",
        if all_stored { "all stored" } else { "MISMATCH" }
    );
    Ok(all_stored)
}

fn print_summary(summaries: &[RunSummary]) {
    println!("\n| pool | connections | deliveries/s | p50 ms | p95 ms | p99 ms | max ms | non-2xx | all stored |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for run in summaries {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            run.pool_size,
            run.concurrency,
            run.per_second,
            ms(run.latency.p50),
            ms(run.latency.p95),
            ms(run.latency.p99),
            ms(run.latency.max),
            run.non_2xx,
            if run.all_stored { "yes" } else { "no" }
        );
    }
    // One JSON line per run for `scripts/bench`, which collects them.
    for run in summaries {
        let millis = |duration: std::time::Duration| duration.as_secs_f64() * 1e3;
        println!(
            "bench-result {}",
            serde_json::json!({
                "measurement": format!("webhook, pool {}, {} connections", run.pool_size, run.concurrency),
                "unit": "deliveries/s",
                "median": run.per_second,
                "p50_ms": millis(run.latency.p50),
                "p95_ms": millis(run.latency.p95),
                "p99_ms": millis(run.latency.p99),
                "max_ms": millis(run.latency.max),
                "non_2xx": run.non_2xx,
                "all_stored": run.all_stored,
            })
        );
    }
}
