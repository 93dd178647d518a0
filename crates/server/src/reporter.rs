//! The reporter: turns stored agent reports into the pull request's sticky
//! comment and check run.
//!
//! One task per server process. It wakes when a report is stored or a job
//! is queued (both announced with `NOTIFY`, so any process may receive
//! them) and at a fixed interval, which also retries work that failed on a
//! GitHub error. Each round:
//!
//! 1. creates an in-progress check run for queued and running jobs that
//!    have none, and finishes history and release jobs
//!    (`commit_reports.rs`);
//! 2. takes pending outcomes one at a time under a row lock
//!    (`FOR UPDATE SKIP LOCKED`): an ingesting job is ingested, compared and
//!    reported, a failed one reported as a failed run, and a cancelled or
//!    superseded one gets its check run closed. An ingesting job whose
//!    comparison flags regressions first waits for their confirmation
//!    (`confirmation.rs`).
//!
//! The row lock is held across the GitHub calls, so two processes never
//! write the same outcome. The sticky comment is found again by its marker,
//! so a crash between writing and committing edits the same comment on the
//! next try instead of adding one.
//!
//! The writers of one pull request's comment take turns under an advisory
//! lock, and a job whose pull request has a newer job leaves the comment
//! alone. The reporter never locks the `pull_requests` row while it holds
//! a job row: webhook deliveries lock that row first and jobs second.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use pitot_github::{
    sticky_marker, CheckConclusion, CheckRunOutput, CheckRunStatus, GitHubClient, NewCheckRun,
};
use pitot_report::{BaseDrift, CommentCharts, Confirmation, PullRequestContext, Quarantines, Verdict};
use pitot_store::job_reports::{self, JobReport};
use pitot_store::jobs::JobState;
use pitot_store::reporting::{self, NewerJob, ReportTask, ReportedOutcome};
use pitot_store::ExistingRuns;
use tokio::sync::Notify;

use crate::charts::{chart_links, ChartJob};
use crate::commit_reports::ingest_and_compare;
use crate::confirmation::{confirm_step, ConfirmStep};
use crate::job_comparison::short_sha;
use crate::state::AppState;

/// The name of pitot's check run on GitHub.
pub const CHECK_RUN_NAME: &str = "pitot benchmarks";

/// How many failed tries at writing one job's outcome the reporter makes
/// before it gives up; with the waits between tries, about 80 minutes.
pub const MAX_REPORT_FAILURES: i32 = 12;

/// How often the reporter looks for work without being woken.
const SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// Wakes the reporter; cheap to clone. A wake-up while the reporter is busy
/// is kept, so the next round starts right after the current one.
#[derive(Clone, Default)]
pub struct ReporterWake {
    notify: Arc<Notify>,
}

impl ReporterWake {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Runs the reporter until the state's shutdown token is cancelled.
pub async fn run_reporter(state: AppState) {
    loop {
        if let Err(error) = report_pending(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "reporting to GitHub failed; retrying in {} seconds",
                SCAN_INTERVAL.as_secs()
            );
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = state.reporter_wake.notify.notified() => {}
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
    }
}

/// Does one round of the reporter's work and returns how many outcomes it
/// wrote. Tests call it directly to run the reporter without waiting.
///
/// A job whose outcome cannot be written waits and is tried again later
/// (see `reporting::record_report_failure`) while the others go ahead.
/// After [`MAX_REPORT_FAILURES`] failed tries the reporter gives up on it.
pub async fn report_pending(state: &AppState) -> anyhow::Result<usize> {
    if let Err(error) = open_check_runs(state).await {
        tracing::warn!(
            error = format!("{error:#}"),
            "failed to create check runs; retrying later"
        );
    }
    // History and release jobs have no pull request to write to; they go
    // their own way.
    let mut written = crate::commit_reports::report_commit_jobs(state).await?;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the report transaction")?;
        let request_wait = CHECK_RUN_REQUEST_WAIT.as_secs_f64();
        let Some(task) = reporting::lock_next_to_report(&mut *tx, &tried, request_wait).await? else {
            break;
        };
        tried.push(task.job_id);
        match write_outcome(state, &mut tx, &task).await {
            Ok(Written::WaitingForConfirmation) => {
                // The job waits for its confirmation, which was queued in
                // this transaction or is still running.
                tx.commit()
                    .await
                    .context("failed to commit the confirmation")?;
            }
            Ok(Written::CommentBusy) => {
                drop(tx);
                tracing::debug!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    pr = task.pr_number,
                    "another reporter is writing the pull request's comment, so the job waits for the next round"
                );
            }
            Ok(Written::Outcome(outcome)) => {
                reporting::finish_report(&mut *tx, task.job_id, &outcome.as_stored())
                    .await
                    .context("failed to record the report")?;
                tx.commit().await.context("failed to commit the report")?;
                record_comment_id(state, &task, outcome.comment_id).await;
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    pr = task.pr_number,
                    state = %outcome.state,
                    "job reported"
                );
                written += 1;
            }
            Err(error) => {
                drop(tx);
                record_failure(state, &task, &error).await?;
            }
        }
    }
    Ok(written)
}

/// Logs a failed try at writing a job's outcome, and gives the job up
/// after [`MAX_REPORT_FAILURES`] tries: an ingesting job then fails, and
/// the reporter no longer takes it.
async fn record_failure(
    state: &AppState,
    task: &ReportTask,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    let failures = reporting::record_report_failure(&state.pool, task.job_id).await?;
    if failures < MAX_REPORT_FAILURES {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            pr = task.pr_number,
            failures,
            error = format!("{error:#}"),
            "failed to report the job to GitHub; retrying later"
        );
        return Ok(());
    }
    let reason =
        format!("pitot gave up writing the outcome to GitHub after {failures} tries: {error:#}");
    tracing::error!(job_id = task.job_id, repo = %task.repository, pr = task.pr_number, error = %reason, "giving up on the job's report");
    let outcome = ReportedOutcome {
        state: JobState::Failed,
        error: Some(&reason),
        check_run_id: None,
        comment_body: None,
    };
    reporting::finish_report(&state.pool, task.job_id, &outcome).await?;
    Ok(())
}

/// How long a claimed request for a job's in-progress check run keeps
/// other claims, and the job's conclusion, away. It is longer than
/// [`CHECK_RUN_CREATE_LIMIT`], so a request is over before another may
/// start; a later claim then searches GitHub for the earlier request's run.
pub const CHECK_RUN_REQUEST_WAIT: Duration = Duration::from_secs(10 * 60);

/// The maximum time a request for an in-progress check run may take, with
/// the client's retries and rate-limit waits, before the reporter gives it
/// up.
const CHECK_RUN_CREATE_LIMIT: Duration = Duration::from_secs(5 * 60);

/// Creates an in-progress check run for each queued or running job that
/// has none. A job whose run cannot be created is logged and tried again
/// in a later round, after [`CHECK_RUN_REQUEST_WAIT`].
async fn open_check_runs(state: &AppState) -> anyhow::Result<()> {
    let Some(github) = &state.github else {
        return Ok(());
    };
    if !github.supports_check_runs() {
        return Ok(());
    }
    for task in reporting::jobs_without_check_run(&state.pool, 20).await? {
        if let Err(error) = open_check_run(state, github, &task).await {
            tracing::warn!(
                job_id = task.job_id,
                repo = %task.repository,
                pr = task.pr_number,
                error = format!("{error:#}"),
                "failed to create the job's check run; retrying later"
            );
        }
    }
    Ok(())
}

/// Creates the in-progress check run of one queued or running job.
async fn open_check_run(
    state: &AppState,
    github: &GitHubClient,
    task: &ReportTask,
) -> anyhow::Result<()> {
    let client = installation_client(github, task)?;
    let external_id = external_id(task);
    let output = CheckRunOutput {
        title: "Benchmarks are running".to_owned(),
        summary: format!(
            "pitot is running the benchmarks of `{}` against its merge-base.",
            short_sha(&task.head_sha)
        ),
        text: None,
    };
    let details_url = run_url(state, task.job_id);

    // The request is claimed before it is sent, so that another replica
    // does not send one too, and a server that stops before GitHub's
    // response arrives leaves the next claim an earlier request to search.
    let wait = CHECK_RUN_REQUEST_WAIT.as_secs_f64();
    let Some(earlier) =
        reporting::claim_check_run_request(&state.pool, task.job_id, &external_id, wait).await?
    else {
        tracing::debug!(
            job_id = task.job_id,
            "the job's check run was requested lately, or its row is locked; leaving it"
        );
        return Ok(());
    };

    let run = NewCheckRun {
        head_sha: &task.head_sha,
        name: CHECK_RUN_NAME,
        status: CheckRunStatus::InProgress,
        details_url: details_url.as_deref(),
        external_id: &external_id,
        output: Some(&output),
        earlier_external_id: earlier.as_deref(),
    };
    let created = tokio::time::timeout(
        CHECK_RUN_CREATE_LIMIT,
        client.create_check_run(&task.repository, &run),
    )
    .await
    .context("creating the check run timed out")?
    .context("failed to create the check run")?;

    if let Some(check_run) = created {
        let id = i64::try_from(check_run.id).context("check run id out of range")?;
        let recorded = reporting::record_check_run(&state.pool, task.job_id, id).await?;
        // A claim that ran during the update skipped the locked row and
        // now waits; the notification makes every waiting claim look again.
        if recorded == Some(JobState::Queued) {
            pitot_store::jobs::notify_job_queued(&state.pool, task.job_id).await?;
        }
    }
    Ok(())
}

/// The result of writing one job's outcome.
enum Written {
    /// The outcome is written to GitHub, and the caller records it.
    Outcome(Outcome),
    /// The job waits for the confirmation of its regressions.
    WaitingForConfirmation,
    /// Another reporter holds the pull request's comment lock. Nothing was
    /// written, and the next round tries the job again.
    CommentBusy,
}

/// The reporter's decision for one job and the ids it wrote.
struct Outcome {
    state: JobState,
    error: Option<String>,
    check_run_id: Option<i64>,
    comment_body: Option<String>,
    /// The pull request comment's id, when this job wrote the comment.
    comment_id: Option<i64>,
}

impl Outcome {
    fn as_stored(&self) -> ReportedOutcome<'_> {
        ReportedOutcome {
            state: self.state,
            error: self.error.as_deref(),
            check_run_id: self.check_run_id,
            comment_body: self.comment_body.as_deref(),
        }
    }
}

/// The result of rendering an ingesting job's outcome.
enum JobRender {
    Rendered(Rendered),
    /// The comparison flagged regressions of this many benchmarks, and the
    /// comment waits for their confirmation.
    Confirming { benchmarks: usize },
}

/// The comment and check run contents for one job's outcome.
struct Rendered {
    body: String,
    title: String,
    summary: String,
    conclusion: CheckConclusion,
    /// The quarantines the comment's charts were drawn with, recorded
    /// with the comment so the chart route draws the same charts later.
    chart_quarantines: Option<Quarantines>,
}

/// Writes a job's outcome to GitHub and returns it, unless the job waits
/// for the confirmation of its regressions or for another reporter.
///
/// The reporter writes a pull request's comment only while it holds the
/// pull request's comment lock, and leaves the comment alone when a newer
/// job of the pull request exists. So an old job whose comment failed and
/// was tried again later never replaces a newer job's comment.
async fn write_outcome(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    task: &ReportTask,
) -> anyhow::Result<Written> {
    if matches!(task.state, JobState::Cancelled | JobState::Superseded) {
        let check_run_id = close_cancelled_check_run(state, task).await?;
        return Ok(Written::Outcome(Outcome {
            state: task.state,
            error: None,
            check_run_id,
            comment_body: None,
            comment_id: None,
        }));
    }
    if !reporting::try_lock_pull_request_comment(&mut *tx, task.repository_id, task.pr_number)
        .await?
    {
        return Ok(Written::CommentBusy);
    }

    let report = job_reports::latest_job_report(&mut *tx, task.job_id).await?;
    let (mut rendered, error) = match render_job(state, tx, task, report.as_ref()).await {
        Ok(JobRender::Rendered(rendered)) => (rendered, None),
        Ok(JobRender::Confirming { benchmarks }) => {
            show_confirming(state, task, benchmarks).await;
            return Ok(Written::WaitingForConfirmation);
        }
        Err(failure) => {
            let error = format!("{failure:#}");
            let log = report
                .as_ref()
                .map(|report| report.log.as_str())
                .unwrap_or("");
            (
                render_failure(state, task, report.as_ref(), &error, log),
                Some(error),
            )
        }
    };
    let final_state = if error.is_some() {
        JobState::Failed
    } else {
        JobState::Reported
    };

    if let Some(quarantines) = &rendered.chart_quarantines {
        let recorded = crate::quarantines::kinds_to_json(quarantines);
        reporting::record_chart_quarantines(&mut *tx, task.job_id, &recorded).await?;
    }
    let mut check_run_id = task.check_run_id;
    let mut comment_id = None;
    if let Some(github) = &state.github {
        let client = installation_client(github, task)?;
        match reporting::newer_pull_request_job(&mut *tx, task.job_id).await? {
            Some(newer) => {
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    pr = task.pr_number,
                    newer_job_id = newer.job_id,
                    newer_state = %newer.state,
                    "left the pull request's comment alone because a newer job of the pull request owns it"
                );
                rendered.summary = format!("{}\n\n{}", replaced_note(&newer), rendered.summary);
            }
            None => comment_id = Some(write_comment(&client, task, &rendered.body).await?),
        }
        check_run_id = conclude_check_run(state, &client, task, &rendered).await?;
    } else {
        tracing::info!(
            job_id = task.job_id,
            "no GitHub credentials configured; the comment is stored but not posted"
        );
    }

    Ok(Written::Outcome(Outcome {
        state: final_state,
        error,
        check_run_id,
        comment_body: Some(rendered.body),
        comment_id,
    }))
}

/// Writes the pull request's sticky comment and returns its id.
async fn write_comment(
    client: &GitHubClient,
    task: &ReportTask,
    body: &str,
) -> anyhow::Result<i64> {
    let number = pr_number(task)?;
    let marker = sticky_marker(&task.repository, number);
    let comment = client
        .upsert_sticky_comment(
            &task.repository,
            number,
            task.comment_id.and_then(|id| u64::try_from(id).ok()),
            &marker,
            body,
        )
        .await
        .context("failed to write the pull request comment")?;
    i64::try_from(comment.id).context("comment id out of range")
}

/// Returns the check run's note for a job whose outcome a newer job of the
/// pull request shows in the comment instead.
fn replaced_note(newer: &NewerJob) -> String {
    format!(
        "The pull request's comment does not show this run, because job {} for the newer head `{}` ({}) owns it.",
        newer.job_id,
        short_sha(&newer.head_sha),
        newer.state
    )
}

/// Stores the pull request comment's id when the job wrote the comment and
/// the id changed. This runs after the job's transaction committed, so the
/// reporter never locks the pull request's row, which every webhook
/// delivery of the pull request locks first, while it holds a job row or
/// waits for GitHub. A failure is only logged, because the next report
/// finds the comment by its marker.
async fn record_comment_id(state: &AppState, task: &ReportTask, comment_id: Option<i64>) {
    let Some(comment_id) = comment_id.filter(|id| Some(*id) != task.comment_id) else {
        return;
    };
    let recorded =
        reporting::record_comment_id(&state.pool, task.repository_id, task.pr_number, comment_id)
            .await;
    if let Err(error) = recorded {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            pr = task.pr_number,
            error = format!("{error:#}"),
            "failed to store the pull request comment's id, so the next report looks the comment up by its marker"
        );
    }
}

/// Shows on the job's check run that its regressions are being confirmed.
/// A failure is only logged: the final report overwrites the check run
/// anyway.
async fn show_confirming(state: &AppState, task: &ReportTask, benchmarks: usize) {
    let (Some(github), Some(id)) = (&state.github, task.check_run_id) else {
        return;
    };
    let noun = if benchmarks == 1 { "benchmark" } else { "benchmarks" };
    let output = CheckRunOutput {
        title: format!("Confirming regressions of {benchmarks} {noun}"),
        summary: format!(
            "The first run flagged regressions of {benchmarks} {noun}. pitot is running only \
             those again, with {} rounds on the same machine, before it reports.",
            state.config.confirm.rounds
        ),
        text: None,
    };
    let updated = match (installation_client(github, task), u64::try_from(id)) {
        (Ok(client), Ok(id)) => client
            .update_check_run(&task.repository, id, CheckRunStatus::InProgress, Some(&output))
            .await
            .map(|_| ())
            .context("failed to update the check run"),
        (Err(error), _) => Err(error),
        (_, Err(error)) => Err(anyhow!(error).context("check run id out of range")),
    };
    if let Err(error) = updated {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            pr = task.pr_number,
            error = format!("{error:#}"),
            "failed to show the confirmation on the check run"
        );
    }
}

/// Ingests the job's results, compares head against base and renders the
/// report. An error means the run cannot be reported as a comparison; its
/// text becomes the failure's reason.
async fn render_job(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    task: &ReportTask,
    report: Option<&JobReport>,
) -> anyhow::Result<JobRender> {
    if let Some(error) = &task.error {
        return Err(anyhow!("{error}"));
    }
    let report = report.ok_or_else(|| anyhow!("the agent sent no report for this job"))?;
    if let Some(error) = &report.error {
        return Err(anyhow!("{error}"));
    }
    let base_sha = task
        .base_sha
        .as_deref()
        .or(report.base_sha.as_deref())
        .ok_or_else(|| anyhow!("the agent did not report the merge-base"))?;

    // The pull request's code ran on the runner, so its files never
    // replace a run stored before, such as the base commit's history run.
    let comparison = ingest_and_compare(
        state,
        tx,
        &task.repository,
        report,
        (base_sha, &task.head_sha),
        ExistingRuns::Keep,
    )
    .await?;
    let quarantines =
        crate::quarantines::comment_quarantines(&mut *tx, task.repository_id).await?;
    let judged = quarantines.judged(&comparison);
    let confirmation = match confirm_step(state, tx, task, base_sha, &judged).await? {
        ConfirmStep::Waiting { benchmarks } => return Ok(JobRender::Confirming { benchmarks }),
        ConfirmStep::Ready(confirmation) => confirmation,
    };
    // Ignored benchmarks are left out of the charts, noisy ones drawn apart.
    let charts = comment_charts(state, task, base_sha, &comparison, &quarantines).await;
    let chart_quarantines = charts.is_some().then(|| quarantines.clone());

    let machine = task
        .machine
        .clone()
        .unwrap_or_else(|| report.machine.clone());
    let mut context = pr_context(state, task, base_sha, &machine);
    context.charts = charts;
    context.base_drift = crate::base_drift::base_drift(state, task, base_sha).await;
    context.quarantines = Some(quarantines);
    context.confirmation = confirmation;
    // Quarantined benchmarks and unconfirmed regressions are shown but
    // never decide the conclusion.
    let verdict = pitot_report::pull_request_verdict(&comparison, &context.borrow());
    Ok(JobRender::Rendered(Rendered {
        body: pitot_report::render_pull_request_comment(&comparison, &context.borrow()),
        title: verdict.title().to_owned(),
        summary: pitot_report::render_check_summary(&comparison, &context.borrow()),
        conclusion: conclusion_of(verdict),
        chart_quarantines,
    }))
}

/// Returns the chart links of the comment, or `None` when no public URL
/// is configured. A failure to build them is logged and leaves the charts
/// out, because the comment matters more than its image.
async fn comment_charts(
    state: &AppState,
    task: &ReportTask,
    base_sha: &str,
    comparison: &pitot_stats::Comparison,
    quarantines: &Quarantines,
) -> Option<CommentCharts> {
    let base_url = state.config.server.public_url.trim_end_matches('/');
    if base_url.is_empty() {
        return None;
    }
    let job = ChartJob {
        job_id: task.job_id,
        repository_id: task.repository_id,
        repository: &task.repository,
        base_sha,
        head_sha: &task.head_sha,
    };
    match chart_links(state, &job, comparison, Some(quarantines), base_url).await {
        Ok(charts) => Some(charts),
        Err(error) => {
            tracing::warn!(
                job_id = task.job_id,
                error = format!("{error:#}"),
                "failed to build the chart links; the comment has no charts"
            );
            None
        }
    }
}

fn render_failure(
    state: &AppState,
    task: &ReportTask,
    report: Option<&JobReport>,
    error: &str,
    log: &str,
) -> Rendered {
    let base_sha = task
        .base_sha
        .as_deref()
        .or(report.and_then(|report| report.base_sha.as_deref()))
        .unwrap_or("");
    let machine = task
        .machine
        .clone()
        .or_else(|| report.map(|report| report.machine.clone()))
        .unwrap_or_default();
    let context = pr_context(state, task, base_sha, &machine);
    let body = pitot_report::render_pull_request_failure(error, log, &context.borrow());
    Rendered {
        summary: body.clone(),
        body,
        title: Verdict::RunFailed.title().to_owned(),
        conclusion: conclusion_of(Verdict::RunFailed),
        chart_quarantines: None,
    }
}

/// Maps a verdict to a check run conclusion. The title distinguishes the
/// failures. A failure of pitot or asv is neutral, because the pull request
/// did not cause it.
fn conclusion_of(verdict: Verdict) -> CheckConclusion {
    match verdict {
        Verdict::Regressed | Verdict::BenchmarksFailed => CheckConclusion::Failure,
        Verdict::RunFailed => CheckConclusion::Neutral,
        Verdict::Improved | Verdict::NoSignificantChange => CheckConclusion::Success,
    }
}

async fn conclude_check_run(
    state: &AppState,
    client: &GitHubClient,
    task: &ReportTask,
    rendered: &Rendered,
) -> anyhow::Result<Option<i64>> {
    let output = CheckRunOutput {
        title: rendered.title.clone(),
        summary: rendered.summary.clone(),
        text: None,
    };
    let status = CheckRunStatus::Completed(rendered.conclusion);
    let check_run = match task.check_run_id.and_then(|id| u64::try_from(id).ok()) {
        Some(id) => client
            .update_check_run(&task.repository, id, status, Some(&output))
            .await
            .context("failed to complete the check run")?,
        None => {
            let details_url = run_url(state, task.job_id);
            client
                .create_check_run(
                    &task.repository,
                    &NewCheckRun {
                        head_sha: &task.head_sha,
                        name: CHECK_RUN_NAME,
                        status,
                        details_url: details_url.as_deref(),
                        external_id: &external_id(task),
                        output: Some(&output),
                        // An in-progress run requested earlier may exist
                        // without its id recorded; it is completed instead.
                        earlier_external_id: task.check_run_requested.as_deref(),
                    },
                )
                .await
                .context("failed to create the check run")?
        }
    };
    Ok(check_run.and_then(|run| i64::try_from(run.id).ok()))
}

async fn close_cancelled_check_run(
    state: &AppState,
    task: &ReportTask,
) -> anyhow::Result<Option<i64>> {
    let Some(github) = &state.github else {
        return Ok(task.check_run_id);
    };
    if task.check_run_id.is_none() && task.check_run_requested.is_none() {
        return Ok(None);
    }
    let client = installation_client(github, task)?;
    let reason = if task.state == JobState::Superseded {
        "A push replaced the commit before it was benchmarked."
    } else {
        "The benchmark run was cancelled: the label was removed or the pull request closed."
    };
    let output = CheckRunOutput {
        title: "Cancelled".to_owned(),
        summary: reason.to_owned(),
        text: None,
    };
    let status = CheckRunStatus::Completed(CheckConclusion::Cancelled);
    let Some(id) = task.check_run_id else {
        // An in-progress run was requested, and GitHub may have stored it
        // without pitot learning its id.
        let earlier = task.check_run_requested.as_deref().unwrap_or_default();
        let found = client
            .complete_found_check_run(&task.repository, &task.head_sha, CHECK_RUN_NAME, earlier, status, Some(&output))
            .await
            .context("failed to look for the check run to cancel")?;
        return Ok(found.and_then(|run| i64::try_from(run.id).ok()));
    };
    client
        .update_check_run(
            &task.repository,
            u64::try_from(id).context("check run id out of range")?,
            status,
            Some(&output),
        )
        .await
        .context("failed to cancel the check run")?;
    Ok(Some(id))
}

/// The owned parts of a [`PullRequestContext`].
struct ContextParts {
    repository: String,
    web_url: String,
    base_sha: String,
    head_sha: String,
    machine: String,
    dashboard_url: Option<String>,
    charts: Option<CommentCharts>,
    marker: String,
    quarantines: Option<Quarantines>,
    base_drift: Option<BaseDrift>,
    confirmation: Option<Confirmation>,
}

impl ContextParts {
    fn borrow(&self) -> PullRequestContext<'_> {
        PullRequestContext {
            repository: &self.repository,
            web_url: &self.web_url,
            base_sha: &self.base_sha,
            head_sha: &self.head_sha,
            machine: &self.machine,
            dashboard_url: self.dashboard_url.as_deref(),
            charts: self.charts.as_ref(),
            marker: &self.marker,
            quarantines: self.quarantines.as_ref(),
            base_drift: self.base_drift.as_ref(),
            confirmation: self.confirmation.as_ref(),
        }
    }
}

fn pr_context(state: &AppState, task: &ReportTask, base_sha: &str, machine: &str) -> ContextParts {
    ContextParts {
        repository: task.repository.clone(),
        web_url: web_url(&state.config.github.api_url),
        base_sha: base_sha.to_owned(),
        head_sha: task.head_sha.clone(),
        machine: machine.to_owned(),
        dashboard_url: run_url(state, task.job_id),
        charts: None,
        marker: sticky_marker(
            &task.repository,
            u64::try_from(task.pr_number).unwrap_or_default(),
        ),
        quarantines: None,
        base_drift: None,
        confirmation: None,
    }
}

/// Returns the web address for an API base URL: `https://github.com` for
/// `https://api.github.com`, `https://HOST` for GitHub Enterprise's
/// `https://HOST/api/v3`, and the URL itself otherwise.
pub fn web_url(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_prefix("https://api.") {
        return format!("https://{rest}");
    }
    trimmed
        .strip_suffix("/api/v3")
        .unwrap_or(trimmed)
        .to_owned()
}

/// Returns the job's page on the dashboard, when a public URL is configured.
pub(crate) fn run_url(state: &AppState, job_id: i64) -> Option<String> {
    let base = state.config.server.public_url.trim_end_matches('/');
    (!base.is_empty()).then(|| format!("{base}/jobs/{job_id}"))
}

fn external_id(task: &ReportTask) -> String {
    format!("pitot-job-{}-attempt-{}", task.job_id, task.attempt)
}

pub(crate) fn installation_client(
    github: &GitHubClient,
    task: &ReportTask,
) -> anyhow::Result<GitHubClient> {
    if !github.supports_check_runs() {
        return Ok(github.clone());
    }
    let installation = task.installation_id.ok_or_else(|| {
        anyhow!(
            "job {} has no GitHub App installation id; its webhook came without one",
            task.job_id
        )
    })?;
    let installation = u64::try_from(installation).context("installation id out of range")?;
    Ok(github.for_installation(installation))
}

fn pr_number(task: &ReportTask) -> anyhow::Result<u64> {
    u64::try_from(task.pr_number).with_context(|| format!("pull request number {}", task.pr_number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_url_follows_the_api_url() {
        assert_eq!(web_url("https://api.github.com"), "https://github.com");
        assert_eq!(
            web_url("https://ghe.example.org/api/v3/"),
            "https://ghe.example.org"
        );
        assert_eq!(web_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
