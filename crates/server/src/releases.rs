//! The release worker: turns a recorded release (from a `release`
//! `published` delivery or a tag push) into a release job.
//!
//! It resolves the tag to its commit through GitHub's API, because a
//! release's `target_commitish` is often a branch name that has moved on
//! since. A tag push's object is peeled instead, because an annotated
//! tag's push names the tag object, not the commit. Then it finds the
//! previous release by version order, resolves that tag too, and queues a
//! job comparing the two commits. It runs in the command
//! worker's loop, which the release-recorded notification wakes. Each
//! release is handled in one transaction that locks its row; a GitHub
//! failure rolls it back and the release waits for a later try.

use anyhow::{anyhow, Context as _};
use pitot_github::{previous_release, GitHubClient, ReleaseInfo};
use pitot_store::commit_jobs::{self, JobKind, NewCommitJob};
use pitot_store::jobs;
use pitot_store::releases::{self, PendingRelease, ResolvedRelease};
use sqlx::PgConnection;

use crate::state::AppState;

/// Failed tries after which a release is given up.
pub const MAX_RELEASE_FAILURES: i32 = 8;

/// Resolves every pending release that is not waiting for a retry and
/// returns how many were handled. Tests call it to run the worker once.
pub async fn process_pending_releases(state: &AppState) -> anyhow::Result<usize> {
    let mut handled = 0;
    while !state.shutdown.is_cancelled() {
        let mut tx = state
            .pool
            .begin()
            .await
            .context("failed to start the release's transaction")?;
        let Some(release) = releases::lock_next_release(&mut *tx).await? else {
            break;
        };
        match resolve(state, &mut tx, &release).await {
            Ok(job_id) => {
                tx.commit().await.context("failed to commit the release")?;
                tracing::info!(
                    repo = %release.repository,
                    tag = %release.tag,
                    job_id,
                    "release resolved"
                );
                handled += 1;
            }
            Err(error) => {
                drop(tx);
                record_failure(state, &release, &error).await?;
            }
        }
    }
    Ok(handled)
}

/// Finds the release's commit and its predecessor and queues the job.
/// Returns the job's id, or `None` when there is nothing to compare with.
async fn resolve(
    state: &AppState,
    tx: &mut PgConnection,
    release: &PendingRelease,
) -> anyhow::Result<Option<i64>> {
    let client = client_for(state, release)?;
    let repo = release.repository.as_str();
    let sha = release_commit(&client, release).await?;
    let all = earlier_releases(state, &client, repo).await?;
    let Some(previous) = previous_release(&all, &release.tag, release.prerelease) else {
        tracing::info!(
            repo,
            tag = %release.tag,
            "no earlier release by version order (or the tag is not a version); nothing to compare"
        );
        let resolved = ResolvedRelease {
            sha: &sha,
            previous: None,
            job_id: None,
        };
        releases::finish_release(&mut *tx, release.id, &resolved).await?;
        return Ok(None);
    };
    let previous_sha = client
        .commit_of_ref(repo, &previous.tag_name)
        .await
        .with_context(|| format!("failed to resolve tag {} to a commit", previous.tag_name))?;

    let mut job_id = None;
    if previous_sha != sha {
        let head_fetch_ref = format!("refs/tags/{}", release.tag);
        let job = NewCommitJob {
            repository_id: release.repository_id,
            kind: JobKind::Release,
            head_sha: &sha,
            base_sha: &previous_sha,
            branch: &release.default_branch,
            clone_url: &release.clone_url,
            head_fetch_ref: Some(&head_fetch_ref),
            installation_id: release.installation_id,
            max_attempts: state.config.jobs.max_attempts,
            release_tag: Some(&release.tag),
            backend: crate::webhook::job_backend(state, repo),
        };
        job_id = commit_jobs::insert_commit_job(&mut *tx, &job).await?;
        if let Some(job_id) = job_id {
            jobs::notify_job_queued(&mut *tx, job_id).await?;
        }
    }
    let resolved = ResolvedRelease {
        sha: &sha,
        previous: Some((&previous.tag_name, &previous_sha)),
        job_id,
    };
    releases::finish_release(&mut *tx, release.id, &resolved).await?;
    Ok(job_id)
}

/// Returns the release's commit: the pushed object peeled for a tag push,
/// else the tag resolved by name.
async fn release_commit(client: &GitHubClient, release: &PendingRelease) -> anyhow::Result<String> {
    let repo = release.repository.as_str();
    match &release.pushed_sha {
        Some(pushed) => client.peel_tag(repo, pushed).await.with_context(|| {
            format!(
                "failed to peel tag {} (pushed object {pushed}) to a commit",
                release.tag
            )
        }),
        None => client
            .commit_of_ref(repo, &release.tag)
            .await
            .with_context(|| format!("failed to resolve tag {} to a commit", release.tag)),
    }
}

/// Returns the releases to look for the previous one in. A repository
/// whose tag pushes start reports counts every tag as a release, so the
/// previous one is the previous tag by version order. Otherwise only
/// GitHub releases count.
async fn earlier_releases(
    state: &AppState,
    client: &GitHubClient,
    repo: &str,
) -> anyhow::Result<Vec<ReleaseInfo>> {
    if !state.config.repository(repo).release_reports.on_tag_push() {
        return client
            .list_releases(repo)
            .await
            .context("failed to list the repository's releases");
    }
    let tags = client
        .list_tags(repo)
        .await
        .context("failed to list the repository's tags")?;
    Ok(tags
        .into_iter()
        .map(|tag_name| ReleaseInfo {
            tag_name,
            draft: false,
            prerelease: false,
        })
        .collect())
}

fn client_for(state: &AppState, release: &PendingRelease) -> anyhow::Result<GitHubClient> {
    let github = state.github.as_ref().ok_or_else(|| {
        anyhow!(
            "no GitHub credentials are configured, so the release's commits cannot be looked up"
        )
    })?;
    if !github.supports_check_runs() {
        return Ok(github.clone());
    }
    let installation = release.installation_id.ok_or_else(|| {
        anyhow!("the release's webhook came without a GitHub App installation id")
    })?;
    let installation = u64::try_from(installation).context("installation id out of range")?;
    Ok(github.for_installation(installation))
}

/// Records a failed try; the wait doubles from 10 seconds up to 15 minutes.
async fn record_failure(
    state: &AppState,
    release: &PendingRelease,
    error: &anyhow::Error,
) -> anyhow::Result<()> {
    let failures = release.failures + 1;
    let give_up = failures >= MAX_RELEASE_FAILURES;
    let wait = (10.0 * 2f64.powi(release.failures)).min(900.0);
    let text = format!("{error:#}");
    releases::record_release_failure(&state.pool, release.id, &text, wait, give_up).await?;
    if give_up {
        tracing::error!(repo = %release.repository, tag = %release.tag, error = %text, "giving up on the release report");
    } else {
        tracing::warn!(
            repo = %release.repository,
            tag = %release.tag,
            failures,
            error = %text,
            "failed to resolve the release; retrying later"
        );
    }
    Ok(())
}
