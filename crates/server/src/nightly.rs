//! The nightly history worker, for repositories configured with
//! `history = "nightly"`.
//!
//! Once a day (and once at start-up) it reads from GitHub each such
//! repository's default branch and that branch's newest commit. When the
//! commit has no history job and no stored results, it queues a history job
//! comparing it with its first parent. A day without commits queues
//! nothing, and a restart does not queue a commit twice.

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use pitot_github::GitHubClient;
use pitot_store::commit_jobs::{self, JobKind, NewCommitJob};
use pitot_store::{jobs, pull_requests, RepoName};

use crate::config::{HistoryMode, RepositoryConfig};
use crate::state::AppState;

/// The time between two rounds.
pub const NIGHTLY_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs a round at start-up and then every [`NIGHTLY_INTERVAL`] until the
/// state's shutdown token is cancelled.
pub async fn run_nightly(state: AppState) {
    let mut interval = tokio::time::interval(NIGHTLY_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        queue_nightly(&state).await;
    }
}

/// Queues the newest default-branch commit of every nightly repository that
/// lacks history, and returns the ids of the jobs queued. A repository that
/// fails is logged and skipped until the next round.
pub async fn queue_nightly(state: &AppState) -> Vec<i64> {
    let nightly = state
        .config
        .repositories
        .iter()
        .filter(|repository| repository.history == HistoryMode::Nightly);
    let mut queued = Vec::new();
    for repository in nightly {
        match queue_repository(state, repository).await {
            Ok(Some(job_id)) => queued.push(job_id),
            Ok(None) => {}
            Err(error) => tracing::warn!(
                repo = %repository.name,
                error = format!("{error:#}"),
                "failed to queue the nightly history job; trying again in the next round"
            ),
        }
    }
    queued
}

async fn queue_repository(
    state: &AppState,
    repository: &RepositoryConfig,
) -> anyhow::Result<Option<i64>> {
    let github = state.github.as_ref().ok_or_else(|| {
        anyhow!("no GitHub credentials are configured to read the default branch")
    })?;
    let name: RepoName = repository
        .name
        .parse()
        .with_context(|| format!("repository name {:?}", repository.name))?;
    let mut tx = state
        .pool
        .begin()
        .await
        .context("failed to start the nightly transaction")?;
    let repository_id = pull_requests::ensure_repository(&mut tx, &name).await?;
    let installation_id = commit_jobs::installation_of_repository(&mut *tx, repository_id).await?;
    let client = client_for(github, installation_id)?;

    let info = client
        .repository(&repository.name)
        .await
        .context("failed to read the repository's default branch")?;
    let (head, parent) = client
        .commit_and_parent(&repository.name, &info.default_branch)
        .await
        .context("failed to read the default branch's newest commit")?;
    let Some(parent) = parent else {
        tracing::info!(repo = %repository.name, "the newest commit has no parent to compare with");
        return Ok(None);
    };
    if commit_jobs::commit_has_history(&mut *tx, repository_id, &head).await? {
        return Ok(None);
    }
    let head_fetch_ref = format!("refs/heads/{}", info.default_branch);
    let job = NewCommitJob {
        repository_id,
        kind: JobKind::History,
        head_sha: &head,
        base_sha: &parent,
        branch: &info.default_branch,
        clone_url: &info.clone_url,
        head_fetch_ref: Some(&head_fetch_ref),
        installation_id,
        max_attempts: state.config.jobs.max_attempts,
        release_tag: None,
        backend: crate::webhook::job_backend(state, &repository.name),
    };
    let job_id = commit_jobs::insert_commit_job(&mut *tx, &job).await?;
    if let Some(job_id) = job_id {
        jobs::notify_job_queued(&mut *tx, job_id).await?;
    }
    tx.commit()
        .await
        .context("failed to commit the nightly job")?;
    if let Some(job_id) = job_id {
        tracing::info!(repo = %repository.name, job_id, head_sha = %head, "nightly history job queued");
    }
    Ok(job_id)
}

fn client_for(github: &GitHubClient, installation_id: Option<i64>) -> anyhow::Result<GitHubClient> {
    if !github.supports_check_runs() {
        return Ok(github.clone());
    }
    let installation = installation_id.ok_or_else(|| {
        anyhow!("the GitHub App is not installed on the repository, as far as pitot's installation events tell")
    })?;
    let installation = u64::try_from(installation).context("installation id out of range")?;
    Ok(github.for_installation(installation))
}
