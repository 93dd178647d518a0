//! Measurement 2: pitot's own time from a labelled delivery to the posted
//! comment, with an agent that reports real asv results at once.
//!
//! Each run sends one delivery for a new pull request, claims the job
//! through the agent API, reports two real asv results files rewritten to
//! the job's head and a new merge-base, and waits until the GitHub
//! stand-in has stored the comment. A watcher polls the stand-in every
//! millisecond and also records when the in-progress check run appears:
//! the webhook handler never wakes the reporter itself, so that check run
//! shows that the job-queued `NOTIFY` reached the reporter.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use pitot_github_stub::{Failure, GitHubStub, RequestMatch};
use pitot_runner::api::{
    report_path, ClaimRequest, ClaimedJob, JobOutcome, ReportRequest, ResultFile, CLAIM_PATH,
};
use pitot_server::agent_tokens::create_agent_token;
use pitot_store::jobs::JobState;
use pitot_store::reporting::job_outcome;
use secrecy::{ExposeSecret, SecretString};
use tokio::runtime::Handle;

use crate::database::{PoolSettings, ScratchDatabase};
use crate::harness::{service_config, start_service, stop_service};
use crate::latency::{ms, Percentiles};
use crate::throughput::{send, DeliveryTemplate};
use crate::{load_average, Args};

/// The repository of the labelled fixture.
pub const REPOSITORY: &str = "Codertocat/Hello-World";
const AGENT: &str = "bench-agent";
/// Distinguishes this measurement's head commits from the throughput runs'.
const RUN_TAG: usize = 0xc0;
/// Pool size of the server in this measurement. One delivery at a time
/// needs few connections.
const POOL_SIZE: u32 = 16;
/// How long a waiting claim is sent before the delivery.
const CLAIM_HEAD_START: Duration = Duration::from_millis(50);
/// A claim slower than this did not get the job when it was queued.
const SLOW_CLAIM: Duration = Duration::from_secs(1);
/// How long one run may take before the measurement fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The asv files an agent would upload, with the commit ids to rewrite.
pub struct AsvFiles {
    pub machine: String,
    machine_json: String,
    benchmarks_json: String,
    base: ResultsText,
    head: ResultsText,
}

/// One results file and the commit id written in it.
struct ResultsText {
    content: String,
    commit_hash: String,
    /// The environment part of the file name, such as `conda-py3.10`.
    env_suffix: String,
}

/// When each step of one run finished, measured from sending the delivery.
#[derive(Default, Clone, Copy)]
struct Steps {
    accepted: Duration,
    claimed: Duration,
    reported: Duration,
    check_run_opened: Option<Duration>,
    comment: Duration,
}

/// When the agent sends its claim, and how fast the stand-in creates
/// check runs.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Scenario {
    /// Whether the claim waits in the long poll before the delivery, as an
    /// idle `pitot agent` does, instead of being sent after the delivery
    /// is accepted.
    claim_waits: bool,
    /// How long the stand-in waits before it responds to the creation of
    /// a check run, after storing it.
    check_run_delay: Duration,
}

impl Scenario {
    const ALL: [Scenario; 3] = [
        Scenario {
            claim_waits: false,
            check_run_delay: Duration::ZERO,
        },
        Scenario {
            claim_waits: true,
            check_run_delay: Duration::ZERO,
        },
        Scenario {
            claim_waits: false,
            check_run_delay: Duration::from_millis(300),
        },
    ];

    fn describe(self) -> String {
        let claim = if self.claim_waits {
            "each claim waiting in the long poll before its delivery"
        } else {
            "each claim sent after its delivery is accepted"
        };
        let delay = self.check_run_delay.as_millis();
        format!("{claim}, the stand-in responds to check-run creation after {delay} ms")
    }
}

/// Runs the measurement `args.comment_runs` times for each scenario and
/// prints the times.
pub async fn run(args: &Args, scratch: &ScratchDatabase, server: &Handle) -> anyhow::Result<()> {
    println!(
        "\ntime from webhook to comment, load average {}",
        load_average()
    );
    let Some(files) = AsvFiles::load(args)? else {
        return Ok(());
    };
    scratch.reset().await?;
    let stub = Arc::new(GitHubStub::start().await);
    let pool = PoolSettings {
        max_connections: POOL_SIZE,
        ping_on_acquire: !args.no_ping_on_acquire,
    };
    let service = start_service(server, scratch, pool, service_config(Some(&stub))).await?;
    let token = create_agent_token(&scratch.pool, AGENT)
        .await
        .context("failed to create the agent token")?;
    let session = Session {
        agent: AgentClient::new(service.url(), token, AGENT.to_owned(), files.machine.clone()),
        server_url: service.url(),
        client: reqwest::Client::new(),
        template: DeliveryTemplate::load()?,
        files,
        stub,
        scratch,
    };

    let mut first_index = 0;
    for scenario in Scenario::ALL {
        println!("\n{} runs, {}:", args.comment_runs, scenario.describe());
        if !scenario.check_run_delay.is_zero() {
            let delay = Failure::DelayAfterHandling(scenario.check_run_delay);
            let check_runs = RequestMatch::post("/repos/*/*/check-runs");
            session.stub.fail_next(check_runs, delay, args.comment_runs);
        }
        let mut runs = Vec::new();
        for index in first_index..first_index + args.comment_runs {
            let steps = session
                .run_once(index, scenario)
                .await
                .with_context(|| format!("run {} of the comment measurement failed", index + 1))?;
            print_steps(index + 1 - first_index, &steps);
            runs.push(steps);
        }
        first_index += args.comment_runs;
        print_summary(&runs, &scenario.describe());
    }
    stop_service(server, service).await?;
    Ok(())
}

fn print_steps(run: usize, steps: &Steps) {
    println!(
        "  run {run:>2}: 202 after {} ms, check run opened {} ms, claimed {} ms, report stored {} ms, comment {} ms",
        ms(steps.accepted),
        steps.check_run_opened.map_or("-".to_owned(), ms),
        ms(steps.claimed),
        ms(steps.reported),
        ms(steps.comment)
    );
}

/// A server, its GitHub stand-in and an agent identity, for timed runs.
struct Session<'a> {
    agent: AgentClient,
    server_url: String,
    client: reqwest::Client,
    template: DeliveryTemplate,
    files: AsvFiles,
    stub: Arc<GitHubStub>,
    scratch: &'a ScratchDatabase,
}

impl Session<'_> {
    /// Sends delivery `index`, claims its job, reports it and waits for the
    /// comment. Returns when each step finished.
    async fn run_once(&self, index: usize, scenario: Scenario) -> anyhow::Result<Steps> {
        let delivery = self.template.delivery(RUN_TAG, index);
        let number = u64::try_from(delivery.number).context("pull request number")?;
        let head_sha = delivery.head_sha.clone();
        let base_sha = format!("{:08x}{:032x}", 0xba5e_u32, index);
        let report = self.files.report(&base_sha, &head_sha);
        let webhook_url = format!("{}/webhooks/github", self.server_url);

        // A waiting claim gets a moment to reach the server before the clock starts.
        let waiting_claim = scenario.claim_waits.then(|| tokio::spawn(self.agent.claim()));
        if waiting_claim.is_some() {
            tokio::time::sleep(CLAIM_HEAD_START).await;
        }
        let started = Instant::now();
        let watcher = tokio::spawn(watch_stub(
            self.stub.clone(),
            number,
            head_sha.clone(),
            started,
        ));
        let status = send(&self.client, &webhook_url, delivery).await?;
        if status != 202 {
            bail!("the webhook returned {status}, expected 202");
        }
        let accepted = started.elapsed();
        let job = match waiting_claim {
            Some(claim) => claim.await.context("the claim task panicked")??,
            None => self.agent.claim().await?,
        };
        if job.head_sha != head_sha {
            bail!(
                "claimed job {} has head {}, expected {head_sha}",
                job.job_id,
                job.head_sha
            );
        }
        let claimed = started.elapsed();
        self.agent.report(&job, report).await?;
        let reported = started.elapsed();

        let (check_run_opened, comment) =
            watcher.await.context("the stand-in watcher panicked")??;
        check_reported(self.scratch, job.job_id).await?;
        Ok(Steps {
            accepted,
            claimed,
            reported,
            check_run_opened,
            comment,
        })
    }
}

/// The agent API as one agent calls it.
pub struct AgentClient {
    server_url: String,
    client: reqwest::Client,
    token: SecretString,
    name: String,
    machine: String,
}

impl AgentClient {
    pub fn new(server_url: String, token: SecretString, name: String, machine: String) -> Self {
        AgentClient {
            server_url,
            client: reqwest::Client::new(),
            token,
            name,
            machine,
        }
    }

    /// Returns a future that claims the next job, independent of `self` so
    /// that it can run in its own task.
    pub fn claim(&self) -> impl std::future::Future<Output = anyhow::Result<ClaimedJob>> + 'static {
        let request = self
            .client
            .post(format!("{}{CLAIM_PATH}", self.server_url))
            .bearer_auth(self.token.expose_secret())
            .json(&ClaimRequest {
                agent: self.name.clone(),
                machine: self.machine.clone(),
            });
        async move {
            let response = request.send().await?.error_for_status()?;
            if response.status() != 200 {
                bail!("the claim returned {} instead of a job", response.status());
            }
            Ok(response.json().await?)
        }
    }

    /// Sends `report` as the end of the claimed attempt of `job`.
    pub async fn report(&self, job: &ClaimedJob, report: ReportRequest) -> anyhow::Result<()> {
        let report = ReportRequest {
            attempt: job.attempt,
            ..report
        };
        self.client
            .post(format!("{}{}", self.server_url, report_path(job.job_id)))
            .bearer_auth(self.token.expose_secret())
            .json(&report)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// Polls the stand-in every millisecond until the pull request has its
/// comment. Returns when the head's check run and the comment appeared.
async fn watch_stub(
    stub: Arc<GitHubStub>,
    number: u64,
    head_sha: String,
    started: Instant,
) -> anyhow::Result<(Option<Duration>, Duration)> {
    let mut check_run_opened = None;
    loop {
        if check_run_opened.is_none()
            && stub
                .check_runs(REPOSITORY)
                .iter()
                .any(|run| run.head_sha == head_sha)
        {
            check_run_opened = Some(started.elapsed());
        }
        if !stub.comments(REPOSITORY, number).is_empty() {
            return Ok((check_run_opened, started.elapsed()));
        }
        if started.elapsed() > RUN_TIMEOUT {
            bail!("no comment on pull request {number} within {RUN_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until the job is recorded as reported, and fails when the
/// reporter posted a failure instead of a comparison.
async fn check_reported(scratch: &ScratchDatabase, job_id: i64) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let outcome = job_outcome(&scratch.pool, job_id)
            .await?
            .context("the reported job is gone")?;
        if outcome.reported {
            if outcome.state != JobState::Reported {
                bail!(
                    "job {job_id} ended {} instead of reported: {}",
                    outcome.state,
                    outcome.error.unwrap_or_default()
                );
            }
            return Ok(());
        }
        if started.elapsed() > RUN_TIMEOUT {
            bail!("job {job_id} was not recorded as reported within {RUN_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

impl AsvFiles {
    /// Reads the machine's files and `benchmarks.json` from the results
    /// folder. Returns `None` after printing why when the folder is missing.
    pub fn load(args: &Args) -> anyhow::Result<Option<AsvFiles>> {
        let folder = PathBuf::from(&args.results_dir);
        if !folder.join(&args.machine).is_dir() {
            println!(
                "  skipped: {} does not exist; pass --results-dir with an asv results folder",
                folder.join(&args.machine).display()
            );
            return Ok(None);
        }
        let machine_folder = folder.join(&args.machine);
        Ok(Some(AsvFiles {
            machine: args.machine.clone(),
            machine_json: read(&machine_folder.join("machine.json"))?,
            benchmarks_json: read(&folder.join("benchmarks.json"))?,
            base: ResultsText::load(&machine_folder.join(&args.base_file))?,
            head: ResultsText::load(&machine_folder.join(&args.head_file))?,
        }))
    }

    /// Builds the report of a completed run of `head_sha` against
    /// `base_sha`. The caller sets the attempt.
    pub fn report(&self, base_sha: &str, head_sha: &str) -> ReportRequest {
        let machine = &self.machine;
        let results = vec![
            ResultFile {
                path: format!("{machine}/machine.json"),
                content: self.machine_json.clone(),
            },
            self.base.rewritten(machine, base_sha),
            self.head.rewritten(machine, head_sha),
        ];
        ReportRequest {
            attempt: 0,
            base_sha: Some(base_sha.to_owned()),
            head_sha: head_sha.to_owned(),
            machine: machine.clone(),
            benchmarks_json: Some(self.benchmarks_json.clone()),
            results,
            log: String::new(),
            outcome: JobOutcome::Completed,
            error: None,
        }
    }
}

impl ResultsText {
    fn load(path: &Path) -> anyhow::Result<ResultsText> {
        let content = read(path)?;
        let commit_hash = commit_hash_of(&content)
            .with_context(|| format!("{} has no \"commit_hash\" string", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default();
        let env_suffix = name
            .split_once('-')
            .map_or("env", |(_, env)| env)
            .to_owned();
        Ok(ResultsText {
            content,
            commit_hash,
            env_suffix,
        })
    }

    /// Returns the file as asv would have written it for commit `sha`.
    ///
    /// The text is edited instead of parsed and re-encoded, because asv
    /// writes `NaN` and `Infinity` tokens that JSON parsers reject.
    fn rewritten(&self, machine: &str, sha: &str) -> ResultFile {
        ResultFile {
            path: format!("{machine}/{}-{}.json", &sha[..8], self.env_suffix),
            content: self.content.replace(&self.commit_hash, sha),
        }
    }
}

/// Returns the value of the `"commit_hash"` key of an asv results file.
fn commit_hash_of(text: &str) -> Option<String> {
    let after_key = &text[text.find("\"commit_hash\"")? + "\"commit_hash\"".len()..];
    let after_colon = after_key.trim_start().strip_prefix(':')?.trim_start();
    let value = after_colon.strip_prefix('"')?;
    let hash = &value[..value.find('"')?];
    let is_hex = hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    is_hex.then(|| hash.to_owned())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))
}

fn print_summary(runs: &[Steps], scenario: &str) {
    let column = |step: fn(&Steps) -> Option<Duration>| {
        let mut values: Vec<Duration> = runs.iter().filter_map(step).collect();
        Percentiles::of(&mut values)
    };
    let rows: [(&str, Option<Percentiles>); 6] = [
        ("webhook answered (202)", column(|s| Some(s.accepted))),
        (
            "in-progress check run posted",
            column(|s| s.check_run_opened),
        ),
        ("job claimed", column(|s| Some(s.claimed))),
        ("report stored (200)", column(|s| Some(s.reported))),
        ("comment posted", column(|s| Some(s.comment))),
        (
            "comment posted minus report stored",
            column(|s| Some(s.comment.saturating_sub(s.reported))),
        ),
    ];
    let slow_claims = runs
        .iter()
        .filter(|steps| steps.claimed > SLOW_CLAIM)
        .count();
    println!(
        "\n{slow_claims} of {} claims took longer than {} ms after the delivery was sent",
        runs.len(),
        SLOW_CLAIM.as_millis()
    );
    println!("\n| ms after sending the delivery | min | median | p95 | max |");
    println!("|---|---|---|---|---|");
    for (name, percentiles) in rows {
        if let Some(p) = percentiles {
            println!(
                "| {name} | {} | {} | {} | {} |",
                ms(p.min),
                ms(p.p50),
                ms(p.p95),
                ms(p.max)
            );
        }
    }
    // One JSON line per step for `scripts/bench`, which collects them.
    for (name, percentiles) in rows.iter().filter_map(|(name, p)| Some((name, p.as_ref()?))) {
        println!(
            "bench-result {}",
            serde_json::json!({
                "measurement": format!("to comment, {scenario}: {name}"),
                "unit": "ms",
                "median": millis(percentiles.p50),
                "p95": millis(percentiles.p95),
                "min": millis(percentiles.min),
                "max": millis(percentiles.max),
                "runs": runs.len(),
            })
        );
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
