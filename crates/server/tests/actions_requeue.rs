//! A GitHub Actions job that is cancelled and queued again before the
//! Actions worker's cancel step reached its run, through the real router,
//! a real database and the GitHub stand-in. The worker's steps are called
//! one at a time, so the order of events is exact.

mod common;

use common::*;
use pitot_github_stub::{GitHubStub, RequestMatch, TEST_INSTALLATION_ID};
use pitot_server::actions::{cancel_runs, dispatch_queued};
use pitot_server::config::{BackendKind, RepositoryConfig};
use serde_json::json;
use sqlx::PgPool;

const REPOSITORY: &str = "Codertocat/Hello-World";
const MERGE_BASE: &str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e";

#[sqlx::test(migrations = "../../migrations")]
async fn requeued_job_cancels_its_earlier_run(pool: PgPool) {
    let stub = GitHubStub::start().await;
    stub.set_merge_base(REPOSITORY, MERGE_BASE);
    let app = app_with_github_config(pool, &stub, |config| {
        config.repositories.push(RepositoryConfig {
            name: REPOSITORY.to_owned(),
            backend: BackendKind::Actions,
            ..RepositoryConfig::default()
        });
    });
    let mut labeled = pull_request("labeled");
    labeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    let mut unlabeled = pull_request("unlabeled");
    unlabeled["installation"] = json!({ "id": TEST_INSTALLATION_ID });
    app.deliver("pull_request", "d-label", &labeled).await;
    let first_round = dispatch_queued(&app.state).await.expect("dispatch round");
    let first_run = stub.workflow_runs(REPOSITORY)[0].id;

    let cancelled = app.deliver("pull_request", "d-unlabel", &unlabeled).await;
    let requeued = app.deliver("pull_request", "d-label-again", &labeled).await;
    let second_round = dispatch_queued(&app.state).await.expect("dispatch round");
    let left_to_cancel = cancel_runs(&app.state).await.expect("cancel round");

    assert_eq!(first_round, 1);
    assert_eq!(cancelled["outcome"], "jobs_cancelled");
    assert_eq!(requeued["outcome"], "job_requeued");
    assert_eq!(second_round, 1);
    let cancel_path = format!("/repos/{REPOSITORY}/actions/runs/{first_run}/cancel");
    let cancels = stub.requests_matching(&RequestMatch::post(&cancel_path));
    assert_eq!(cancels.len(), 1, "the earlier run was not cancelled once");
    let runs = stub.workflow_runs(REPOSITORY);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].conclusion.as_deref(), Some("cancelled"));
    assert_eq!(runs[1].conclusion, None, "the new run goes on");
    assert_eq!(left_to_cancel, 0);
    let stale: Option<i64> = sqlx::query_scalar("SELECT stale_workflow_run_id FROM jobs")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stale, None);
}
