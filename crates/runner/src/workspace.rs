//! The agent's git checkouts: one folder per repository, kept between jobs
//! so that each fetch only brings new commits.

use std::path::PathBuf;
use std::time::Duration;

use crate::api::ClaimedJob;
use crate::git::{redact_url, Git};
use crate::process::CommandError;
use crate::joblog::JobLog;
use crate::process::StopSignal;

/// The remote-tracking namespace the base branch is fetched into.
const BASE_NAMESPACE: &str = "refs/remotes/pitot";

/// An error that kept a checkout from being prepared.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A field of the job is not safe to pass to git.
    #[error("invalid {field} {value:?} in the job: {reason}")]
    InvalidJob {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// The head commit is not in the repository after fetching.
    #[error(
        "commit {sha} was not found in {url}: fetching {tried} did not bring it \
         (was the branch force-pushed, or the repository rewritten?)"
    )]
    HeadNotFound { sha: String, url: String, tried: String },
    /// The head commit shares no history with the base branch.
    #[error("commit {head_sha} has no common ancestor with branch {base_ref}")]
    NoMergeBase { head_sha: String, base_ref: String },
    /// A git command failed, timed out or was stopped.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The repository folder could not be created.
    #[error("creating the checkout folder {} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A checkout of a job's head commit, with the merge-base to compare with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The repository folder, with the head commit checked out (detached).
    pub dir: PathBuf,
    /// The head commit, as a full lowercase object id.
    pub head_sha: String,
    /// The merge-base of the head and the base branch.
    pub base_sha: String,
}

/// The folder of the agent's repositories.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The parent of the repository folders (`<root>/<owner>/<name>`).
    pub root: PathBuf,
    /// The time limit for one git command.
    pub git_timeout: Duration,
}

impl Workspace {
    /// Fetches the job's base branch and head commit from `fetch_url` (the
    /// clone URL after rewrites), computes their merge-base and checks out
    /// the head.
    ///
    /// The head is fetched by exact commit: first through
    /// `head_fetch_ref` when the job gives one, then by its object id, and
    /// not at all when an earlier job already brought it.
    pub async fn prepare(
        &self,
        job: &ClaimedJob,
        fetch_url: &str,
        log: &JobLog,
        stop: &StopSignal,
    ) -> Result<Checkout, WorkspaceError> {
        let request = ValidJob::check(job, fetch_url)?;
        let dir = self.root.join(&request.repository);
        std::fs::create_dir_all(&dir).map_err(|source| WorkspaceError::Io {
            path: dir.clone(),
            source,
        })?;
        let git = Git {
            dir: dir.clone(),
            log,
            timeout: self.git_timeout,
            stop,
        };
        check_ref_name(&git, "base_ref", &format!("refs/heads/{}", request.base_ref)).await?;
        if let Some(head_ref) = &request.head_fetch_ref {
            check_ref_name(&git, "head_fetch_ref", head_ref).await?;
        }

        if !dir.join(".git").exists() {
            git.run(&["init", "--quiet"], "init --quiet").await?;
        }
        fetch_base(&git, &request).await?;
        fetch_commit(&git, &request, &request.head_sha, request.head_fetch_ref.as_deref(), "head").await?;
        let base_sha = match &request.base_sha {
            // The base branch usually holds the given base already; a base
            // that a force-push removed from it is fetched by id.
            Some(base_sha) => {
                fetch_commit(&git, &request, base_sha, None, "base").await?;
                git.log.line(format!("comparing with the given base commit {base_sha}"));
                base_sha.clone()
            }
            None => merge_base(&git, &request).await?,
        };

        let head = request.head_sha.as_str();
        git.run(
            &["checkout", "--force", "--quiet", "--detach", head],
            &format!("checkout --force --quiet --detach {head}"),
        )
        .await?;
        // Untracked files from an earlier job go; ignored ones (asv's
        // environments, typically) stay, so builds can reuse them.
        git.run(&["clean", "-ffd", "--quiet"], "clean -ffd --quiet").await?;

        Ok(Checkout {
            dir,
            head_sha: request.head_sha,
            base_sha,
        })
    }
}

/// The job fields the checkout uses, checked before they reach git.
struct ValidJob {
    repository: String,
    fetch_url: String,
    head_sha: String,
    base_ref: String,
    head_fetch_ref: Option<String>,
    /// The exact base commit, when the job gives one.
    base_sha: Option<String>,
}

impl ValidJob {
    fn check(job: &ClaimedJob, fetch_url: &str) -> Result<Self, WorkspaceError> {
        let invalid = |field, value: &str, reason| WorkspaceError::InvalidJob {
            field,
            value: value.to_string(),
            reason,
        };

        let parts: Vec<&str> = job.repository.split('/').collect();
        let name_ok = |part: &&str| {
            !part.is_empty()
                && !part.starts_with('.')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if parts.len() != 2 || !parts.iter().all(name_ok) {
            return Err(invalid("repository", &job.repository, "expected owner/name"));
        }

        let is_object_id =
            |sha: &str| matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit());
        let head_sha = job.head_sha.to_ascii_lowercase();
        if !is_object_id(&head_sha) {
            return Err(invalid("head_sha", &job.head_sha, "expected a full hexadecimal commit id"));
        }
        let base_sha = job.base_sha.as_deref().map(str::to_ascii_lowercase);
        if let Some(base_sha) = &base_sha {
            if !is_object_id(base_sha) {
                return Err(invalid("base_sha", base_sha, "expected a full hexadecimal commit id"));
            }
        }

        if fetch_url.is_empty() || fetch_url.starts_with('-') {
            return Err(invalid("clone_url", &redact_url(fetch_url), "expected a URL or a path"));
        }
        if job.base_ref.starts_with('-') || job.base_ref.starts_with("refs/") {
            return Err(invalid("base_ref", &job.base_ref, "expected a branch name such as main"));
        }
        if let Some(head_ref) = &job.head_fetch_ref {
            if !head_ref.starts_with("refs/") {
                return Err(invalid("head_fetch_ref", head_ref, "expected a full ref such as refs/pull/7/head"));
            }
        }

        Ok(Self {
            repository: job.repository.clone(),
            fetch_url: fetch_url.to_string(),
            head_sha,
            base_ref: job.base_ref.clone(),
            head_fetch_ref: job.head_fetch_ref.clone(),
            base_sha,
        })
    }
}

/// Fails unless git accepts `name` as a ref name, so a crafted value cannot
/// turn into a different refspec.
async fn check_ref_name(git: &Git<'_>, field: &'static str, name: &str) -> Result<(), WorkspaceError> {
    match git.query(&["check-ref-format", name]).await? {
        Some(_) => Ok(()),
        None => Err(WorkspaceError::InvalidJob {
            field,
            value: name.to_string(),
            reason: "git rejects it as a ref name",
        }),
    }
}

async fn fetch_base(git: &Git<'_>, job: &ValidJob) -> Result<(), CommandError> {
    let refspec = format!("+refs/heads/{0}:{BASE_NAMESPACE}/{0}", job.base_ref);
    let logged_args = format!("fetch --no-tags -- {} {refspec}", redact_url(&job.fetch_url));
    git.run(&["fetch", "--no-tags", "--", &job.fetch_url, &refspec], &logged_args)
        .await
}

/// Makes sure commit `sha` is in the repository: first through
/// `fetch_ref` when given, then by its object id into `refs/pitot/{role}`.
async fn fetch_commit(
    git: &Git<'_>,
    job: &ValidJob,
    sha: &str,
    fetch_ref: Option<&str>,
    role: &str,
) -> Result<(), WorkspaceError> {
    if has_commit(git, sha).await? {
        git.log.line(format!("commit {sha} is already here"));
        return Ok(());
    }

    let mut tried = Vec::new();
    if let Some(fetch_ref) = fetch_ref {
        fetch_optional(git, job, &format!("+{fetch_ref}:refs/pitot/head-ref")).await?;
        tried.push(fetch_ref.to_owned());
    }
    if !has_commit(git, sha).await? {
        // Servers that only send advertised refs reject this with "not our
        // ref"; the check below turns that into a clear error.
        fetch_optional(git, job, &format!("+{sha}:refs/pitot/{role}")).await?;
        tried.push(format!("commit {sha}"));
    }
    if !has_commit(git, sha).await? {
        return Err(WorkspaceError::HeadNotFound {
            sha: sha.to_string(),
            url: redact_url(&job.fetch_url),
            tried: tried.join(" and "),
        });
    }
    Ok(())
}

/// Runs a fetch whose failure is not an error by itself: a missing ref is
/// logged, and the caller checks for the commit afterwards.
async fn fetch_optional(git: &Git<'_>, job: &ValidJob, refspec: &str) -> Result<(), CommandError> {
    let logged_args = format!("fetch --no-tags -- {} {refspec}", redact_url(&job.fetch_url));
    let status = git
        .status(&["fetch", "--no-tags", "--", &job.fetch_url, refspec], &logged_args)
        .await?;
    if !status.success() {
        git.log.line(format!("git fetch of {refspec} failed ({status})"));
    }
    Ok(())
}

async fn has_commit(git: &Git<'_>, sha: &str) -> Result<bool, CommandError> {
    let object = format!("{sha}^{{commit}}");
    Ok(git.query(&["cat-file", "-e", &object]).await?.is_some())
}

async fn merge_base(git: &Git<'_>, job: &ValidJob) -> Result<String, WorkspaceError> {
    let base = format!("{BASE_NAMESPACE}/{}", job.base_ref);
    match git.query(&["merge-base", &job.head_sha, &base]).await? {
        Some(sha) if !sha.is_empty() => {
            git.log.line(format!("merge-base of {} and {}: {sha}", job.head_sha, job.base_ref));
            Ok(sha)
        }
        _ => Err(WorkspaceError::NoMergeBase {
            head_sha: job.head_sha.clone(),
            base_ref: job.base_ref.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AsvOptions;

    fn job() -> ClaimedJob {
        ClaimedJob {
            job_id: 1,
            attempt: 1,
            repository: "octo/demo".into(),
            clone_url: "https://github.com/octo/demo.git".into(),
            head_sha: "0123456789abcdef0123456789abcdef01234567".into(),
            base_ref: "main".into(),
            base_sha: None,
            pr_number: Some(7),
            lease_seconds: 60,
            asv: AsvOptions {
                bench: None,
                config: None,
                factor: 1.1,
                timeout_seconds: 60,
                extra_args: vec![],
                rounds: None,
            },
            head_fetch_ref: Some("refs/pull/7/head".into()),
            calibration_passes: None,
        }
    }

    #[test]
    fn valid_job_accepted() {
        let checked = ValidJob::check(&job(), "/srv/mirrors/octo/demo.git");

        assert!(checked.is_ok(), "{:?}", checked.err());
    }

    #[test]
    fn invalid_job_fields_rejected() {
        type Edit = fn(&mut ClaimedJob);
        let cases: [(&str, Edit); 11] = [
            ("short base_sha", |job| job.base_sha = Some("0123456".into())),
            ("base_sha as option", |job| job.base_sha = Some("--output=x".into())),
            ("repository without owner", |job| job.repository = "demo".into()),
            ("repository leaving the folder", |job| job.repository = "../demo".into()),
            ("repository with three parts", |job| job.repository = "a/b/c".into()),
            ("short sha", |job| job.head_sha = "0123456".into()),
            ("branch name as head", |job| job.head_sha = "main".into()),
            ("base_ref as option", |job| job.base_ref = "--upload-pack=x".into()),
            ("base_ref as full ref", |job| job.base_ref = "refs/heads/main".into()),
            ("head_fetch_ref not a ref", |job| job.head_fetch_ref = Some("pull/7/head".into())),
            ("clone_url as option", |job| job.clone_url = "--upload-pack=touch /tmp/x".into()),
        ];

        for (why, edit) in cases {
            let mut job = job();
            edit(&mut job);

            let checked = ValidJob::check(&job, &job.clone_url.clone());

            assert!(checked.is_err(), "{why} was accepted");
        }
    }
}
