//! Finishing history and release jobs once their agent has reported.
//!
//! A history job's results are ingested into the same tables as a pull
//! request's, where they feed the dashboard and the noise thresholds. A
//! history job writes nothing to GitHub, but it keeps the list of
//! benchmarks that got worse for later release reports. Once a history or
//! release job's results are stored, change-point detection runs over the
//! series the job measured (`crate::change_points`).
//!
//! A release job is ingested too, and its comparison is posted as a comment
//! on the release's commit. When anything regressed, pitot also opens or
//! updates the issue "Performance regressions in TAG". The report also
//! lists the stored change points between the two releases. The reporter runs
//! this at the start of each round, under the same row locks and retry
//! rules as pull request jobs.
//!
//! A calibration job ends here too: its passes are not ingested, and only
//! the noise they show is stored (`crate::calibrations`).

use anyhow::{anyhow, Context as _};
use pitot_asv::ResultsFile;
use pitot_github::GitHubClient;
use pitot_report::{Change, CommitLabel, RenderOptions, Verdict};
use pitot_stats::Comparison;
use pitot_store::commit_jobs::{self, CommitJobTask, JobKind};
use pitot_store::job_reports::{self, JobReport};
use pitot_store::jobs::JobState;
use pitot_store::regressions;
use pitot_store::releases::{self, ReleaseRecord};
use pitot_store::reporting::{self, ReportedOutcome};
use pitot_store::{ExistingRuns, RepoName, Store};
use sqlx::PgConnection;

use crate::calibrations;
use crate::change_points;
use crate::job_comparison::parse_report;
use crate::noise_thresholds::{assess_with_history, Sides};
use crate::reporter::MAX_REPORT_FAILURES;
use crate::state::AppState;

/// Handles every history and release job whose report is waiting, and
/// returns how many were finished.
pub async fn report_commit_jobs(state: &AppState) -> anyhow::Result<usize> {
    let mut finished = 0;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the history report transaction")?;
        let Some(task) = commit_jobs::lock_next_commit_job(&mut *tx, &tried).await? else {
            break;
        };
        tried.push(task.job_id);
        match finish_job(state, &mut tx, &task).await {
            Ok((final_state, error, body)) => {
                let outcome = ReportedOutcome {
                    state: final_state,
                    error: error.as_deref(),
                    check_run_id: None,
                    comment_body: body.as_deref(),
                };
                reporting::finish_report(&mut *tx, task.job_id, &outcome).await?;
                tx.commit()
                    .await
                    .context("failed to commit the history report")?;
                tracing::info!(
                    job_id = task.job_id,
                    repo = %task.repository,
                    kind = task.kind.as_str(),
                    state = %final_state,
                    "job reported"
                );
                finished += 1;
            }
            Err(error) => {
                drop(tx);
                record_failure(state, &task, &error).await?;
            }
        }
    }
    Ok(finished)
}

/// Ingests the job's results and writes the release report. Returns the
/// job's final state, its error and the report's body.
async fn finish_job(
    state: &AppState,
    tx: &mut PgConnection,
    task: &CommitJobTask,
) -> anyhow::Result<(JobState, Option<String>, Option<String>)> {
    let report = job_reports::latest_job_report(&mut *tx, task.job_id).await?;
    let failure = match (&task.error, &report) {
        (Some(error), _) => Some(error.clone()),
        (None, None) => Some("the agent sent no report for this job".to_owned()),
        (None, Some(report)) => report.error.clone(),
    };
    let Some(report) = report.filter(|_| failure.is_none()) else {
        let error = failure.unwrap_or_default();
        let body = match task.kind {
            JobKind::Release => Some(write_release_failure(state, tx, task, &error).await?),
            _ => None,
        };
        return Ok((JobState::Failed, Some(error), body));
    };

    // A calibration's results are not history: only their noise is kept.
    if task.kind == JobKind::Calibration {
        return match calibrations::store_calibration(tx, task, &report).await? {
            Ok(summary) => Ok((JobState::Reported, None, Some(summary))),
            Err(reason) => Ok((JobState::Failed, Some(reason), None)),
        };
    }

    let comparison = ingest_and_compare(
        state,
        tx,
        &task.repository,
        &report,
        (&task.base_sha, &task.head_sha),
        ExistingRuns::Replace,
    )
    .await?;
    detect_change_points(state, task).await;
    let body = match task.kind {
        JobKind::Release => Some(write_release_report(state, tx, task, &comparison).await?),
        // Kept so that a release report can list where the default branch
        // got worse.
        _ => Some(worse_rows(&comparison)),
    };
    Ok((JobState::Reported, None, body))
}

/// Runs change-point detection over the series the job measured. A
/// failure is logged and does not fail the job, because its results are
/// stored and the next history job detects again.
async fn detect_change_points(state: &AppState, task: &CommitJobTask) {
    let options = state.config.change_points.options();
    match change_points::detect_for_commit(&state.pool, task.repository_id, &task.head_sha, options).await {
        Ok(summary) => tracing::info!(
            job_id = task.job_id,
            repo = %task.repository,
            series = summary.series,
            change_points = summary.change_points,
            new = summary.new,
            "change points detected"
        ),
        Err(error) => tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            error = format!("{error:#}"),
            "change-point detection failed; the next history job of the repository tries again"
        ),
    }
}

/// Stores the report's benchmark suite and results files, then compares
/// head with base by asv's rule and the history-aware thresholds.
///
/// The suite and every file are stored in one transaction of their own,
/// so a failure stores none of them. That transaction commits before the
/// caller writes to GitHub, which keeps the ingest's row locks out of those
/// calls. So a caller that fails later, or a server killed before the
/// caller commits, leaves the files stored. The next try ingests them again
/// and finds them `Unchanged`.
pub(crate) async fn ingest_and_compare(
    state: &AppState,
    tx: &mut PgConnection,
    repository: &str,
    report: &JobReport,
    (base_sha, head_sha): (&str, &str),
    existing: ExistingRuns,
) -> anyhow::Result<Comparison> {
    let files = job_reports::load_report_files(&mut *tx, report.id).await?;
    let parsed = parse_report(&files, report.benchmarks_json.as_deref())?;

    let repo: RepoName = repository
        .parse()
        .with_context(|| format!("repository name {repository:?}"))?;
    let store = Store::from_pool(state.pool.clone());
    // The runner runs the pull request's code, which can write results
    // files of its own. Only the job's two commits on its machine are stored.
    let files: Vec<(&ResultsFile, [u8; 32])> = parsed
        .results
        .iter()
        .filter(|(file, _)| is_job_file(file, report, base_sha, head_sha))
        .map(|(file, digest)| (file, *digest))
        .collect();
    let outcomes = store
        .ingest_all_or_nothing(&repo, parsed.suite.as_ref(), &files, existing)
        .await
        .with_context(|| {
            format!(
                "failed to store the results files of commits {}",
                commits_of(&files)
            )
        })?;
    for outcome in outcomes {
        state.metrics.count_ingest(outcome);
    }
    let mut comparison = parsed.compare(base_sha, head_sha)?;
    assess_with_history(&store, &repo, &mut comparison, base_sha, Sides::OneRun).await?;
    Ok(comparison)
}

/// Returns whether `file` has results of the job's base or head commit
/// on the machine of its report. Any other file is logged and left out.
fn is_job_file(file: &ResultsFile, report: &JobReport, base_sha: &str, head_sha: &str) -> bool {
    let commit = &file.commit_hash;
    let of_job = commit.eq_ignore_ascii_case(base_sha) || commit.eq_ignore_ascii_case(head_sha);
    if of_job && file.machine == report.machine {
        return true;
    }
    tracing::warn!(
        job_id = report.job_id,
        commit = %commit,
        machine = %file.machine,
        report_machine = %report.machine,
        environment = %file.env_name,
        "not storing a results file of another commit or machine than the job's"
    );
    false
}

/// Returns the commits of `files`, for error messages: `sha1, sha2`.
fn commits_of(files: &[(&ResultsFile, [u8; 32])]) -> String {
    let commits: Vec<&str> = files
        .iter()
        .map(|(file, _)| file.commit_hash.as_str())
        .collect();
    commits.join(", ")
}

/// Posts the comparison on the release's commit and, when something
/// regressed, writes the regression issue. Returns the comment's body.
async fn write_release_report(
    state: &AppState,
    tx: &mut PgConnection,
    task: &CommitJobTask,
    comparison: &Comparison,
) -> anyhow::Result<String> {
    let release = release_record(tx, task).await?;
    let previous = release
        .previous_tag
        .as_deref()
        .unwrap_or("the previous release");
    let options = RenderOptions {
        before: CommitLabel {
            hash: task.base_sha.clone(),
            name: release.previous_tag.clone(),
        },
        after: CommitLabel {
            hash: task.head_sha.clone(),
            name: Some(release.tag.clone()),
        },
        split: true,
        only_changed: false,
        sort: Default::default(),
    };
    let machine = task.machine.as_deref().unwrap_or("unknown");
    let mut body = format!(
        "## pitot: benchmarks of release {} against {}\n\nMeasured on machine {}.\n\n{}",
        pitot_report::code_span(&release.tag),
        pitot_report::code_span(previous),
        pitot_report::code_span(machine),
        pitot_report::render_markdown(comparison, &options),
    );
    body.push_str(&change_points(state, task, &release).await?);
    body.push_str(&detected_regressions(state, task).await?);
    // NOTE: quarantines apply to pull request checks only, so a quarantined
    // benchmark that regressed still marks a release as regressed here.
    let regressed = Verdict::of(comparison) == Verdict::Regressed;
    publish_release(state, tx, task, &release, &body, regressed).await?;
    Ok(body)
}

/// Returns a Markdown list of the rows that got worse, one per line, or
/// an empty string when none did.
fn worse_rows(comparison: &Comparison) -> String {
    let mut list = String::new();
    for row in &comparison.rows {
        if Change::of(row) == Change::Worse {
            let ratio = row
                .ratio
                .map(|ratio| format!(" ({ratio:.2}x)"))
                .unwrap_or_default();
            list.push_str(&format!(
                "- {}{ratio}\n",
                pitot_report::code_span(&row.name)
            ));
        }
    }
    list
}

/// Returns the section that lists the default branch's commits between the
/// two releases whose history job found a regression, each with the
/// benchmarks that got worse.
async fn change_points(
    state: &AppState,
    task: &CommitJobTask,
    release: &ReleaseRecord,
) -> anyhow::Result<String> {
    let mut section = format!(
        "\n### Changes on {} between the releases\n\n",
        pitot_report::code_span(&release.default_branch)
    );
    let steps = commit_jobs::history_between(
        &state.pool,
        task.repository_id,
        &task.base_sha,
        &task.head_sha,
    )
    .await?;
    let Some(steps) = steps else {
        section.push_str(
            "pitot has no unbroken history of benchmarked pushes between the two releases, \
             so it cannot tell which commits changed the results.\n",
        );
        return Ok(section);
    };
    let mut found = false;
    for step in &steps {
        let Some(summary) = step
            .summary
            .as_deref()
            .filter(|summary| !summary.is_empty())
        else {
            continue;
        };
        found = true;
        let pulls = pull_requests_of(state, task, &step.head_sha).await;
        section.push_str(&format!(
            "Commit {}{pulls} made these benchmarks worse:\n\n{summary}\n",
            step.head_sha
        ));
    }
    if !found {
        section.push_str(&format!(
            "None of the {} benchmarked pushes between the releases made a benchmark worse.\n",
            steps.len()
        ));
    }
    Ok(section)
}

/// The maximum number of change points a release report lists. It counts
/// the rest.
const MAX_REPORTED_CHANGE_POINTS: usize = 50;

/// Returns the section that lists the stored change points whose first
/// commit after the step lies between the two releases, worse ones first,
/// with their size, commit range, triage state and pull requests.
async fn detected_regressions(state: &AppState, task: &CommitJobTask) -> anyhow::Result<String> {
    let found = regressions::regressions_between(
        &state.pool,
        task.repository_id,
        &task.base_sha,
        &task.head_sha,
    )
    .await
    .context("failed to load the change points between the releases")?;
    let mut section = String::from("\n### Change points between the releases\n\n");
    if found.is_empty() {
        section.push_str(
            "pitot detected no change point in the default branch's history between the releases.\n",
        );
        return Ok(section);
    }
    section.push_str("| benchmark | machine | change | commits | triage |\n|---|---|--:|---|---|\n");
    for regression in found.iter().take(MAX_REPORTED_CHANGE_POINTS) {
        let name = if regression.params.is_empty() {
            regression.benchmark.clone()
        } else {
            format!("{}({})", regression.benchmark, regression.params.join(", "))
        };
        let size = match regression.ratio {
            Some(ratio) => format!("{ratio:.2}x {}", regression.direction),
            None => regression.direction.clone(),
        };
        let pulls = pull_requests_of(state, task, &regression.after_commit).await;
        section.push_str(&format!(
            "| {} | {} | {size} | {}..{}{pulls} | {} |\n",
            pitot_report::code_span(&name),
            pitot_report::code_span(&regression.machine),
            short_sha(&regression.before_commit),
            short_sha(&regression.after_commit),
            regression.state,
        ));
    }
    if found.len() > MAX_REPORTED_CHANGE_POINTS {
        section.push_str(&format!(
            "\n{} more change points are listed on the dashboard's regressions page.\n",
            found.len() - MAX_REPORTED_CHANGE_POINTS
        ));
    }
    Ok(section)
}

fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Returns ` (#12, #15)` for the pull requests that brought `sha` in, or
/// an empty string. A failed lookup is logged and leaves the attribution
/// out, because the report matters more than the link.
async fn pull_requests_of(state: &AppState, task: &CommitJobTask, sha: &str) -> String {
    let client = match client_for(state, task) {
        Ok(Some(client)) => client,
        _ => return String::new(),
    };
    match client.pull_requests_of_commit(&task.repository, sha).await {
        Ok(numbers) if !numbers.is_empty() => {
            let list: Vec<String> = numbers.iter().map(|number| format!("#{number}")).collect();
            format!(" ({})", list.join(", "))
        }
        Ok(_) => String::new(),
        Err(error) => {
            tracing::warn!(
                job_id = task.job_id,
                commit = sha,
                error = %error,
                "failed to find the pull request of a commit; the release report names the commit only"
            );
            String::new()
        }
    }
}

/// Posts a release job's failure on the release's commit, so maintainers
/// learn that no report is coming. Returns the comment's body.
async fn write_release_failure(
    state: &AppState,
    tx: &mut PgConnection,
    task: &CommitJobTask,
    error: &str,
) -> anyhow::Result<String> {
    let release = release_record(tx, task).await?;
    let body = format!(
        "## pitot: benchmarks of release {} failed\n\n{}",
        pitot_report::code_span(&release.tag),
        pitot_report::code_block(error),
    );
    publish_release(state, tx, task, &release, &body, false).await?;
    Ok(body)
}

/// Writes the commit comment (edited in place when one was written
/// before) and, with `regressed`, the regression issue, and records both.
async fn publish_release(
    state: &AppState,
    tx: &mut PgConnection,
    task: &CommitJobTask,
    release: &ReleaseRecord,
    body: &str,
    regressed: bool,
) -> anyhow::Result<()> {
    let Some(client) = client_for(state, task)? else {
        tracing::info!(
            job_id = task.job_id,
            "no GitHub credentials configured; the release report is stored but not posted"
        );
        return Ok(());
    };
    let comment_id = match release.comment_id.and_then(|id| u64::try_from(id).ok()) {
        Some(id) => {
            client
                .update_commit_comment(&task.repository, id, body)
                .await
                .context("failed to edit the release's commit comment")?;
            id
        }
        // A marker rather than a plain create: a create that failed after
        // GitHub stored it is then edited on the next try, not posted again.
        None => {
            let marker = format!(
                "<!-- pitot:release {} -->",
                release.tag.replace("--", "- -")
            );
            client
                .upsert_commit_comment(&task.repository, &task.head_sha, &marker, body)
                .await
                .context("failed to comment on the release's commit")?
        }
    };
    // Recorded at once, so a failure writing the issue does not post the
    // comment a second time on the next try.
    releases::record_release_report(
        &state.pool,
        release.id,
        i64::try_from(comment_id).ok(),
        None,
    )
    .await?;

    let mut issue_number = None;
    if regressed {
        let title = format!("Performance regressions in {}", release.tag);
        let marker = format!(
            "<!-- pitot:release-regressions {} -->",
            release.tag.replace("--", "- -")
        );
        let known = release
            .issue_number
            .and_then(|number| u64::try_from(number).ok());
        let number = client
            .upsert_issue(&task.repository, known, &title, &marker, body)
            .await
            .context("failed to write the regression issue")?;
        issue_number = i64::try_from(number).ok();
    }
    releases::record_release_report(&mut *tx, release.id, None, issue_number).await?;
    Ok(())
}

async fn release_record(
    tx: &mut PgConnection,
    task: &CommitJobTask,
) -> anyhow::Result<ReleaseRecord> {
    releases::release_of_job(&mut *tx, task.job_id)
        .await?
        .ok_or_else(|| anyhow!("release job {} has no release record", task.job_id))
}

/// Returns the client to act for the job's installation, or `None` when no
/// GitHub credentials are configured.
fn client_for(state: &AppState, task: &CommitJobTask) -> anyhow::Result<Option<GitHubClient>> {
    let Some(github) = &state.github else {
        return Ok(None);
    };
    if !github.supports_check_runs() {
        return Ok(Some(github.clone()));
    }
    let installation = task.installation_id.ok_or_else(|| {
        anyhow!(
            "job {} has no GitHub App installation id; its webhook came without one",
            task.job_id
        )
    })?;
    let installation = u64::try_from(installation).context("installation id out of range")?;
    Ok(Some(github.for_installation(installation)))
}

/// Logs a failed try, and after [`MAX_REPORT_FAILURES`] fails the job.
async fn record_failure(
    state: &AppState,
    task: &CommitJobTask,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    let failures = reporting::record_report_failure(&state.pool, task.job_id).await?;
    if failures < MAX_REPORT_FAILURES {
        tracing::warn!(
            job_id = task.job_id,
            repo = %task.repository,
            failures,
            error = format!("{error:#}"),
            "failed to finish the history or release job; retrying later"
        );
        return Ok(());
    }
    let reason = format!("pitot gave up finishing the job after {failures} tries: {error:#}");
    tracing::error!(job_id = task.job_id, repo = %task.repository, error = %reason, "giving up on the job");
    let outcome = ReportedOutcome {
        state: JobState::Failed,
        error: Some(&reason),
        check_run_id: None,
        comment_body: None,
    };
    reporting::finish_report(&state.pool, task.job_id, &outcome).await?;
    Ok(())
}
