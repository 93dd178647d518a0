//! GitHub webhook deliveries, recorded once each by their delivery id.

use sqlx::PgExecutor;

use crate::StoreError;

/// A verified delivery about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery<'a> {
    /// The `X-GitHub-Delivery` header.
    pub delivery_id: &'a str,
    /// The `X-GitHub-Event` header.
    pub event: &'a str,
    pub action: Option<&'a str>,
    /// `owner/name`, when the event is about one repository.
    pub repository: Option<&'a str>,
    pub pr_number: Option<i64>,
}

/// The action pitot took for a delivery, stored in `deliveries.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Nothing to do: another event, another label, or a ping.
    Ignored,
    /// A new job was queued.
    JobQueued,
    /// A finished job of the same head was queued again.
    JobRequeued,
    /// The head's job is already queued or in progress.
    JobUnchanged,
    /// The pull request's queued and running jobs were cancelled.
    JobsCancelled,
    /// A push made the pull request's posted result stale.
    MarkedStale,
    /// An installation or its repository list changed.
    InstallationUpdated,
    /// A comment held a command from a maintainer, recorded for the worker.
    CommandRecorded,
    /// A GitHub Actions run of a job completed; recorded for the collector.
    WorkflowRunCompleted,
    /// A published release was recorded for the release worker.
    ReleaseRecorded,
    /// The delivery waits, with its payload, to be applied by the server's
    /// deferred-delivery worker.
    Deferred,
    /// A deferred delivery that could not be applied after
    /// [`MAX_DEFERRED_ATTEMPTS`] tries. Its payload and error are kept.
    Failed,
}

impl DeliveryOutcome {
    /// Returns the name stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::JobQueued => "job_queued",
            DeliveryOutcome::JobRequeued => "job_requeued",
            DeliveryOutcome::JobUnchanged => "job_unchanged",
            DeliveryOutcome::JobsCancelled => "jobs_cancelled",
            DeliveryOutcome::MarkedStale => "marked_stale",
            DeliveryOutcome::InstallationUpdated => "installation_updated",
            DeliveryOutcome::CommandRecorded => "command_recorded",
            DeliveryOutcome::WorkflowRunCompleted => "workflow_run_completed",
            DeliveryOutcome::ReleaseRecorded => "release_recorded",
            DeliveryOutcome::Deferred => "deferred",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// How many failed tries at applying a deferred delivery, not counting
/// those that found a row still locked, make the server mark it `failed`.
/// The worker tries at most every five seconds, so this takes an hour or
/// more.
pub const MAX_DEFERRED_ATTEMPTS: i32 = 720;

/// The result of [`insert_delivery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The delivery is recorded; its row id.
    New(i64),
    /// A delivery with the same id was recorded before: a redelivery.
    Redelivery,
    /// Nothing was written because an earlier delivery of the same pull
    /// request is deferred. This one must be deferred too, so that the two
    /// are applied in the order GitHub sent them.
    AfterDeferred,
}

/// Records a delivery with what pitot did with it and the job it
/// concerned.
///
/// Call it last in the delivery's transaction, after applying the event,
/// and roll the transaction back unless it returns [`Inserted::New`]. A
/// redelivery of a delivery that `failed` is new: its row is overwritten. A
/// concurrent copy of the same delivery waits on the first copy's row
/// locks or on this row's unique key until the first commits, then gets
/// [`Inserted::Redelivery`], so only one copy's work is kept. The row is
/// written once, with its outcome, because a later `UPDATE` would write a
/// second version of it and of its index entries.
pub async fn insert_delivery(
    executor: impl PgExecutor<'_>,
    delivery: &NewDelivery<'_>,
    outcome: DeliveryOutcome,
    job_id: Option<i64>,
) -> Result<Inserted, StoreError> {
    // The check for a deferred delivery rides in the same statement, so
    // that an idle queue costs no extra round trip.
    let row = sqlx::query!(
        r#"
        WITH waiting AS (
            SELECT EXISTS (
                SELECT 1 FROM deliveries
                WHERE outcome = 'deferred' AND repository = $4 AND pr_number = $5
            ) AS found
        ),
        inserted AS (
            INSERT INTO deliveries (delivery_id, event, action, repository, pr_number, outcome, job_id)
            SELECT $1, $2, $3, $4, $5, $6, $7
            FROM waiting WHERE NOT waiting.found
            ON CONFLICT (delivery_id) DO UPDATE
            SET outcome = EXCLUDED.outcome, job_id = EXCLUDED.job_id, payload = NULL,
                error = NULL, received_at = now()
            WHERE deliveries.outcome = 'failed'
            RETURNING id
        )
        SELECT (SELECT id FROM inserted) AS id, waiting.found AS "after_deferred!"
        FROM waiting
        "#,
        delivery.delivery_id,
        delivery.event,
        delivery.action,
        delivery.repository,
        delivery.pr_number,
        outcome.as_str(),
        job_id,
    )
    .fetch_one(executor)
    .await?;
    Ok(match row.id {
        Some(id) => Inserted::New(id),
        // A redelivery of a deferred delivery is still a redelivery.
        None if row.after_deferred => Inserted::AfterDeferred,
        None => Inserted::Redelivery,
    })
}

/// Records a delivery as deferred, with its JSON payload, and returns its
/// row id, or `None` for a redelivery. `reason` explains why it waits, and
/// `age` is the time since the delivery arrived, so that deliveries are
/// applied in the order they arrived rather than the order they were
/// deferred. A redelivery of a delivery that `failed` is deferred again.
///
/// This statement takes no row lock that a worker could hold, so it does
/// not wait where the delivery's own transaction did.
pub async fn insert_deferred_delivery(
    executor: impl PgExecutor<'_>,
    delivery: &NewDelivery<'_>,
    payload: &[u8],
    reason: &str,
    age: std::time::Duration,
) -> Result<Option<i64>, StoreError> {
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO deliveries (delivery_id, event, action, repository, pr_number, outcome,
                                payload, error, received_at)
        VALUES ($1, $2, $3, $4, $5, 'deferred', $6, $7, now() - make_interval(secs => $8))
        ON CONFLICT (delivery_id) DO UPDATE
        SET outcome = 'deferred', payload = EXCLUDED.payload, error = EXCLUDED.error,
            attempts = 0, received_at = EXCLUDED.received_at
        WHERE deliveries.outcome = 'failed'
        RETURNING id
        "#,
        delivery.delivery_id,
        delivery.event,
        delivery.action,
        delivery.repository,
        delivery.pr_number,
        payload,
        reason,
        age.as_secs_f64(),
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// A deferred delivery, locked for applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredDelivery {
    pub id: i64,
    pub delivery_id: String,
    pub event: String,
    pub payload: Vec<u8>,
    /// The tries made before this one.
    pub attempts: i32,
}

/// Locks the deferred delivery that arrived first, among those that are
/// not in `skip`, arrived more than `settle` ago, and follow no other
/// deferred delivery of the same pull request, and returns it. Hold the
/// transaction while applying it.
///
/// `settle` lets every delivery that arrived earlier finish its own
/// transaction, deferred or not, before a later one is applied.
pub async fn lock_next_deferred(
    conn: &mut sqlx::PgConnection,
    skip: &[i64],
    settle: std::time::Duration,
) -> Result<Option<DeferredDelivery>, StoreError> {
    let row = sqlx::query_as!(
        DeferredDelivery,
        r#"
        SELECT d.id, d.delivery_id, d.event, d.payload AS "payload!", d.attempts
        FROM deliveries d
        WHERE d.outcome = 'deferred'
          AND d.id <> ALL($1)
          AND d.received_at < now() - make_interval(secs => $2)
          AND NOT EXISTS (
              SELECT 1 FROM deliveries earlier
              WHERE earlier.outcome = 'deferred'
                AND earlier.repository = d.repository
                AND earlier.pr_number = d.pr_number
                AND (earlier.received_at, earlier.id) < (d.received_at, d.id)
          )
        ORDER BY d.received_at, d.id
        LIMIT 1
        FOR UPDATE OF d SKIP LOCKED
        "#,
        skip,
        settle.as_secs_f64(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Records what applying a deferred delivery did, and drops its payload.
pub async fn finish_deferred(
    executor: impl PgExecutor<'_>,
    id: i64,
    outcome: DeliveryOutcome,
    job_id: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query!(
        r#"
        UPDATE deliveries
        SET outcome = $2, job_id = $3, payload = NULL, error = NULL, attempts = attempts + 1
        WHERE id = $1 AND outcome = 'deferred'
        "#,
        id,
        outcome.as_str(),
        job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}

/// The kind of failure of a try at applying a deferred delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeferredFailure {
    /// A row lock was still held. That is what the delivery waits for, so
    /// the try does not count towards [`MAX_DEFERRED_ATTEMPTS`].
    Locked,
    /// A failure that may pass, such as a database error.
    Passing,
    /// A failure that every try would repeat: the delivery fails at once.
    Permanent,
}

/// Records a failed try at applying a deferred delivery, and marks it
/// `failed` after a permanent failure or [`MAX_DEFERRED_ATTEMPTS`] counted
/// tries. Returns whether it failed for good.
pub async fn record_deferred_failure(
    executor: impl PgExecutor<'_>,
    id: i64,
    error: &str,
    failure: DeferredFailure,
) -> Result<bool, StoreError> {
    let counted = i32::from(failure != DeferredFailure::Locked);
    let failed = sqlx::query_scalar!(
        r#"
        UPDATE deliveries
        SET attempts = attempts + $4, error = $2,
            outcome = CASE WHEN $5 OR attempts + $4 >= $3 THEN 'failed' ELSE outcome END
        WHERE id = $1 AND outcome = 'deferred'
        RETURNING outcome = 'failed' AS "failed!"
        "#,
        id,
        error,
        MAX_DEFERRED_ATTEMPTS,
        counted,
        failure == DeferredFailure::Permanent,
    )
    .fetch_optional(executor)
    .await?;
    Ok(failed.unwrap_or(false))
}

/// Counts the deliveries that wait to be applied, for the metrics.
pub async fn count_deferred(executor: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM deliveries WHERE outcome = 'deferred'"#
    )
    .fetch_one(executor)
    .await?;
    Ok(count)
}
