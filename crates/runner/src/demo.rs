//! The demo repository: a small Python project with an asv suite and a
//! pull-request branch that makes one benchmark slower, for `pitot demo`
//! and for tests.
//!
//! The project's files live in `examples/demo-project` and the later
//! commits' changes in `examples/demo-changes`; they are compiled into the
//! binary so `pitot demo` works from any folder. Commits have a fixed
//! author, committer and date, so the same files always give the same
//! commit ids.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// The demo's base branch.
pub const BASE_BRANCH: &str = "main";
/// The demo's pull-request branch.
pub const HEAD_BRANCH: &str = "slow-unique-words";
/// The benchmark the pull request makes several times slower.
pub const SLOWED_BENCHMARK: &str = "benchmarks.TextSuite.time_unique_words";
/// A benchmark the pull request leaves as it was.
pub const UNCHANGED_BENCHMARK: &str = "benchmarks.time_running_mean";

macro_rules! demo_file {
    ($folder:literal, $path:literal) => {
        ($path, include_str!(concat!("../../../examples/", $folder, "/", $path)))
    };
}

/// The first commit on `main`: the whole project.
const PROJECT: &[(&str, &str)] = &[
    demo_file!("demo-project", ".gitignore"),
    demo_file!("demo-project", "README.md"),
    demo_file!("demo-project", "asv.conf.json"),
    demo_file!("demo-project", "benchmarks/__init__.py"),
    demo_file!("demo-project", "benchmarks/benchmarks.py"),
    demo_file!("demo-project", "pyproject.toml"),
    demo_file!("demo-project", "src/pitot_demo/__init__.py"),
    demo_file!("demo-project", "src/pitot_demo/numbers.py"),
    demo_file!("demo-project", "src/pitot_demo/text.py"),
];

/// The pull request's commit, on a branch from the first commit.
const PULL_REQUEST: &[(&str, &str)] = &[demo_file!("demo-changes/pr", "src/pitot_demo/text.py")];

/// The second commit on `main`, after the branch point.
const MAIN_FOLLOW_UP: &[(&str, &str)] = &[demo_file!("demo-changes/main", "README.md")];

/// A demo repository on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoRepo {
    /// The repository folder (a normal, non-bare repository).
    pub path: PathBuf,
    /// The branch a pull request would target: `main`.
    pub base_branch: String,
    /// The pull-request branch.
    pub head_branch: String,
    /// The pull request's head commit.
    pub head_sha: String,
    /// The merge-base of the head and `main`: `main`'s first commit.
    pub merge_base_sha: String,
    /// `main`'s tip, one commit after the merge-base.
    pub base_tip_sha: String,
    /// The benchmark the pull request makes several times slower.
    pub slowed_benchmark: String,
    /// A benchmark the pull request leaves as it was.
    pub unchanged_benchmark: String,
}

/// Creates the demo repository in `dir`, which must be empty or missing.
///
/// `main` has two commits; `slow-unique-words` branches from the first and
/// makes `unique_words` slower. `main` is checked out at the end.
///
/// # Errors
///
/// Fails when `dir` is not empty, or when a file or git command fails.
pub fn create_demo_repo(dir: &Path) -> anyhow::Result<DemoRepo> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {} failed", dir.display()))?;
    if std::fs::read_dir(dir)?.next().is_some() {
        bail!("the demo repository folder {} is not empty", dir.display());
    }

    git(dir, &["init", "--quiet", "--initial-branch", BASE_BRANCH])?;
    write_files(dir, PROJECT)?;
    let merge_base_sha = commit(dir, "Add the pitot_demo package and its benchmarks", 0)?;

    git(dir, &["checkout", "--quiet", "-b", HEAD_BRANCH])?;
    write_files(dir, PULL_REQUEST)?;
    let head_sha = commit(dir, "Keep unique words in a list to preserve their order", 1)?;

    git(dir, &["checkout", "--quiet", BASE_BRANCH])?;
    write_files(dir, MAIN_FOLLOW_UP)?;
    let base_tip_sha = commit(dir, "Describe the benchmarks in the README", 2)?;

    Ok(DemoRepo {
        path: dir.to_path_buf(),
        base_branch: BASE_BRANCH.to_string(),
        head_branch: HEAD_BRANCH.to_string(),
        head_sha,
        merge_base_sha,
        base_tip_sha,
        slowed_benchmark: SLOWED_BENCHMARK.to_string(),
        unchanged_benchmark: UNCHANGED_BENCHMARK.to_string(),
    })
}

fn write_files(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (path, content) in files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, content).with_context(|| format!("writing {} failed", target.display()))?;
    }
    Ok(())
}

/// Commits all files with the demo's fixed identity, `hours` hours after
/// its first commit, and returns the new commit's id.
fn commit(dir: &Path, message: &str, hours: u32) -> anyhow::Result<String> {
    git(dir, &["add", "--all"])?;
    let date = format!("2024-01-01T{:02}:00:00+00:00", 12 + hours);
    let output = git_command(dir)
        .args(["commit", "--quiet", "--no-verify", "--message", message])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .context("running git commit failed")?;
    if !output.status.success() {
        bail!("git commit failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    git(dir, &["rev-parse", "HEAD"])
}

/// Runs git in `dir` and returns its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = git_command(dir)
        .args(args)
        .output()
        .with_context(|| format!("running git {} failed", args.join(" ")))?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Creates a git command that ignores the user's settings that would change the
/// commits: identity, signing, line endings, hooks.
fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Pitot Demo")
        .env("GIT_AUTHOR_EMAIL", "demo@pitot.invalid")
        .env("GIT_COMMITTER_NAME", "Pitot Demo")
        .env("GIT_COMMITTER_EMAIL", "demo@pitot.invalid")
        .args(["-c", "core.autocrlf=false", "-c", "commit.gpgsign=false"]);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_repo_shas_are_stable() {
        let first = tempfile::tempdir().expect("temporary folder");
        let second = tempfile::tempdir().expect("temporary folder");

        let one = create_demo_repo(first.path()).expect("demo repository");
        let two = create_demo_repo(second.path()).expect("demo repository");

        assert_eq!(one.head_sha, two.head_sha);
        assert_eq!(one.merge_base_sha, two.merge_base_sha);
        assert_eq!(one.base_tip_sha, two.base_tip_sha);
    }

    #[test]
    fn demo_repo_branches() {
        let dir = tempfile::tempdir().expect("temporary folder");

        let demo = create_demo_repo(dir.path()).expect("demo repository");

        let merge_base = git(&demo.path, &["merge-base", &demo.head_sha, "main"]).expect("merge-base");
        let tip = git(&demo.path, &["rev-parse", "main"]).expect("main");
        let branch_head = git(&demo.path, &["rev-parse", HEAD_BRANCH]).expect("branch");
        assert_eq!(merge_base, demo.merge_base_sha);
        assert_eq!(tip, demo.base_tip_sha);
        assert_ne!(tip, merge_base, "main must move on after the branch point");
        assert_eq!(branch_head, demo.head_sha);
        let changed = git(&demo.path, &["diff", "--name-only", &merge_base, &demo.head_sha]).expect("diff");
        assert_eq!(changed, "src/pitot_demo/text.py");
    }

    #[test]
    fn demo_repo_rejects_non_empty_folder() {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join("file"), "x").expect("writable");

        let created = create_demo_repo(dir.path());

        assert!(created.is_err());
    }
}
