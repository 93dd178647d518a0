//! Acting on `push` and `release` deliveries: history jobs for the default
//! branch, and the release records that the release worker resolves, from
//! published releases and, where a repository's settings include them,
//! from tag pushes.

use pitot_github::{PushEvent, ReleaseEvent, RepoRef};
use pitot_store::commit_jobs::{self, JobKind, NewCommitJob};
use pitot_store::deliveries::DeliveryOutcome;
use pitot_store::releases::{self, NewRelease};
use pitot_store::{pull_requests, RepoName};
use sqlx::PgConnection;

use crate::config::HistoryMode;
use crate::error::AppError;
use crate::state::AppState;

/// The maximum number of queued history jobs of one repository. A push beyond it
/// supersedes the oldest queued one, so a burst of merges on a slow
/// machine costs a bounded wait instead of a backlog that never drains.
pub const MAX_QUEUED_HISTORY_JOBS: i64 = 10;

/// Queues a history job for a push to the repository's default branch:
/// the pushed head against the branch's commit before the push.
///
/// Nothing is queued for pushes to other branches, branch deletions, or a
/// push that created the default branch (there is no commit before it to
/// compare with). A tag push goes to [`apply_tag_push`].
pub async fn apply_push(
    conn: &mut PgConnection,
    state: &AppState,
    event: &PushEvent,
) -> Result<(DeliveryOutcome, Option<i64>), AppError> {
    if let Some(tag) = event.git_ref.strip_prefix("refs/tags/") {
        let outcome = apply_tag_push(conn, state, event, tag).await?;
        return Ok((outcome, None));
    }
    let settings = state.config.repository(&event.repository.full_name);
    if settings.history != HistoryMode::Push {
        return Ok((DeliveryOutcome::Ignored, None));
    }
    let default_branch = default_branch(&event.repository)?;
    if event.branch() != Some(default_branch) {
        tracing::debug!(git_ref = %event.git_ref, "push is not to the default branch");
        return Ok((DeliveryOutcome::Ignored, None));
    }
    if event.deletes_ref() || event.creates_ref() {
        tracing::info!(
            repo = %event.repository.full_name,
            "push created or deleted the default branch; there is no pair of commits to compare"
        );
        return Ok((DeliveryOutcome::Ignored, None));
    }

    let repository_id = ensure_repository(conn, &event.repository).await?;
    let head_fetch_ref = format!("refs/heads/{default_branch}");
    let job = NewCommitJob {
        repository_id,
        kind: JobKind::History,
        head_sha: &event.after,
        base_sha: &event.before,
        branch: default_branch,
        clone_url: clone_url(&event.repository)?,
        head_fetch_ref: Some(&head_fetch_ref),
        installation_id: event.installation_id,
        max_attempts: state.config.jobs.max_attempts,
        release_tag: None,
        backend: crate::webhook::job_backend(state, &event.repository.full_name),
    };
    let Some(job_id) = commit_jobs::insert_commit_job(&mut *conn, &job)
        .await
        .map_err(|error| bad_commit(error, "push"))?
    else {
        return Ok((DeliveryOutcome::JobUnchanged, None));
    };
    let reason = format!(
        "more than {MAX_QUEUED_HISTORY_JOBS} history jobs were queued for the repository; newer pushes went first"
    );
    commit_jobs::trim_history_queue(&mut *conn, repository_id, MAX_QUEUED_HISTORY_JOBS, &reason)
        .await?;
    Ok((DeliveryOutcome::JobQueued, Some(job_id)))
}

/// Records a published release for the release worker, which resolves its
/// commit and the previous release through GitHub's API.
pub async fn apply_release(
    conn: &mut PgConnection,
    state: &AppState,
    event: &ReleaseEvent,
) -> Result<DeliveryOutcome, AppError> {
    if event.action != "published" || event.draft {
        return Ok(DeliveryOutcome::Ignored);
    }
    let settings = state.config.repository(&event.repository.full_name);
    if !settings.release_reports.on_published() {
        return Ok(DeliveryOutcome::Ignored);
    }
    check_tag_name(&event.tag, "release.tag_name")?;
    let repository_id = ensure_repository(conn, &event.repository).await?;
    let release = NewRelease {
        repository_id,
        tag: &event.tag,
        installation_id: event.installation_id,
        clone_url: clone_url(&event.repository)?,
        default_branch: default_branch(&event.repository)?,
        prerelease: event.prerelease,
        pushed_sha: None,
    };
    record_release(conn, &release).await
}

/// Records a release for a push that created tag `tag`, when the
/// repository's `release_reports` setting includes tag pushes.
///
/// The push's `after` is kept as the release's pushed object. For an
/// annotated tag it is the tag object, not a commit, so the release worker
/// peels it. A push that moved or deleted a tag records nothing. A tag
/// recorded before, by a push or a published release, keeps its one row,
/// so it gets one report.
async fn apply_tag_push(
    conn: &mut PgConnection,
    state: &AppState,
    event: &PushEvent,
    tag: &str,
) -> Result<DeliveryOutcome, AppError> {
    let settings = state.config.repository(&event.repository.full_name);
    if !settings.release_reports.on_tag_push() {
        return Ok(DeliveryOutcome::Ignored);
    }
    if !event.creates_ref() || event.deletes_ref() {
        tracing::info!(
            repo = %event.repository.full_name,
            tag,
            "push moved or deleted a tag; only a new tag starts a release report"
        );
        return Ok(DeliveryOutcome::Ignored);
    }
    check_tag_name(tag, "ref")?;
    let repository_id = ensure_repository(conn, &event.repository).await?;
    let release = NewRelease {
        repository_id,
        tag,
        installation_id: event.installation_id,
        clone_url: clone_url(&event.repository)?,
        default_branch: default_branch(&event.repository)?,
        // A tag carries no pre-release flag; the release worker still
        // treats a tag such as `v2.0rc1` as a pre-release by its version.
        prerelease: false,
        pushed_sha: Some(&event.after),
    };
    record_release(conn, &release).await
}

/// Inserts the release unless its tag is recorded already, and wakes the
/// release worker for a new one.
async fn record_release(
    conn: &mut PgConnection,
    release: &NewRelease<'_>,
) -> Result<DeliveryOutcome, AppError> {
    let inserted = releases::insert_release(&mut *conn, release)
        .await
        .map_err(|error| bad_commit(error, "push"))?;
    if let Some(release_id) = inserted {
        releases::notify_release_recorded(&mut *conn, release_id).await?;
    }
    Ok(DeliveryOutcome::ReleaseRecorded)
}

/// Rejects a tag name that pitot cannot pass to git and GitHub safely.
fn check_tag_name(tag: &str, field: &str) -> Result<(), AppError> {
    if tag.is_empty() || tag.starts_with('-') || tag.len() > 255 {
        return Err(AppError::BadRequest(format!(
            "{field} names tag {tag:?}, which pitot cannot use: expected 1 to 255 bytes not starting with '-'"
        )));
    }
    Ok(())
}

fn default_branch(repository: &RepoRef) -> Result<&str, AppError> {
    repository
        .default_branch
        .as_deref()
        .filter(|branch| !branch.is_empty())
        .ok_or_else(|| {
            AppError::BadRequest("repository.default_branch is missing from the payload".into())
        })
}

fn clone_url(repository: &RepoRef) -> Result<&str, AppError> {
    repository.clone_url.as_deref().ok_or_else(|| {
        AppError::BadRequest("repository.clone_url is missing from the payload".into())
    })
}

async fn ensure_repository(conn: &mut PgConnection, repository: &RepoRef) -> Result<i32, AppError> {
    let name: RepoName =
        repository
            .full_name
            .parse()
            .map_err(|error: pitot_store::InvalidRepoName| {
                AppError::BadRequest(format!("repository.full_name: {error}"))
            })?;
    Ok(pull_requests::ensure_repository(conn, &name).await?)
}

/// Turns a malformed commit hash in the payload into a 400 naming it.
fn bad_commit(error: pitot_store::StoreError, event: &str) -> AppError {
    match error {
        pitot_store::StoreError::InvalidCommit { value, expected } => AppError::BadRequest(
            format!("the {event} payload names commit {value:?}: expected {expected}"),
        ),
        other => other.into(),
    }
}
