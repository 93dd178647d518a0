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
        }
    }
}

/// Records a delivery with what pitot did with it and the job it
/// concerned, and returns its row id, or `None` when a delivery with the
/// same id was recorded before (a redelivery).
///
/// Call it last in the delivery's transaction, after applying the event,
/// and roll the transaction back on `None`. A concurrent copy of the same
/// delivery waits on the first copy's row locks or on this row's unique
/// key until the first commits, then gets `None`, so only one copy's work
/// is kept. The row is written once, with its outcome, because a later
/// `UPDATE` would write a second version of it and of its index entries.
pub async fn insert_delivery(
    executor: impl PgExecutor<'_>,
    delivery: &NewDelivery<'_>,
    outcome: DeliveryOutcome,
    job_id: Option<i64>,
) -> Result<Option<i64>, StoreError> {
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO deliveries (delivery_id, event, action, repository, pr_number, outcome, job_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (delivery_id) DO NOTHING
        RETURNING id
        "#,
        delivery.delivery_id,
        delivery.event,
        delivery.action,
        delivery.repository,
        delivery.pr_number,
        outcome.as_str(),
        job_id,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}
