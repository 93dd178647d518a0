//! Measures the service loop of a real pitot server over loopback HTTP:
//!
//! 1. `throughput`: signed `pull_request`/`labeled` deliveries sent to
//!    `POST /webhooks/github` by concurrent clients, each delivery for its
//!    own pull request so that each one queues a job. Prints deliveries/s,
//!    latency percentiles, the status codes, where the CPU time went, what
//!    the database connections waited on, and checks that every accepted
//!    delivery and its job are stored.
//! 2. `transactions`: the webhook's database transaction without HTTP, in
//!    variants that move the job-queued `NOTIFY` or write everything in
//!    one statement, to estimate what each change would gain.
//! 3. `comment`: one delivery, then a claim and an immediate report with
//!    two real asv results files through the agent API, timed until the
//!    comment appears in a local stand-in for api.github.com, in three
//!    scenarios of claim order and stand-in speed.
//! 4. `agents`: two servers on one database receive the same burst of
//!    deliveries; 1, 2, 4 and 8 agents spread over them drain the queue,
//!    each taking a fixed time per job in place of asv and reporting real
//!    results. Checks that every job ran once with one comment per pull
//!    request, and prints jobs per second next to what the agents alone
//!    would allow.
//!
//! Usage (`scripts/bench-service` builds it in release mode and passes the
//! defaults recorded in docs/benchmarks.md):
//!
//!     cargo run --release -p pitot-server --example bench_service -- --help
//!
//! The example creates a scratch database through `--database-url` (a role
//! that may create databases) and drops it at the end, also after an error.
//! The server runs on its own runtime with `--server-threads` workers and
//! the load generator on another, so that the CPU breakdown can separate
//! them. Both share the machine with PostgreSQL.

mod agents;
mod cpu;
mod database;
mod harness;
mod latency;
mod throughput;
mod to_comment;
mod transactions;
mod waits;

use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};

use crate::database::ScratchDatabase;

/// The webhook secret of the server under test and of the load generator.
const WEBHOOK_SECRET: &str = "bench-service-secret";

#[derive(Parser, Debug)]
#[command(about = "Measures pitot's webhook throughput and its time from webhook to comment")]
pub struct Args {
    /// A PostgreSQL URL of a role that may create databases. The scratch
    /// database is created on the same server.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,

    /// The measurements to run.
    #[arg(long, value_enum, default_value_t = Phase::All)]
    phase: Phase,

    /// Deliveries sent in each throughput run, after the warm-up.
    #[arg(long, default_value_t = 30_000)]
    deliveries: usize,

    /// Deliveries sent before each throughput run to open connections and
    /// fill caches. They are stored and checked but not timed.
    #[arg(long, default_value_t = 2_000)]
    warmup: usize,

    /// Concurrent client connections, comma-separated. Each combination
    /// with `--pool-sizes` is one throughput run.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    concurrency: Vec<usize>,

    /// `max_connections` of the server's database pool, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pool_sizes: Vec<u32>,

    /// Turns off sqlx's ping of a pooled connection on every acquire
    /// (`test_before_acquire`), which `pitot serve` leaves on, in all
    /// measurements.
    #[arg(long)]
    no_ping_on_acquire: bool,

    /// Worker threads of the server's runtime.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,

    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    load_threads: usize,

    /// Configures GitHub App credentials and the stand-in for the
    /// throughput runs too, so the reporter creates a check run for every
    /// queued job while the deliveries arrive.
    #[arg(long)]
    throughput_with_github: bool,

    /// Transactions in each run of the measurement of the webhook's
    /// transaction without HTTP.
    #[arg(long, default_value_t = 10_000)]
    transactions: usize,

    /// Runs of each variant of the webhook's transaction, taken in turn.
    #[arg(long, default_value_t = 3)]
    transaction_rounds: usize,

    /// Pool size of the measurement of the webhook's transaction.
    #[arg(long, default_value_t = 16)]
    transaction_pool_size: u32,

    /// Concurrent tasks of the measurement of the webhook's transaction.
    #[arg(long, default_value_t = 64)]
    transaction_concurrency: usize,

    /// Deliveries the comment measurement times one after the other, in
    /// each of its three scenarios.
    #[arg(long, default_value_t = 20)]
    comment_runs: usize,

    /// Numbers of agents, comma-separated, of the agents measurement; each
    /// is one round with a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    agent_counts: Vec<usize>,

    /// Jobs queued in each round of the agents measurement.
    #[arg(long, default_value_t = 200)]
    agent_jobs: usize,

    /// Servers sharing the database in the agents measurement; each
    /// delivery goes to all of them and the agents are spread over them.
    #[arg(long, default_value_t = 2)]
    agent_servers: usize,

    /// How long each agent takes per job in place of asv, in milliseconds.
    #[arg(long, default_value_t = 500)]
    agent_run_ms: u64,

    /// An asv results folder: it contains `benchmarks.json` and one folder
    /// per machine.
    #[arg(long, default_value_t = default_results_dir())]
    results_dir: String,

    /// The machine folder inside `--results-dir` whose files are reported.
    #[arg(long, default_value = "ubuntu-latest")]
    machine: String,

    /// The results file reported as the merge-base, inside the machine folder.
    #[arg(long, default_value = "c41d6c9b-conda-py3.10.json")]
    base_file: String,

    /// The results file reported as the head, inside the machine folder.
    #[arg(long, default_value = "a7af1e27-conda-py3.10.json")]
    head_file: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Phase {
    Throughput,
    Transactions,
    Comment,
    Agents,
    All,
}

/// Returns the django-asv results folder of the shared data next to the
/// repository.
fn default_results_dir() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/asv-results/django-asv/results"
    )
    .to_owned()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("PITOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.server_threads)
        .thread_name(cpu::SERVER_THREAD)
        .enable_all()
        .build()
        .context("failed to start the server's runtime")?;
    let load_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.load_threads)
        .thread_name(cpu::LOAD_THREAD)
        .enable_all()
        .build()
        .context("failed to start the load generator's runtime")?;

    load_runtime.block_on(async {
        let scratch = ScratchDatabase::create(&args.database_url).await?;
        let result = run(&args, &scratch, server_runtime.handle()).await;
        scratch.drop_database().await;
        result
    })?;
    server_runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}

async fn run(
    args: &Args,
    scratch: &ScratchDatabase,
    server: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    print_machine();
    let ping = if args.no_ping_on_acquire {
        "off"
    } else {
        "on (sqlx's default)"
    };
    println!("ping on acquire (test_before_acquire) of the server's pool: {ping}");
    let all = args.phase == Phase::All;
    if all || args.phase == Phase::Throughput {
        throughput::run_all(args, scratch, server).await?;
    }
    if all || args.phase == Phase::Transactions {
        transactions::run(args, scratch).await?;
    }
    if all || args.phase == Phase::Comment {
        to_comment::run(args, scratch, server).await?;
    }
    if all || args.phase == Phase::Agents {
        agents::run(args, scratch, server).await?;
    }
    Ok(())
}

/// Prints what the numbers depend on: cores and load.
fn print_machine() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cores} cores, load average {}", load_average());
}

/// Returns the 1, 5 and 15 minute load averages from `/proc/loadavg`.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    fields.join(" ")
}
