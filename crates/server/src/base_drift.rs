//! Reads how a pull request's target branch moved on since a run's
//! merge-base, for the warning in the comment and the check run summary.
//!
//! The reporter calls GitHub's compare API once per comment it writes. The
//! warning is optional, so the call gets one try: when it fails, the
//! failure is logged and the comment is written without the warning.
//! pitot's own record of pushes covers only default branches whose
//! repository has push history on, so GitHub is the source that covers
//! every target branch.

use pitot_report::BaseDrift;
use pitot_store::reporting::ReportTask;

use crate::state::AppState;

/// Returns how the job's target branch moved on since `base_sha`, or `None`
/// without GitHub credentials or when GitHub could not tell.
pub(crate) async fn base_drift(
    state: &AppState,
    task: &ReportTask,
    base_sha: &str,
) -> Option<BaseDrift> {
    let github = state.github.as_ref()?;
    let read = async {
        let client = crate::reporter::installation_client(github, task)?;
        let drift = client
            .branch_drift(&task.repository, &task.base_ref, base_sha)
            .await?;
        anyhow::Ok(drift)
    };
    match read.await {
        Ok(drift) => Some(BaseDrift {
            branch: task.base_ref.clone(),
            new_commits: drift.new_commits,
            contains_base: drift.contains_commit,
        }),
        Err(error) => {
            tracing::warn!(
                job_id = task.job_id,
                repo = %task.repository,
                pr = task.pr_number,
                branch = %task.base_ref,
                error = format!("{error:#}"),
                "failed to read how the target branch moved on since the run's base; \
                 the comment has no warning about it"
            );
            None
        }
    }
}
