//! `pitot demo`: the whole loop on this machine, with nothing configured.
//!
//! It starts the service (embedded PostgreSQL unless `DATABASE_URL` is set,
//! and the in-process agent), creates the demo repository, whose pull
//! request makes one benchmark slower, and sends its own server the signed
//! `pull_request` `labeled` webhook GitHub would send. The agent runs
//! `asv continuous`, the reporter compares and renders the comment, and the
//! demo prints it with the job's page. No GitHub credentials are set, so
//! nothing is posted anywhere.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use pitot_runner::demo::{create_demo_repo, DemoRepo};
use pitot_server::config::Config;
use pitot_server::service::{Service, ServiceDirs};
use pitot_store::jobs::JobState;
use pitot_store::reporting;
use secrecy::SecretString;
use serde_json::json;
use tokio::net::TcpListener;

use crate::database::{Database, DatabaseArgs};
use crate::serve_cmd::{pitot_home, shutdown_signal};

/// The repository name the demo's webhook carries.
const DEMO_REPOSITORY: &str = "pitot-demo/demo-project";
/// The demo pull request's number.
const DEMO_PR: i64 = 1;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Stop after printing the comment instead of serving until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
    /// The address the demo server listens on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Give up when no report arrives within this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs `pitot demo`; exits 0 when the comment was rendered.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let home = pitot_home(&args.database)?;
        eprintln!(
            "pitot demo: starting the database and the server (pitot home: {})",
            home.display()
        );
        let database = Database::open(&args.database).await?;
        let result = run_demo(&args, &database, home).await;
        database.close().await;
        result
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn run_demo(
    args: &DemoArgs,
    database: &Database,
    home: std::path::PathBuf,
) -> anyhow::Result<()> {
    let secret = random_secret()?;
    let listener = TcpListener::bind(args.listen).await.with_context(|| {
        format!(
            "cannot listen on {}: pass --listen with a free address",
            args.listen
        )
    })?;
    let address = listener
        .local_addr()
        .context("failed to read the listening address")?;
    let mut config = Config::default();
    config.server.listen = address;
    config.server.public_url = format!("http://{address}");
    config.github.webhook_secret = Some(SecretString::from(secret.clone()));
    config.jobs.run_timeout = Duration::from_secs(args.timeout);
    let service = Service::start(
        database.pool().clone(),
        config,
        listener,
        &ServiceDirs { home: home.clone() },
    )
    .await?;

    let outcome = async {
        let repos = home.join("demo");
        std::fs::create_dir_all(&repos).with_context(|| format!("cannot create {}", repos.display()))?;
        let folder = tempfile::Builder::new()
            .prefix("repo-")
            .tempdir_in(&repos)
            .with_context(|| format!("cannot create a folder in {}", repos.display()))?;
        let demo = tokio::task::spawn_blocking({
            let path = folder.path().join("demo-project");
            move || create_demo_repo(&path)
        })
        .await
        .context("creating the demo repository panicked")??;
        eprintln!(
            "pitot demo: pull request {DEMO_REPOSITORY}#{DEMO_PR}, head {} against merge-base {}",
            &demo.head_sha[..10],
            &demo.merge_base_sha[..10]
        );
        send_webhook(&service.url(), &secret, &demo).await?;
        eprintln!("pitot demo: webhook accepted; the agent runs asv continuous (the first run also installs asv and builds environments)");
        let body = wait_for_comment(database, &demo, Duration::from_secs(args.timeout)).await?;
        let job_id = reporting::pull_request_job_id(database.pool(), DEMO_REPOSITORY, DEMO_PR, &demo.head_sha)
            .await?
            .context("the demo job disappeared")?;
        println!("{body}");
        eprintln!("pitot demo: the comment above is what pitot would post on the pull request.");
        eprintln!("pitot demo: job page: {}/jobs/{job_id}", service.url());
        eprintln!("pitot demo: dashboard: {}/#/runs/{job_id}", service.url());
        drop(folder);
        anyhow::Ok(())
    }
    .await;

    if outcome.is_ok() && !args.exit {
        eprintln!(
            "pitot demo: the server keeps running at {}; press Ctrl-C to stop",
            service.url()
        );
        shutdown_signal().await;
    }
    service.stop().await?;
    outcome
}

/// Sends the `pull_request` `labeled` delivery GitHub would send when a
/// maintainer adds the label, signed with the server's secret.
async fn send_webhook(server: &str, secret: &str, demo: &DemoRepo) -> anyhow::Result<()> {
    let clone_url = demo.path.display().to_string();
    let repository = json!({
        "id": 1,
        "name": "demo-project",
        "full_name": DEMO_REPOSITORY,
        "clone_url": clone_url,
        "default_branch": demo.base_branch,
    });
    let payload = json!({
        "action": "labeled",
        "number": DEMO_PR,
        "label": { "name": "run-benchmarks" },
        "pull_request": {
            "number": DEMO_PR,
            "state": "open",
            "labels": [{ "name": "run-benchmarks" }],
            "head": { "ref": demo.head_branch, "sha": demo.head_sha, "repo": repository },
            "base": { "ref": demo.base_branch, "sha": demo.base_tip_sha, "repo": repository },
        },
        "repository": repository,
    });
    let body = serde_json::to_vec(&payload).context("failed to encode the demo webhook")?;
    let signature = pitot_github::sign(secret.as_bytes(), &body);
    let delivery = format!("pitot-demo-{}", std::process::id());
    let response = reqwest::Client::new()
        .post(format!("{server}/webhooks/github"))
        .header("content-type", "application/json")
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .context("failed to send the demo webhook to the server")?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        bail!("the server rejected the demo webhook with {status}: {text}; run with PITOT_LOG=debug to see why");
    }
    Ok(())
}

/// Waits until the reporter has rendered the job's comment and returns it.
async fn wait_for_comment(
    database: &Database,
    demo: &DemoRepo,
    limit: Duration,
) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let job_id = reporting::pull_request_job_id(
            database.pool(),
            DEMO_REPOSITORY,
            DEMO_PR,
            &demo.head_sha,
        )
        .await?;
        if let Some(job_id) = job_id {
            if let Some(outcome) = reporting::job_outcome(database.pool(), job_id).await? {
                if outcome.reported && outcome.state != JobState::Cancelled {
                    return outcome.comment_body.with_context(|| {
                        format!(
                            "job {job_id} ended as {} without a comment: {}",
                            outcome.state,
                            outcome.error.unwrap_or_default()
                        )
                    });
                }
            }
        }
        if started.elapsed() > limit {
            bail!(
                "no report within {} seconds; pass a larger --timeout, or set PITOT_LOG=info to see what the agent does",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Generates a webhook secret for this run only.
fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut bytes))
        .context("failed to read random bytes for the demo's webhook secret")?;
    let secret: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok(secret)
}
