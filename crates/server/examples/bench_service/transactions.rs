//! Measurement 1b: the webhook's database transaction without HTTP, in
//! variants that place the job-queued `NOTIFY` differently.
//!
//! PostgreSQL serializes the commits of transactions that sent `NOTIFY`.
//! `PreCommit_Notify` (src/backend/commands/async.c) takes an
//! `AccessExclusiveLock` on object 0 of `pg_database`, one lock for the
//! whole cluster, and keeps it until the transaction ends, so across the
//! commit's WAL flush. This measurement shows what that costs and what the
//! alternatives would gain, with the same store functions called in the
//! order `webhook::apply::record_delivery` calls them for a `labeled`
//! delivery, whose repository id the handler keeps in memory. Keep the two
//! in step when the handler changes. The handler itself announces jobs
//! after the commit, with one `NOTIFY` for all the jobs of a burst.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use pitot_github_stub::TEST_INSTALLATION_ID;
use pitot_server::config::Config;
use pitot_store::actions_jobs::Backend;
use pitot_store::deliveries::{self, DeliveryOutcome, NewDelivery};
use pitot_store::jobs::{self, NewPullRequestJob, JOB_QUEUED_CHANNEL};
use pitot_store::pull_requests::{self, PullRequestHead};
use pitot_store::RepoName;
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use crate::cpu::CpuSnapshot;
use crate::database::{open_server_pool, PoolSettings, ScratchDatabase};
use crate::latency::{ms, Percentiles};
use crate::{load_average, Args};

/// The repository and clone URL of the labelled fixture, and the stand-in's installation.
const CLONE_URL: &str = "https://github.com/Codertocat/Hello-World.git";
const INSTALLATION_ID: i64 = TEST_INSTALLATION_ID as i64;

/// The place of the job-queued `NOTIFY` relative to the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// Inside the transaction, as the webhook handler did before it
    /// announced jobs after the commit.
    InTransaction,
    /// In its own statement right after the commit, once per transaction.
    AfterCommit,
    /// Not at all: the cost of the rest of the transaction.
    None,
    /// Inside the transaction, with `synchronous_commit = off` for it.
    InTransactionAsynchronousCommit,
    /// Not at all, and every write in one statement: one round trip
    /// instead of five. It skips the redelivery check, so it only
    /// estimates what fewer round trips would gain over [`Variant::None`].
    OneStatement,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::InTransaction,
        Variant::AfterCommit,
        Variant::None,
        Variant::InTransactionAsynchronousCommit,
        Variant::OneStatement,
    ];

    fn describe(self) -> &'static str {
        match self {
            Variant::InTransaction => "NOTIFY in the transaction",
            Variant::AfterCommit => "NOTIFY after the commit",
            Variant::None => "no NOTIFY",
            Variant::InTransactionAsynchronousCommit => {
                "NOTIFY in the transaction, synchronous_commit = off"
            }
            Variant::OneStatement => "no NOTIFY, all writes in one statement",
        }
    }
}

/// Runs the variants in turn, `args.transaction_rounds` times so that a
/// change in the machine's load affects all of them alike, and prints each
/// run and the median rate of each variant.
pub async fn run(args: &Args, scratch: &ScratchDatabase) -> anyhow::Result<()> {
    let (pool_size, concurrency) = (args.transaction_pool_size, args.transaction_concurrency);
    println!(
        "\nthe webhook's transaction without HTTP: {} transactions per run, pool {pool_size}, {concurrency} tasks, load average {}",
        args.transactions,
        load_average()
    );
    println!(
        "\n| variant | transactions/s | p50 ms | p99 ms | PostgreSQL CPU ms per transaction |"
    );
    println!("|---|---|---|---|---|");
    let mut rates = vec![Vec::new(); Variant::ALL.len()];
    let mut run = 0;
    for _ in 0..args.transaction_rounds {
        for (position, variant) in Variant::ALL.into_iter().enumerate() {
            run += 1;
            let rate = run_measured(args, scratch, variant, run).await?;
            rates[position].push(rate);
        }
    }

    println!("\n| variant | median transactions/s | relative to NOTIFY in the transaction |");
    println!("|---|---|---|");
    let medians: Vec<f64> = rates.iter_mut().map(|rates| median(rates)).collect();
    for (variant, rate) in Variant::ALL.into_iter().zip(&medians) {
        println!(
            "| {} | {rate:.0} | {:.2} |",
            variant.describe(),
            rate / medians[0]
        );
    }
    Ok(())
}

/// Runs `args.transactions` transactions of `variant` on an empty
/// database, prints a table row and returns the transactions per second.
async fn run_measured(
    args: &Args,
    scratch: &ScratchDatabase,
    variant: Variant,
    run: usize,
) -> anyhow::Result<f64> {
    let count = args.transactions;
    scratch.reset().await?;
    let settings = PoolSettings {
        max_connections: args.transaction_pool_size,
        ping_on_acquire: !args.no_ping_on_acquire,
    };
    let pool = open_server_pool(scratch.options.clone(), settings).await?;
    // Every variant expects the repository's row. The handler keeps its id
    // in memory, and the one-statement variant looks it up.
    let mut conn = pool.acquire().await?;
    let repository_id = pull_requests::ensure_repository(&mut conn, &repository()).await?;
    drop(conn);
    let listener = listen(&pool).await?;
    let cpu_before = CpuSnapshot::take(&scratch.name);
    let started = Instant::now();
    let measured = run_variant(
        &pool,
        repository_id,
        variant,
        run,
        count,
        args.transaction_concurrency,
    )
    .await;
    let elapsed = started.elapsed();
    let cpu = CpuSnapshot::take(&scratch.name).since(&cpu_before);
    listener.abort();
    pool.close().await;

    let mut latencies = measured?;
    let latency = Percentiles::of(&mut latencies).context("no transactions ran")?;
    let rate = count as f64 / elapsed.as_secs_f64();
    let postgres_cores = cpu.cores_by_group[3].1;
    let cpu_per_transaction = postgres_cores * elapsed.as_secs_f64() / count as f64;
    println!(
        "| {} | {rate:.0} | {} | {} | {:.3} |",
        variant.describe(),
        ms(latency.p50),
        ms(latency.p99),
        cpu_per_transaction * 1e3
    );
    Ok(rate)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Listens to the job-queued channel and drops what arrives, as the
/// server's listener does, so the notification queue is consumed.
async fn listen(pool: &PgPool) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut listener = PgListener::connect_with(pool)
        .await
        .context("failed to open the listener connection")?;
    listener
        .listen(JOB_QUEUED_CHANNEL)
        .await
        .context("failed to LISTEN")?;
    Ok(tokio::spawn(async move {
        while let Ok(Some(_)) = listener.try_recv().await {}
    }))
}

/// Runs `count` transactions of `variant` from `concurrency` tasks and
/// returns their latencies.
async fn run_variant(
    pool: &PgPool,
    repository_id: i32,
    variant: Variant,
    run: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Duration>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (pool, next) = (pool.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let started = Instant::now();
                record_delivery(&pool, repository_id, variant, run, index).await?;
                latencies.push(started.elapsed());
            }
        });
    }
    let mut latencies = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined.context("a transaction task panicked")??);
    }
    Ok(latencies)
}

/// Records delivery `index` of a `labeled` event for its own pull request
/// and queues its job.
async fn record_delivery(
    pool: &PgPool,
    repository_id: i32,
    variant: Variant,
    run: usize,
    index: usize,
) -> anyhow::Result<()> {
    let repository = repository();
    let delivery_id = format!("transaction-{run}-{index}");
    let number = 1_000_000_000 + index as i64;
    let head_sha = format!("{run:08x}{index:032x}");

    if variant == Variant::OneStatement {
        return record_in_one_statement(pool, &delivery_id, number, &head_sha).await;
    }

    let mut tx = pool.begin().await?;
    if variant == Variant::InTransactionAsynchronousCommit {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    let delivery = NewDelivery {
        delivery_id: &delivery_id,
        event: "pull_request",
        action: Some("labeled"),
        repository: Some(repository.as_str()),
        pr_number: Some(number),
    };
    let head = PullRequestHead {
        repository_id,
        number,
        head_sha: &head_sha,
        base_ref: "master",
    };
    pull_requests::record_label(&mut *tx, &head, true).await?;
    let head_fetch_ref = format!("refs/pull/{number}/head");
    let job = NewPullRequestJob {
        repository_id,
        pr_number: number,
        head_sha: &head_sha,
        base_ref: "master",
        clone_url: CLONE_URL,
        head_fetch_ref: Some(&head_fetch_ref),
        installation_id: Some(INSTALLATION_ID),
        max_attempts: max_attempts(),
        bench: None,
        backend: Backend::Agent,
        dispatch_ref: Some("master"),
    };
    let job_id = jobs::queue_head_superseding_others(&mut *tx, &job, "a newer head replaced it")
        .await?
        .context("the head already had a job")?;
    if matches!(
        variant,
        Variant::InTransaction | Variant::InTransactionAsynchronousCommit
    ) {
        jobs::notify_job_queued(&mut *tx, job_id).await?;
    }
    let inserted =
        deliveries::insert_delivery(&mut *tx, &delivery, DeliveryOutcome::JobQueued, Some(job_id))
            .await?;
    anyhow::ensure!(
        matches!(inserted, deliveries::Inserted::New(_)),
        "the delivery id was used before"
    );
    tx.commit().await?;
    if variant == Variant::AfterCommit {
        jobs::notify_job_queued(pool, job_id).await?;
    }
    Ok(())
}

/// Writes the rows that [`record_delivery`] writes in one statement,
/// without the `NOTIFY`.
async fn record_in_one_statement(
    pool: &PgPool,
    delivery_id: &str,
    number: i64,
    head_sha: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "WITH repository AS (
             SELECT id FROM repositories WHERE lower(name) = lower($1)
         ), pull_request AS (
             INSERT INTO pull_requests (repository_id, number, head_sha, base_ref, labelled)
             SELECT id, $2, $3, 'master', true FROM repository
             ON CONFLICT (repository_id, number) DO UPDATE
             SET head_sha = EXCLUDED.head_sha, base_ref = EXCLUDED.base_ref,
                 labelled = true, updated_at = now()
         ), job AS (
             INSERT INTO jobs (repository_id, pr_number, head_sha, base_ref, clone_url,
                               head_fetch_ref, installation_id, attempt_limit)
             SELECT id, $2, $3, 'master', $4, 'refs/pull/' || $2 || '/head', $5, $6
             FROM repository
             ON CONFLICT (repository_id, pr_number, head_sha) WHERE pr_number IS NOT NULL DO NOTHING
             RETURNING id
         )
         INSERT INTO deliveries (delivery_id, event, action, repository, pr_number, outcome, job_id)
         SELECT $7, 'pull_request', 'labeled', $1, $2, 'job_queued', job.id
         FROM job",
    )
    .bind(repository().as_str())
    .bind(number)
    .bind(head_sha)
    .bind(CLONE_URL)
    .bind(INSTALLATION_ID)
    .bind(max_attempts())
    .bind(delivery_id)
    .execute(pool)
    .await
    .context("the one-statement delivery failed")?;
    Ok(())
}

fn repository() -> RepoName {
    "Codertocat/Hello-World"
        .parse()
        .expect("the fixture's repository name is valid")
}

fn max_attempts() -> i32 {
    Config::default().jobs.max_attempts
}
