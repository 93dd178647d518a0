//! The command worker: carries out the `/pitot` commands that the webhook
//! recorded from pull request comments.
//!
//! Each command is handled in one transaction that locks its row. The job
//! it queues or cancels and the command's end state commit together, after
//! GitHub has the reaction or the reply. The quarantine that `/pitot
//! quarantine` sets or `/pitot unquarantine` lifts commits with them too.
//! When a GitHub call fails, the transaction rolls back and the command
//! waits for a later try.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use pitot_github::{GitHubClient, Reaction, COMMAND_USAGE};
use chrono::Utc;
use pitot_store::commands::{self, PendingCommand};
use pitot_store::quarantines;
use pitot_store::jobs::{self, JobState, NewPullRequestJob};
use sqlx::PgConnection;
use tokio::sync::Notify;

use crate::quarantines::QuarantineRequest;
use crate::state::AppState;
use crate::webhook::{enqueue_job, job_backend};

/// Failed tries after which a command is given up; with the waits between
/// them, about half an hour.
pub const MAX_COMMAND_FAILURES: i32 = 8;

/// How often the worker looks for commands without being woken.
const SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// Wakes the command worker; cheap to clone.
#[derive(Clone, Default)]
pub struct CommandsWake {
    notify: Arc<Notify>,
}

impl CommandsWake {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// Runs the command worker until the state's shutdown token is cancelled.
pub async fn run_commands(state: AppState) {
    loop {
        if let Err(error) = process_pending(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "carrying out pull request commands failed; retrying in {} seconds",
                SCAN_INTERVAL.as_secs()
            );
        }
        // Published releases also wait for GitHub calls before they become
        // jobs, so the same loop resolves them.
        if let Err(error) = crate::releases::process_pending_releases(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "resolving published releases failed; retrying in {} seconds",
                SCAN_INTERVAL.as_secs()
            );
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = state.commands_wake.notify.notified() => {}
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
    }
}

/// Carries out every pending command that is not waiting for a retry and
/// returns how many were done. Tests call it to run the worker once.
pub async fn process_pending(state: &AppState) -> anyhow::Result<usize> {
    let mut done = 0;
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the command's transaction")?;
        let Some(command) = commands::lock_next_command(&mut *tx).await? else {
            break;
        };
        match carry_out(state, &mut tx, &command).await {
            Ok(job_id) => {
                commands::finish_command(&mut *tx, command.id, job_id).await?;
                tx.commit().await.context("failed to commit the command")?;
                tracing::info!(
                    command_id = command.id,
                    command = command.command.as_deref().unwrap_or("malformed"),
                    repo = %command.repository,
                    pr = command.pr_number,
                    job_id,
                    "carried out a pull request command"
                );
                done += 1;
            }
            Err(error) => {
                // Undo the job change; the retry makes it again.
                drop(tx);
                let failures = command.failures + 1;
                let give_up = failures >= MAX_COMMAND_FAILURES;
                let wait = retry_wait(failures);
                tracing::warn!(
                    command_id = command.id,
                    repo = %command.repository,
                    pr = command.pr_number,
                    comment_id = command.comment_id,
                    failures,
                    give_up,
                    error = format!("{error:#}"),
                    "failed to carry out a pull request command"
                );
                commands::record_command_failure(
                    &state.pool,
                    command.id,
                    &format!("{error:#}"),
                    wait.as_secs_f64(),
                    give_up,
                )
                .await?;
            }
        }
    }
    Ok(done)
}

/// Returns the wait after the `failures`-th failed try: 10 s, doubling, at
/// most 10 minutes.
fn retry_wait(failures: i32) -> Duration {
    let exponent = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(0)
        .min(6);
    Duration::from_secs(10 * 2_u64.pow(exponent)).min(Duration::from_secs(600))
}

/// The response pitot writes on the pull request for a command.
enum Response {
    React(Reaction),
    /// A reply to the command's author, without the leading mention.
    Reply(String),
}

/// Carries out the command, writes the response to GitHub, and returns the
/// job it queued, if any.
async fn carry_out(
    state: &AppState,
    conn: &mut PgConnection,
    command: &PendingCommand,
) -> anyhow::Result<Option<i64>> {
    let github = installation_client(state, command)?;
    let repo = command.repository.as_str();
    let number = u64::try_from(command.pr_number).context("pull request number out of range")?;
    let comment_id = u64::try_from(command.comment_id).context("comment id out of range")?;

    let (response, job_id) = act(state, conn, &github, command, number).await?;
    match response {
        Response::React(reaction) => github.react_to_comment(repo, comment_id, reaction).await?,
        Response::Reply(text) => {
            let body = format!("@{}: {text}", command.author);
            let marker = pitot_github::reply_marker(repo, comment_id);
            github
                .reply_on_pull_request(repo, number, &marker, &body)
                .await?;
        }
    }
    Ok(job_id)
}

/// Changes the pull request's jobs as the command requests and returns the
/// response for GitHub and the job queued, if any.
async fn act(
    state: &AppState,
    conn: &mut PgConnection,
    github: &GitHubClient,
    command: &PendingCommand,
    number: u64,
) -> anyhow::Result<(Response, Option<i64>)> {
    let Some(name) = command.command.as_deref() else {
        let problem = command
            .problem
            .as_deref()
            .unwrap_or("the command could not be read");
        return Ok((
            Response::Reply(format!("{problem}.\n\n{COMMAND_USAGE}")),
            None,
        ));
    };
    match name {
        "quarantine" => return Ok((quarantine(conn, command).await?, None)),
        "unquarantine" => return Ok((unquarantine(conn, command).await?, None)),
        _ => {}
    }
    let (head_sha, base_ref, bench) = match name {
        "cancel" => {
            let reason = format!("@{} cancelled it with /pitot cancel", command.author);
            jobs::cancel_pull_request_jobs(
                &mut *conn,
                command.repository_id,
                command.pr_number,
                &reason,
            )
            .await?;
            return Ok((Response::React(Reaction::ThumbsUp), None));
        }
        "run" => {
            let pull = github.pull_request(&command.repository, number).await?;
            if pull.state != "open" {
                let text = format!(
                    "pull request #{number} is {}, so pitot did not benchmark it. Reopen it first.",
                    pull.state
                );
                return Ok((Response::Reply(text), None));
            }
            (pull.head_sha, pull.base_ref, command.bench.clone())
        }
        "rerun" => {
            let latest =
                jobs::latest_pull_request_job(&mut *conn, command.repository_id, command.pr_number)
                    .await?;
            let Some(latest) = latest else {
                let text = "pitot has not benchmarked this pull request yet, so there is nothing to run again. \
                            Use `/pitot run`.";
                return Ok((Response::Reply(text.to_owned()), None));
            };
            (latest.head_sha, latest.base_ref, latest.bench)
        }
        other => return Err(anyhow!("unknown stored command {other:?}")),
    };
    match queue(state, conn, command, &head_sha, &base_ref, bench.as_deref()).await? {
        Some(job_id) => Ok((Response::React(Reaction::Rocket), Some(job_id))),
        None => {
            let text = "the last run's head is no longer the pull request's head, so pitot did not run it \
                        again. Use `/pitot run` for the current head.";
            Ok((Response::Reply(text.to_owned()), None))
        }
    }
}

/// Sets the quarantine that a `/pitot quarantine` command requests,
/// recorded as set by `github:<author>`. An invalid request, such as a last day in the
/// past, gets a reply that names the problem.
async fn quarantine(conn: &mut PgConnection, command: &PendingCommand) -> anyhow::Result<Response> {
    let (Some(benchmark), Some(kind), Some(reason)) = (
        command.quarantine_benchmark.as_deref(),
        command.quarantine_kind.as_deref(),
        command.quarantine_reason.as_deref(),
    ) else {
        return Err(anyhow!("quarantine command {} lacks its arguments", command.id));
    };
    let expires_at = command.quarantine_until.map(crate::quarantines::expiry_after);
    let request = match QuarantineRequest::parse(benchmark, kind, reason, expires_at, Utc::now()) {
        Ok(request) => request,
        Err(error) => return Ok(Response::Reply(format!("{error}.\n\n{COMMAND_USAGE}"))),
    };
    let created_by = format!("github:{}", command.author);
    crate::quarantines::set(conn, command.repository_id, &request, &created_by).await?;
    Ok(Response::React(Reaction::ThumbsUp))
}

/// Lifts the quarantine a `/pitot unquarantine` command names, or replies
/// that the benchmark has none.
async fn unquarantine(
    conn: &mut PgConnection,
    command: &PendingCommand,
) -> anyhow::Result<Response> {
    let benchmark = command
        .quarantine_benchmark
        .as_deref()
        .ok_or_else(|| anyhow!("unquarantine command {} lacks its benchmark", command.id))?;
    let lifted_by = format!("github:{}", command.author);
    let lifted =
        quarantines::lift_quarantine(&mut *conn, command.repository_id, benchmark, &lifted_by)
            .await?;
    if lifted.is_some() {
        return Ok(Response::React(Reaction::ThumbsUp));
    }
    Ok(Response::Reply(format!(
        "benchmark {} has no active quarantine, so there is nothing to lift.",
        pitot_report::code_span(benchmark)
    )))
}

/// Queues the head's job, or finds it queued or running. Returns `None`
/// when the head's job was superseded by a push, which cannot run again.
async fn queue(
    state: &AppState,
    conn: &mut PgConnection,
    command: &PendingCommand,
    head_sha: &str,
    base_ref: &str,
    bench: Option<&str>,
) -> anyhow::Result<Option<i64>> {
    let head_fetch_ref = format!("refs/pull/{}/head", command.pr_number);
    let job = NewPullRequestJob {
        repository_id: command.repository_id,
        pr_number: command.pr_number,
        head_sha,
        base_ref,
        clone_url: &command.clone_url,
        head_fetch_ref: Some(&head_fetch_ref),
        installation_id: command.installation_id,
        max_attempts: state.config.jobs.max_attempts,
        bench,
        backend: job_backend(state, &command.repository),
        // The comment's event is not kept, so the dispatcher reads an
        // Actions job's default branch from GitHub.
        dispatch_ref: None,
    };
    let (_, job_id, job_state) = enqueue_job(conn, &job)
        .await
        .map_err(|error| anyhow!("failed to queue the job: {error}"))?;
    Ok((job_state != JobState::Superseded).then_some(job_id))
}

fn installation_client(state: &AppState, command: &PendingCommand) -> anyhow::Result<GitHubClient> {
    let github = state
        .github
        .as_ref()
        .context("pitot has no GitHub credentials, so it cannot act on pull request commands; configure the GitHub App")?;
    if !github.supports_check_runs() {
        return Ok(github.clone());
    }
    let installation = command.installation_id.ok_or_else(|| {
        anyhow!(
            "command {} has no GitHub App installation id; its webhook came without one",
            command.id
        )
    })?;
    let installation = u64::try_from(installation).context("installation id out of range")?;
    Ok(github.for_installation(installation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_double_up_to_ten_minutes() {
        let waits: Vec<u64> = (1..=9)
            .map(|failures| retry_wait(failures).as_secs())
            .collect();

        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 600, 600, 600]);
    }
}
