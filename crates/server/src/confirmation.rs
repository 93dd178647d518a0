//! Confirming a pull request run's flagged regressions before the comment
//! is written (the `[confirm]` settings).
//!
//! When the comparison of a pull request job flags regressions, the
//! reporter queues a `confirm` job instead of writing the comment. That
//! job runs only the flagged benchmarks (`asv continuous --bench`) with
//! more rounds, on the machine of the first run, on the same two commits.
//! The pull request job stays `ingesting` meanwhile and the reporter skips
//! it (`reporting::lock_next_to_report`). Once the confirmation has
//! reported, failed, or was cancelled or superseded, the reporter takes the
//! pull request job again, compares the confirmation's results in memory,
//! and writes one comment from both runs.
//!
//! The confirmation's results are never ingested: they cover a few
//! benchmarks of commits whose full results are already stored, and
//! storing them would replace those runs.

use std::collections::BTreeSet;

use anyhow::Context as _;
use pitot_report::{flagged_regressions, Confirmation, ConfirmationRun};
use pitot_stats::Comparison;
use pitot_store::confirm_jobs::{self, ConfirmJob, NewConfirmJob};
use pitot_store::job_reports;
use pitot_store::jobs::{self, JobState};
use pitot_store::reporting::ReportTask;
use sqlx::PgConnection;

use crate::job_comparison::parse_report;
use crate::noise_thresholds::assess_like;
use crate::state::AppState;

/// The maximum length, in characters, of a confirmation run's error that
/// the comment quotes.
const MAX_ERROR_CHARS: usize = 200;

/// The reporter's next step with a pull request job's comparison.
pub(crate) enum ConfirmStep {
    /// A confirmation of this many benchmarks is queued or running; the
    /// comment waits for it.
    Waiting { benchmarks: usize },
    /// The comment can be written now, with this confirmation, or without
    /// one when nothing was flagged or confirmation is off.
    Ready(Option<Confirmation>),
}

/// Decides whether the comment of a pull request job waits for a
/// confirmation: it queues one when `judged` (the comparison without
/// quarantined rows) flags regressions and none exists for the job's run,
/// and it reads the outcome of the one that does. The caller holds the
/// job's row lock in `tx`.
pub(crate) async fn confirm_step(
    state: &AppState,
    tx: &mut PgConnection,
    task: &ReportTask,
    base_sha: &str,
    judged: &Comparison,
) -> anyhow::Result<ConfirmStep> {
    let flagged = flagged_regressions(judged);
    if flagged.is_empty() {
        return Ok(ConfirmStep::Ready(None));
    }
    let benchmarks: BTreeSet<&str> = flagged.iter().map(|row| row.benchmark.as_str()).collect();

    // An existing confirmation is used even after `[confirm]` was turned
    // off, because its parent was held back for it.
    if let Some(job) = confirm_jobs::confirmation_of(&mut *tx, task.job_id, task.attempt).await? {
        return read_confirmation(state, tx, task, base_sha, &job, judged, benchmarks.len()).await;
    }

    let config = state.config.confirm;
    if !config.enabled {
        return Ok(ConfirmStep::Ready(None));
    }
    if task.on_actions {
        return Ok(not_run(
            "the GitHub Actions backend runs every job on a fresh runner, so a second run \
             would not measure on the same machine.",
        ));
    }
    if benchmarks.len() > config.max_benchmarks {
        return Ok(not_run(format!(
            "{} benchmarks got worse, more than the {} that one confirmation runs again \
             (`confirm.max_benchmarks`).",
            benchmarks.len(),
            config.max_benchmarks
        )));
    }
    let Some(machine) = task.machine.as_deref() else {
        return Ok(not_run(
            "the job does not record which machine ran it, so a second run could not be pinned to it.",
        ));
    };

    let bench = bench_regex(&benchmarks);
    let new_job = NewConfirmJob {
        parent_job_id: task.job_id,
        parent_attempt: task.attempt,
        base_sha,
        bench: &bench,
        rounds: i32::try_from(config.rounds).context("confirm.rounds out of range")?,
        machine,
        max_attempts: state.config.jobs.max_attempts,
    };
    if let Some(id) = confirm_jobs::insert_confirm_job(&mut *tx, &new_job).await? {
        jobs::notify_job_queued(&mut *tx, id).await?;
        tracing::info!(
            job_id = task.job_id,
            confirm_job_id = id,
            repo = %task.repository,
            pr = task.pr_number,
            benchmarks = benchmarks.len(),
            machine,
            "confirmation queued"
        );
    }
    Ok(ConfirmStep::Waiting {
        benchmarks: benchmarks.len(),
    })
}

/// Reads a finished confirmation, compares its results and closes it.
async fn read_confirmation(
    state: &AppState,
    tx: &mut PgConnection,
    task: &ReportTask,
    base_sha: &str,
    job: &ConfirmJob,
    judged: &Comparison,
    benchmarks: usize,
) -> anyhow::Result<ConfirmStep> {
    let confirmation = match job.state {
        // `lock_next_to_report` leaves a parent alone while its
        // confirmation waits or runs. This arm covers a lease that expired
        // back to the queue between that query and this one.
        JobState::Queued | JobState::Running => return Ok(ConfirmStep::Waiting { benchmarks }),
        JobState::Ingesting | JobState::Reported => {
            compare_confirmation(state, tx, task, base_sha, job, judged).await?
        }
        JobState::Failed => Confirmation::NotRun {
            reason: format!("the confirmation run failed: {}.", quoted_error(job)),
        },
        JobState::Cancelled => Confirmation::NotRun {
            reason: format!("the confirmation run was cancelled: {}.", quoted_error(job)),
        },
        JobState::Superseded => Confirmation::NotRun {
            reason: "a newer push replaced the head before the confirmation ran.".to_owned(),
        },
    };
    confirm_jobs::close_confirm_job(&mut *tx, job.id).await?;
    Ok(ConfirmStep::Ready(Some(confirmation)))
}

/// Compares the confirmation's report and decides each flagged row. A
/// report that cannot be compared leaves the regressions unconfirmed,
/// with the reason.
async fn compare_confirmation(
    state: &AppState,
    tx: &mut PgConnection,
    task: &ReportTask,
    base_sha: &str,
    job: &ConfirmJob,
    judged: &Comparison,
) -> anyhow::Result<Confirmation> {
    let Some(report) = job_reports::latest_job_report(&mut *tx, job.id).await? else {
        return Ok(not_confirmed("the confirmation run sent no report."));
    };
    if report.error.is_some() {
        let error = first_line(report.error.as_deref().unwrap_or_default());
        return Ok(not_confirmed(format!(
            "the confirmation run failed: {error}."
        )));
    }
    let files = job_reports::load_report_files(&mut *tx, report.id).await?;
    let compared = parse_report(&files, report.benchmarks_json.as_deref())
        .and_then(|parsed| parsed.compare(base_sha, &task.head_sha));
    let mut second = match compared {
        Ok(second) => second,
        Err(error) => {
            let error = first_line(&format!("{error:#}"));
            return Ok(not_confirmed(format!(
                "pitot could not compare the confirmation run's results: {error}."
            )));
        }
    };

    assess_like(judged, &mut second)?;

    let rounds = job
        .rounds
        .and_then(|rounds| u32::try_from(rounds).ok())
        .unwrap_or(state.config.confirm.rounds);
    let run_url = crate::reporter::run_url(state, job.id);
    Ok(Confirmation::Ran(ConfirmationRun::decide(
        judged, &second, rounds, run_url,
    )))
}

fn not_run(reason: impl Into<String>) -> ConfirmStep {
    ConfirmStep::Ready(Some(not_confirmed(reason)))
}

fn not_confirmed(reason: impl Into<String>) -> Confirmation {
    Confirmation::NotRun {
        reason: reason.into(),
    }
}

/// Returns the job's error as a code span, or a placeholder.
fn quoted_error(job: &ConfirmJob) -> String {
    match job.error.as_deref() {
        Some(error) => first_line(error),
        None => "no reason was recorded".to_owned(),
    }
}

/// Returns the first line of an error, cut to [`MAX_ERROR_CHARS`], in a
/// code span: the text comes from asv and the agent, not from pitot.
fn first_line(error: &str) -> String {
    let line = error
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches('.');
    let cut: String = line.chars().take(MAX_ERROR_CHARS).collect();
    pitot_report::code_span(&cut)
}

/// Returns an `asv continuous --bench` regular expression that matches
/// exactly the given benchmark names. asv applies `re.search` to each
/// benchmark's full name, so the alternatives are anchored at both ends and
/// every character that Python's `re` treats as syntax is escaped.
pub(crate) fn bench_regex<'a>(benchmarks: impl IntoIterator<Item = &'a &'a str>) -> String {
    let alternatives: Vec<String> = benchmarks
        .into_iter()
        .map(|name| escape_regex(name))
        .collect();
    format!("^(?:{})$", alternatives.join("|"))
}

/// Escapes the characters that Python's `re` gives a meaning, as
/// `re.escape` does for the ASCII ones.
fn escape_regex(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for character in name.chars() {
        if "\\.^$*+?{}[]|()#&~- \t\n\r\x0b\x0c".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_regex_anchors_and_escapes() {
        let names = [
            "benchmarks.time_sort",
            "suite.Time.time_x[1](2)",
            "a|b",
            "c$d^e*f+g?h{1}",
        ];

        let regex = bench_regex(&names);

        assert_eq!(
            regex,
            r"^(?:benchmarks\.time_sort|suite\.Time\.time_x\[1\]\(2\)|a\|b|c\$d\^e\*f\+g\?h\{1\})$"
        );
    }

    #[test]
    fn escape_regex_keeps_word_characters() {
        assert_eq!(escape_regex("time_sort_2"), "time_sort_2");
        assert_eq!(escape_regex("a b"), r"a\ b");
        assert_eq!(escape_regex(r"back\slash"), r"back\\slash");
    }
}
