//! Applying a `workflow_run` delivery: a completed run of pitot's workflow
//! is recorded on its job, and the Actions worker downloads the artifact
//! after the response (`crate::actions`).

use pitot_github::{job_id_from_title, WorkflowRunEvent};
use pitot_store::actions_jobs;
use pitot_store::deliveries::DeliveryOutcome;
use sqlx::PgConnection;

use crate::error::AppError;

/// Records the conclusion of a completed run on the job it ran, found by
/// the run's id or else by the job id in its title. The run's
/// `pull_requests` list is never used: GitHub leaves it empty for pull
/// requests from forks.
///
/// Only a dispatch of `workflow`, the repository's configured workflow
/// file, counts: a pull request can add a workflow of its own that gives
/// its runs pitot's title.
pub(super) async fn apply_workflow_run(
    conn: &mut PgConnection,
    event: &WorkflowRunEvent,
    workflow: &str,
) -> Result<(DeliveryOutcome, Option<i64>), AppError> {
    if event.action != "completed" {
        return Ok((DeliveryOutcome::Ignored, None));
    }

    let run = &event.run;
    if !run.is_dispatch_of(workflow) {
        tracing::debug!(
            run_id = run.id,
            run_event = run.event.as_deref(),
            path = run.path.as_deref(),
            workflow,
            "the completed run is not a dispatch of pitot's workflow"
        );
        return Ok((DeliveryOutcome::Ignored, None));
    }
    let named_job_id = run.title().and_then(job_id_from_title);
    let job_id = actions_jobs::find_job_for_run(
        &mut *conn,
        &event.repository.full_name,
        run.id,
        named_job_id,
        run.created_at,
    )
    .await?;
    let Some(job_id) = job_id else {
        tracing::debug!(
            run_id = run.id,
            "the completed run belongs to no running job of the Actions backend"
        );
        return Ok((DeliveryOutcome::Ignored, None));
    };

    // GitHub sends `conclusion` with every completed run; a missing one is
    // treated as a failure rather than left waiting for a poll.
    let conclusion = run.conclusion.as_deref().unwrap_or("unknown");
    if !actions_jobs::record_run_completed(&mut *conn, job_id, run.id, conclusion).await? {
        return Ok((DeliveryOutcome::Ignored, Some(job_id)));
    }
    tracing::info!(
        job_id,
        run_id = run.id,
        conclusion,
        "workflow run completed"
    );
    Ok((DeliveryOutcome::WorkflowRunCompleted, Some(job_id)))
}
