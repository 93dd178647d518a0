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

/// Records a delivery and returns its row id, or `None` when a delivery with
/// the same id was recorded before (a redelivery).
///
/// Call it first in the delivery's transaction: a concurrent copy of the
/// same delivery waits here until the first commits and then gets `None`,
/// so only one copy ever acts.
pub async fn insert_delivery(
    executor: impl PgExecutor<'_>,
    delivery: &NewDelivery<'_>,
) -> Result<Option<i64>, StoreError> {
    let id = sqlx::query_scalar!(
        r#"
        INSERT INTO deliveries (delivery_id, event, action, repository, pr_number)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (delivery_id) DO NOTHING
        RETURNING id
        "#,
        delivery.delivery_id,
        delivery.event,
        delivery.action,
        delivery.repository,
        delivery.pr_number,
    )
    .fetch_optional(executor)
    .await?;
    Ok(id)
}

/// Records what was done with a delivery and the job it concerned.
pub async fn set_delivery_outcome(
    executor: impl PgExecutor<'_>,
    id: i64,
    outcome: DeliveryOutcome,
    job_id: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE deliveries SET outcome = $2, job_id = $3 WHERE id = $1",
        id,
        outcome.as_str(),
        job_id,
    )
    .execute(executor)
    .await?;
    Ok(())
}
