//! Confirmation jobs in the queue: pinned to the parent's machine, one per
//! run of the parent, holding the parent back from the reporter, and
//! superseded or cancelled with the pull request's own jobs.

mod common;

use common::sha;
use pitot_store::actions_jobs::Backend;
use pitot_store::commit_jobs::{lock_next_commit_job, JobKind};
use pitot_store::confirm_jobs::{self, NewConfirmJob};
use pitot_store::jobs::{self, JobState, NewPullRequestJob};
use pitot_store::reporting;
use sqlx::PgPool;

const PR: i64 = 7;
const MACHINE: &str = "bench-1";
const BENCH: &str = r"^(?:benchmarks\.time_sort)$";

/// A pull request job that an agent on [`MACHINE`] ran and reported, as
/// the reporter finds it: the parent of a confirmation.
struct Parent {
    id: i64,
    attempt: i32,
    base_sha: String,
}

async fn repository(pool: &PgPool) -> i32 {
    sqlx::query_scalar("INSERT INTO repositories (name) VALUES ('owner/name') RETURNING id")
        .fetch_one(pool)
        .await
        .expect("repository inserted")
}

#[track_caller]
fn pull_request_job(repository_id: i32, head_sha: &str) -> NewPullRequestJob<'_> {
    NewPullRequestJob {
        repository_id,
        pr_number: PR,
        head_sha,
        base_ref: "main",
        clone_url: "https://github.com/owner/name.git",
        head_fetch_ref: Some("refs/pull/7/head"),
        installation_id: Some(3),
        max_attempts: 3,
        bench: None,
        backend: Backend::Agent,
        dispatch_ref: None,
    }
}

/// Queues, claims on [`MACHINE`] and reports a pull request job for `head_sha`.
async fn reported_parent(pool: &PgPool, repository_id: i32, head_sha: &str) -> Parent {
    let id = jobs::insert_pull_request_job(pool, &pull_request_job(repository_id, head_sha))
        .await
        .expect("insert works")
        .expect("a new job");
    let claimed = jobs::claim_next_job(pool, "agent-1", MACHINE, 60.0)
        .await
        .expect("claim works")
        .expect("the parent is claimed");
    assert_eq!(claimed.id, id);
    let base_sha = sha(1);
    jobs::mark_job_ingesting(pool, id, claimed.attempt, Some(&base_sha), None)
        .await
        .expect("mark works")
        .expect("the parent was running");
    Parent {
        id,
        attempt: claimed.attempt,
        base_sha,
    }
}

fn confirm_job(parent: &Parent) -> NewConfirmJob<'_> {
    NewConfirmJob {
        parent_job_id: parent.id,
        parent_attempt: parent.attempt,
        base_sha: &parent.base_sha,
        bench: BENCH,
        rounds: 6,
        machine: MACHINE,
        max_attempts: 3,
    }
}

async fn queue_confirmation(pool: &PgPool, parent: &Parent) -> i64 {
    confirm_jobs::insert_confirm_job(pool, &confirm_job(parent))
        .await
        .expect("insert works")
        .expect("a new confirmation")
}

async fn state_of(pool: &PgPool, job_id: i64) -> JobState {
    jobs::job_status(pool, job_id)
        .await
        .expect("status works")
        .expect("the job exists")
        .state
}

#[sqlx::test(migrations = "../../migrations")]
async fn confirmation_claimed_only_on_parent_machine(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let confirm_id = queue_confirmation(&pool, &parent).await;

    let other_machine = jobs::claim_next_job(&pool, "agent-2", "bench-2", 60.0)
        .await
        .unwrap();
    let queued_for_other = jobs::agent_job_queued(&pool, "bench-2").await.unwrap();
    let queued_for_parent = jobs::agent_job_queued(&pool, MACHINE).await.unwrap();
    let same_machine = jobs::claim_next_job(&pool, "agent-1", MACHINE, 60.0)
        .await
        .unwrap();

    assert_eq!(
        other_machine, None,
        "another machine must not run the confirmation"
    );
    assert!(
        !queued_for_other,
        "another machine's agent must not look again for it"
    );
    assert!(queued_for_parent);
    let claimed = same_machine.expect("the parent's machine claims the confirmation");
    assert_eq!(claimed.id, confirm_id);
    assert_eq!(claimed.kind, JobKind::Confirm);
    assert_eq!(claimed.pr_number, None);
    assert_eq!(claimed.head_sha, sha(2));
    assert_eq!(claimed.base_sha.as_deref(), Some(parent.base_sha.as_str()));
    assert_eq!(claimed.bench.as_deref(), Some(BENCH));
    assert_eq!(claimed.rounds, Some(6));
}

#[sqlx::test(migrations = "../../migrations")]
async fn one_confirmation_per_parent_run(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let first = queue_confirmation(&pool, &parent).await;

    let again = confirm_jobs::insert_confirm_job(&pool, &confirm_job(&parent))
        .await
        .unwrap();
    let found = confirm_jobs::confirmation_of(&pool, parent.id, parent.attempt)
        .await
        .unwrap();
    let later_run = Parent {
        attempt: parent.attempt + 1,
        ..parent
    };
    let for_later_run = confirm_jobs::insert_confirm_job(&pool, &confirm_job(&later_run))
        .await
        .unwrap();
    let none_yet = confirm_jobs::confirmation_of(&pool, later_run.id, later_run.attempt + 1)
        .await
        .unwrap();

    assert_eq!(again, None, "a retry must not queue a second confirmation");
    let found = found.expect("the confirmation is found by its parent's run");
    assert_eq!(found.id, first);
    assert_eq!(found.state, JobState::Queued);
    assert_eq!(found.rounds, Some(6));
    assert!(
        for_later_run.is_some_and(|id| id != first),
        "a new run gets its own"
    );
    assert_eq!(none_yet, None);
}

#[sqlx::test(migrations = "../../migrations")]
async fn parent_waits_while_confirmation_runs(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let confirm_id = queue_confirmation(&pool, &parent).await;

    let while_queued = reporting::lock_next_to_report(&pool, &[], 600.0).await.unwrap();
    let claimed = jobs::claim_next_job(&pool, "agent-1", MACHINE, 60.0)
        .await
        .unwrap()
        .unwrap();
    let while_running = reporting::lock_next_to_report(&pool, &[], 600.0).await.unwrap();
    jobs::mark_job_ingesting(
        &pool,
        confirm_id,
        claimed.attempt,
        Some(&parent.base_sha),
        None,
    )
    .await
    .unwrap()
    .expect("the confirmation was running");
    let commit_reporter = lock_next_commit_job(&pool, &[]).await.unwrap();
    let after_report = reporting::lock_next_to_report(&pool, &[], 600.0).await.unwrap();

    assert_eq!(
        while_queued, None,
        "the parent waits for its queued confirmation"
    );
    assert_eq!(
        while_running, None,
        "the parent waits for its running confirmation"
    );
    assert_eq!(
        commit_reporter, None,
        "the history reporter leaves confirmations alone"
    );
    let task = after_report.expect("the parent is reported once the confirmation reported");
    assert_eq!(task.job_id, parent.id);
    assert_eq!(task.machine.as_deref(), Some(MACHINE));
    assert!(!task.on_actions);
}

#[sqlx::test(migrations = "../../migrations")]
async fn closing_confirmation_marks_it_reported(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let confirm_id = queue_confirmation(&pool, &parent).await;
    let claimed = jobs::claim_next_job(&pool, "agent-1", MACHINE, 60.0)
        .await
        .unwrap()
        .unwrap();
    jobs::mark_job_ingesting(&pool, confirm_id, claimed.attempt, None, None)
        .await
        .unwrap()
        .expect("the confirmation was running");

    confirm_jobs::close_confirm_job(&pool, confirm_id)
        .await
        .unwrap();

    assert_eq!(state_of(&pool, confirm_id).await, JobState::Reported);
    let outcome = reporting::job_outcome(&pool, confirm_id)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.reported);
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_supersedes_stale_confirmation(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let confirm_id = queue_confirmation(&pool, &parent).await;

    let superseded = jobs::supersede_other_heads(
        &pool,
        repository_id,
        PR,
        &sha(3),
        false,
        "a push replaced the head",
    )
    .await
    .unwrap();
    let claimed = jobs::claim_next_job(&pool, "agent-1", MACHINE, 60.0)
        .await
        .unwrap();
    let parent_task = reporting::lock_next_to_report(&pool, &[], 600.0).await.unwrap();

    assert_eq!(superseded, vec![confirm_id]);
    assert_eq!(state_of(&pool, confirm_id).await, JobState::Superseded);
    assert_eq!(
        claimed, None,
        "a confirmation of a stale head must not start"
    );
    assert_eq!(state_of(&pool, parent.id).await, JobState::Ingesting);
    let task = parent_task.expect("the parent is reported without its confirmation");
    assert_eq!(task.job_id, parent.id);
}

#[sqlx::test(migrations = "../../migrations")]
async fn push_to_same_head_keeps_confirmation(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let confirm_id = queue_confirmation(&pool, &parent).await;

    let superseded = jobs::supersede_other_heads(
        &pool,
        repository_id,
        PR,
        &sha(2),
        true,
        "a push replaced the head",
    )
    .await
    .unwrap();

    assert!(superseded.is_empty(), "{superseded:?}");
    assert_eq!(state_of(&pool, confirm_id).await, JobState::Queued);
}

#[sqlx::test(migrations = "../../migrations")]
async fn closing_pull_request_cancels_confirmation(pool: PgPool) {
    let repository_id = repository(&pool).await;
    let parent = reported_parent(&pool, repository_id, &sha(2)).await;
    let confirm_id = queue_confirmation(&pool, &parent).await;
    jobs::claim_next_job(&pool, "agent-1", MACHINE, 60.0)
        .await
        .unwrap()
        .unwrap();

    let cancelled =
        jobs::cancel_pull_request_jobs(&pool, repository_id, PR, "the pull request was closed")
            .await
            .unwrap();

    assert_eq!(cancelled, vec![confirm_id]);
    assert_eq!(state_of(&pool, confirm_id).await, JobState::Cancelled);
    assert_eq!(state_of(&pool, parent.id).await, JobState::Ingesting);
}

#[sqlx::test(migrations = "../../migrations")]
async fn confirmation_needs_parent(pool: PgPool) {
    let repository_id = repository(&pool).await;

    let inserted = sqlx::query(
        "INSERT INTO jobs (repository_id, kind, head_sha, base_sha, base_ref, clone_url, attempt_limit)
         VALUES ($1, 'confirm', $2, $3, 'main', 'https://example.invalid/r.git', 3)",
    )
    .bind(repository_id)
    .bind(sha(2))
    .bind(sha(1))
    .execute(&pool)
    .await;

    let error = inserted.expect_err("a confirmation without a parent is rejected");
    let constraint = error
        .as_database_error()
        .and_then(|error| error.constraint())
        .map(str::to_owned);
    assert_eq!(constraint.as_deref(), Some("jobs_confirm_has_parent"));
}
