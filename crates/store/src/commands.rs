//! Commands from pull request comments, recorded by the webhook and carried
//! out by a worker (see the migration that creates `pull_request_commands`).

use chrono::NaiveDate;
use sqlx::PgExecutor;

use crate::StoreError;

/// The `LISTEN`/`NOTIFY` channel that announces a recorded command. The
/// payload is the command's id.
pub const COMMAND_QUEUED_CHANNEL: &str = "pitot_command_queued";

/// A command about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommand<'a> {
    pub repository_id: i32,
    pub pr_number: i64,
    pub installation_id: Option<i64>,
    pub comment_id: i64,
    pub author: &'a str,
    /// `run`, `rerun`, `cancel`, `quarantine` or `unquarantine`; `None`
    /// for a malformed command.
    pub command: Option<&'a str>,
    pub bench: Option<&'a str>,
    /// The arguments of `quarantine` and `unquarantine`.
    pub quarantine: Option<QuarantineArgs<'a>>,
    /// The reason a malformed command could not be read.
    pub problem: Option<&'a str>,
    pub clone_url: &'a str,
}

/// The arguments of a quarantine command: `kind` and `reason` are `None`
/// for `unquarantine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineArgs<'a> {
    pub benchmark: &'a str,
    pub kind: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// The last day the quarantine holds, in UTC.
    pub until: Option<NaiveDate>,
}

/// A pending command, locked for the worker's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCommand {
    pub id: i64,
    pub repository_id: i32,
    /// The repository's `owner/name`.
    pub repository: String,
    pub pr_number: i64,
    pub installation_id: Option<i64>,
    pub comment_id: i64,
    pub author: String,
    pub command: Option<String>,
    pub bench: Option<String>,
    pub quarantine_benchmark: Option<String>,
    pub quarantine_kind: Option<String>,
    pub quarantine_reason: Option<String>,
    pub quarantine_until: Option<NaiveDate>,
    pub problem: Option<String>,
    pub clone_url: String,
    pub failures: i32,
}

/// Records a command and returns its id, or `None` when its comment was
/// recorded before (the same delivery through a second webhook).
pub async fn insert_command(
    executor: impl PgExecutor<'_>,
    command: &NewCommand<'_>,
) -> Result<Option<i64>, StoreError> {
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO pull_request_commands (repository_id, pr_number, installation_id, comment_id,
                                           author, command, bench, problem, clone_url,
                                           quarantine_benchmark, quarantine_kind,
                                           quarantine_reason, quarantine_until)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (comment_id) DO NOTHING
        RETURNING id
        "#,
        command.repository_id,
        command.pr_number,
        command.installation_id,
        command.comment_id,
        command.author,
        command.command,
        command.bench,
        command.problem,
        command.clone_url,
        command.quarantine.map(|args| args.benchmark),
        command.quarantine.and_then(|args| args.kind),
        command.quarantine.and_then(|args| args.reason),
        command.quarantine.and_then(|args| args.until),
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Sends the command-queued notification when the transaction commits.
pub async fn notify_command_queued(executor: impl PgExecutor<'_>, command_id: i64) -> Result<(), StoreError> {
    sqlx::query!(
        "SELECT pg_notify($1, $2)",
        COMMAND_QUEUED_CHANNEL,
        command_id.to_string()
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Locks the oldest pending command that is not waiting for a retry, for
/// the rest of the caller's transaction; other workers skip it.
pub async fn lock_next_command(executor: impl PgExecutor<'_>) -> Result<Option<PendingCommand>, StoreError> {
    let row = sqlx::query!(
        r#"
        SELECT c.id, c.repository_id, r.name AS repository, c.pr_number, c.installation_id,
               c.comment_id, c.author, c.command, c.bench, c.problem, c.clone_url, c.failures,
               c.quarantine_benchmark, c.quarantine_kind, c.quarantine_reason, c.quarantine_until
        FROM pull_request_commands c
        JOIN repositories r ON r.id = c.repository_id
        WHERE c.state = 'pending' AND (c.retry_after IS NULL OR c.retry_after <= now())
        ORDER BY c.id
        LIMIT 1
        FOR UPDATE OF c SKIP LOCKED
        "#
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| PendingCommand {
        id: row.id,
        repository_id: row.repository_id,
        repository: row.repository,
        pr_number: row.pr_number,
        installation_id: row.installation_id,
        comment_id: row.comment_id,
        author: row.author,
        command: row.command,
        bench: row.bench,
        quarantine_benchmark: row.quarantine_benchmark,
        quarantine_kind: row.quarantine_kind,
        quarantine_reason: row.quarantine_reason,
        quarantine_until: row.quarantine_until,
        problem: row.problem,
        clone_url: row.clone_url,
        failures: row.failures,
    }))
}

/// Marks a command carried out, with the job it queued if any.
pub async fn finish_command(
    executor: impl PgExecutor<'_>,
    command_id: i64,
    job_id: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE pull_request_commands
        SET state = 'done', job_id = $2, error = NULL, finished_at = now()
        WHERE id = $1
        "#,
        command_id,
        job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// Records a failed try: the command waits `retry_in_seconds`, or fails for
/// good when `give_up` is set.
pub async fn record_command_failure(
    executor: impl PgExecutor<'_>,
    command_id: i64,
    error: &str,
    retry_in_seconds: f64,
    give_up: bool,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE pull_request_commands
        SET failures = failures + 1, error = $2,
            retry_after = now() + make_interval(secs => $3),
            state = CASE WHEN $4 THEN 'failed' ELSE state END,
            finished_at = CASE WHEN $4 THEN now() END
        WHERE id = $1
        "#,
        command_id,
        error,
        retry_in_seconds,
        give_up,
    )
    .execute(executor)
    .await?;
    Ok(())
}
