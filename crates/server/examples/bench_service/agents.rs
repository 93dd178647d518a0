//! Measurement 4: jobs per second as agents are added, on the scale-out
//! shape of `--agent-servers` servers sharing one database.
//!
//! For each agent count, the measurement starts the servers and queues
//! `--agent-jobs` jobs with a burst of labelled deliveries, each sent to
//! every server as a load balancer's retry would. It then starts that
//! many agents at once, spread over the servers. Each agent claims a job,
//! waits `--agent-run-ms` in place of asv, and reports two real asv
//! results files, until the queue is empty. The clock runs from the
//! agents' start until the GitHub stand-in has stored a comment on every
//! pull request. The round fails unless every job ran exactly once and every
//! pull request got exactly one comment. With the servers keeping up,
//! jobs per second grow with the agents as `agents / run time`; where they
//! stop growing, the servers (ingest, comparison, comment) are the limit.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use pitot_github_stub::GitHubStub;
use pitot_server::agent_tokens::create_agent_token;
use tokio::runtime::Handle;

use crate::database::{PoolSettings, ScratchDatabase};
use crate::harness::{service_config, start_service, stop_service};
use crate::throughput::{send, DeliveryTemplate};
use crate::to_comment::{AgentClient, AsvFiles, REPOSITORY};
use crate::{load_average, Args};

/// Distinguishes this measurement's head commits from the other runs'.
const RUN_TAG: usize = 0xa9;
/// Pool size of the server in this measurement.
const POOL_SIZE: u32 = 16;
/// How long one agent count may take before the measurement fails.
const COUNT_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs the measurement for each of `args.agent_counts` and prints the
/// jobs per second next to what the agents alone would allow.
pub async fn run(args: &Args, scratch: &ScratchDatabase, server: &Handle) -> anyhow::Result<()> {
    println!(
        "\njobs per second by number of agents, {} servers, {} jobs of {} ms each, load average {}",
        args.agent_servers,
        args.agent_jobs,
        args.agent_run_ms,
        load_average()
    );
    if args.agent_servers == 0 {
        bail!("--agent-servers 0: give 1 or more servers");
    }
    let Some(files) = AsvFiles::load(args)? else {
        return Ok(());
    };
    let files = Arc::new(files);
    let template = DeliveryTemplate::load()?;
    let run_time = Duration::from_millis(args.agent_run_ms);
    println!("\n| agents | jobs | seconds | jobs/s | agents' limit, jobs/s | share of the limit |");
    println!("|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for (round, &agents) in args.agent_counts.iter().enumerate() {
        if agents == 0 {
            bail!("--agent-counts contains 0; give 1 or more agents per round");
        }
        scratch.reset().await?;
        let stub = Arc::new(GitHubStub::start().await);
        let pool = PoolSettings {
            max_connections: POOL_SIZE,
            ping_on_acquire: !args.no_ping_on_acquire,
        };
        let mut services = Vec::with_capacity(args.agent_servers);
        for _ in 0..args.agent_servers {
            let config = service_config(Some(&stub));
            services.push(start_service(server, scratch, pool, config).await?);
        }
        let client = reqwest::Client::new();

        let mut numbers = Vec::with_capacity(args.agent_jobs);
        for index in 0..args.agent_jobs {
            let delivery = template.delivery(RUN_TAG + round, index);
            numbers.push(u64::try_from(delivery.number).context("pull request number")?);
            for service in &services {
                let webhook_url = format!("{}/webhooks/github", service.url());
                let status = send(&client, &webhook_url, delivery.clone()).await?;
                if status != 202 {
                    bail!("the webhook returned {status}, expected 202");
                }
            }
        }

        let mut clients = Vec::with_capacity(agents);
        for agent in 0..agents {
            let name = format!("bench-agent-{agent}");
            let token = create_agent_token(&scratch.pool, &name)
                .await
                .context("failed to create an agent token")?;
            let service = &services[agent % services.len()];
            clients.push(AgentClient::new(service.url(), token, name, files.machine.clone()));
        }
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(agents);
        for agent in clients {
            let (next, files, total) = (next.clone(), files.clone(), args.agent_jobs);
            tasks.push(tokio::spawn(async move {
                // Each reservation stands for one queued job, so no claim
                // waits in the long poll for a job that never comes.
                while next.fetch_add(1, Ordering::SeqCst) < total {
                    let job = agent.claim().await?;
                    tokio::time::sleep(run_time).await;
                    let base_sha = format!("{:08x}{:032x}", 0xba5e_u32, job.job_id);
                    agent.report(&job, files.report(&base_sha, &job.head_sha)).await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await.context("an agent task panicked")??;
        }
        wait_for_comments(&stub, &numbers, started).await?;
        let seconds = started.elapsed().as_secs_f64();
        check_once(scratch, &stub, &numbers).await?;
        for service in services {
            stop_service(server, service).await?;
        }

        let per_second = args.agent_jobs as f64 / seconds;
        let limit = agents as f64 / run_time.as_secs_f64();
        println!(
            "| {agents} | {} | {seconds:.2} | {per_second:.2} | {limit:.2} | {:.0}% |",
            args.agent_jobs,
            per_second / limit * 100.0
        );
        results.push((agents, per_second, limit, seconds));
    }
    // One JSON line per agent count for `scripts/bench`, which collects them.
    for (agents, per_second, limit, seconds) in results {
        println!(
            "bench-result {}",
            serde_json::json!({
                "measurement": format!("jobs/s with {agents} agents, {} ms a job", args.agent_run_ms),
                "unit": "jobs/s",
                "median": per_second,
                "agents_limit": limit,
                "seconds": seconds,
                "runs": 1,
            })
        );
    }
    Ok(())
}

/// Fails unless there is one job per pull request, each claimed once and
/// reported, and exactly one comment on each pull request.
async fn check_once(
    scratch: &ScratchDatabase,
    stub: &GitHubStub,
    numbers: &[u64],
) -> anyhow::Result<()> {
    let expected = i64::try_from(numbers.len()).context("job count")?;
    // The reporter commits the job's state after the stand-in stored the
    // comment, so the last jobs may still be finishing.
    let started = Instant::now();
    let (jobs, claimed_once, reported) = loop {
        let counts: (i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE attempt = 1), \
                    count(*) FILTER (WHERE state = 'reported') FROM jobs",
        )
        .fetch_one(&scratch.pool)
        .await
        .context("failed to count the jobs")?;
        if counts.2 == expected || started.elapsed() > Duration::from_secs(30) {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if (jobs, claimed_once, reported) != (expected, expected, expected) {
        let states: Vec<(String, i64)> =
            sqlx::query_as("SELECT state || coalesce(': ' || left(error, 300), ''), count(*) FROM jobs GROUP BY 1 ORDER BY 1")
                .fetch_all(&scratch.pool)
                .await
                .context("failed to count the jobs by state")?;
        println!("  jobs by state: {states:?}");
        bail!(
            "expected {expected} jobs, each claimed once and reported; found {jobs} jobs, \
             {claimed_once} claimed once, {reported} reported"
        );
    }
    for &number in numbers {
        let comments = stub.comments(REPOSITORY, number).len();
        if comments != 1 {
            bail!("pull request {number} has {comments} comments, expected exactly 1");
        }
    }
    Ok(())
}

/// Polls the stand-in until every pull request in `numbers` has a comment.
async fn wait_for_comments(
    stub: &GitHubStub,
    numbers: &[u64],
    started: Instant,
) -> anyhow::Result<()> {
    let mut waiting: HashSet<u64> = numbers.iter().copied().collect();
    while !waiting.is_empty() {
        waiting.retain(|&number| stub.comments(REPOSITORY, number).is_empty());
        if started.elapsed() > COUNT_TIMEOUT {
            bail!(
                "{} pull requests had no comment within {COUNT_TIMEOUT:?}",
                waiting.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
