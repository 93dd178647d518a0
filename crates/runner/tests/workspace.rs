//! The checkout against a real git repository: the demo repository, fetched
//! through a URL rewrite as if it were a remote.

mod common;

use std::time::Duration;

use common::{demo_job, demo_remote, rewrite_to, work_dir};
use pitot_runner::joblog::JobLog;
use pitot_runner::process::StopSignal;
use pitot_runner::workspace::{Workspace, WorkspaceError};
use pitot_runner::AgentConfig;

fn workspace(root: &std::path::Path) -> Workspace {
    Workspace {
        root: root.join("repos"),
        git_timeout: Duration::from_secs(120),
    }
}

fn fetch_url(demo: &pitot_runner::demo::DemoRepo, clone_url: &str) -> String {
    let mut config = AgentConfig::new("http://127.0.0.1:1", "token".to_string().into(), "/unused");
    config.url_rewrites = vec![rewrite_to(demo)];
    config.rewrite_url(clone_url)
}

fn git_stdout(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
async fn checkout_head_and_merge_base() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let job = demo_job(&demo, 1, 60);
    let log = JobLog::create(dir.path().join("job.log")).expect("log");

    let checkout = workspace(dir.path())
        .prepare(&job, &fetch_url(&demo, &job.clone_url), &log, &StopSignal::new())
        .await
        .expect("checkout");

    assert_eq!(checkout.base_sha, demo.merge_base_sha);
    assert_ne!(checkout.base_sha, demo.base_tip_sha);
    assert_eq!(checkout.head_sha, demo.head_sha);
    assert_eq!(checkout.dir, dir.path().join("repos/octo/demo"));
    assert_eq!(git_stdout(&checkout.dir, &["rev-parse", "HEAD"]), demo.head_sha);
    assert_eq!(
        git_stdout(&checkout.dir, &["rev-parse", "refs/remotes/pitot/main"]),
        demo.base_tip_sha
    );
    assert!(checkout.dir.join("asv.conf.json").is_file());
}

#[tokio::test]
async fn checkout_through_head_fetch_ref() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut job = demo_job(&demo, 1, 60);
    job.head_fetch_ref = Some(format!("refs/heads/{}", demo.head_branch));
    let log = JobLog::create(dir.path().join("job.log")).expect("log");

    let checkout = workspace(dir.path())
        .prepare(&job, &fetch_url(&demo, &job.clone_url), &log, &StopSignal::new())
        .await
        .expect("checkout");

    assert_eq!(checkout.head_sha, demo.head_sha);
    let text = log.read_all().expect("log");
    let through_ref = format!("+refs/heads/{}:refs/pitot/head-ref", demo.head_branch);
    let by_id = format!("+{}:refs/pitot/head", demo.head_sha);
    assert!(text.contains(&through_ref), "{text}");
    assert!(!text.contains(&by_id), "{text}");
}

#[tokio::test]
async fn checkout_again_reuses_folder() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let job = demo_job(&demo, 1, 60);
    let url = fetch_url(&demo, &job.clone_url);
    let first_log = JobLog::create(dir.path().join("first.log")).expect("log");
    workspace(dir.path())
        .prepare(&job, &url, &first_log, &StopSignal::new())
        .await
        .expect("first checkout");
    let second_log = JobLog::create(dir.path().join("second.log")).expect("log");

    let checkout = workspace(dir.path())
        .prepare(&job, &url, &second_log, &StopSignal::new())
        .await
        .expect("second checkout");

    assert_eq!(checkout.base_sha, demo.merge_base_sha);
    let text = second_log.read_all().expect("log");
    assert!(!text.contains("$ git init"), "{text}");
    assert!(text.contains(&format!("commit {} is already here", demo.head_sha)), "{text}");
}

/// A base branch that moved on does not change the merge-base of the same
/// head, so running a pull request's head again compares the same commits.
#[tokio::test]
async fn moved_base_branch_keeps_merge_base() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let job = demo_job(&demo, 1, 60);
    let url = fetch_url(&demo, &job.clone_url);
    let first_log = JobLog::create(dir.path().join("first.log")).expect("log");
    workspace(dir.path())
        .prepare(&job, &url, &first_log, &StopSignal::new())
        .await
        .expect("first checkout");
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=pitot", "-c", "user.email=pitot@example.invalid"])
        .args(["commit", "--quiet", "--allow-empty", "--message", "Move main on"])
        .current_dir(&demo.path)
        .status()
        .expect("git runs");
    assert!(status.success(), "git commit failed");
    let new_tip = git_stdout(&demo.path, &["rev-parse", "HEAD"]);
    let second_log = JobLog::create(dir.path().join("second.log")).expect("log");

    let checkout = workspace(dir.path())
        .prepare(&job, &url, &second_log, &StopSignal::new())
        .await
        .expect("second checkout");

    assert_ne!(new_tip, demo.base_tip_sha);
    assert_eq!(
        git_stdout(&checkout.dir, &["rev-parse", "refs/remotes/pitot/main"]),
        new_tip,
        "the second checkout fetched the moved branch"
    );
    assert_eq!(checkout.base_sha, demo.merge_base_sha);
}

#[tokio::test]
async fn missing_head_sha_named_in_error() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut job = demo_job(&demo, 1, 60);
    let missing = "0123456789abcdef0123456789abcdef01234567";
    job.head_sha = missing.to_string();
    job.head_fetch_ref = Some("refs/pull/7/head".to_string());
    let url = fetch_url(&demo, &job.clone_url);
    let log = JobLog::create(dir.path().join("job.log")).expect("log");

    let error = workspace(dir.path())
        .prepare(&job, &url, &log, &StopSignal::new())
        .await
        .expect_err("the head is missing");

    assert!(matches!(error, WorkspaceError::HeadNotFound { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(missing), "{message}");
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("refs/pull/7/head"), "{message}");
}

#[tokio::test]
async fn missing_base_branch_fails() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut job = demo_job(&demo, 1, 60);
    job.base_ref = "no-such-branch".to_string();
    let log = JobLog::create(dir.path().join("job.log")).expect("log");

    let error = workspace(dir.path())
        .prepare(&job, &fetch_url(&demo, &job.clone_url), &log, &StopSignal::new())
        .await
        .expect_err("the base branch is missing");

    let message = error.to_string();
    assert!(message.contains("git fetch"), "{message}");
    assert!(message.contains("refs/heads/no-such-branch"), "{message}");
}

#[tokio::test]
async fn checkout_with_given_base_skips_merge_base() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut job = demo_job(&demo, 1, 60);
    job.head_sha = demo.base_tip_sha.clone();
    job.base_sha = Some(demo.merge_base_sha.clone());
    let log = JobLog::create(dir.path().join("job.log")).expect("log");

    let checkout = workspace(dir.path())
        .prepare(&job, &fetch_url(&demo, &job.clone_url), &log, &StopSignal::new())
        .await
        .expect("checkout");

    assert_eq!(checkout.base_sha, demo.merge_base_sha);
    assert_eq!(checkout.head_sha, demo.base_tip_sha);
    assert_eq!(git_stdout(&checkout.dir, &["rev-parse", "HEAD"]), demo.base_tip_sha);
    let text = log.read_all().expect("log");
    assert!(text.contains("comparing with the given base commit"), "{text}");
    assert!(!text.contains("merge-base of"), "{text}");
}

#[tokio::test]
async fn given_base_off_the_branch_is_fetched_by_id() {
    let dir = work_dir();
    let demo = demo_remote(dir.path());
    let mut job = demo_job(&demo, 1, 60);
    // The pull request's head is on another branch than `main`, as the
    // commit before a force-push would be.
    job.head_sha = demo.base_tip_sha.clone();
    job.base_sha = Some(demo.head_sha.clone());
    let log = JobLog::create(dir.path().join("job.log")).expect("log");

    let checkout = workspace(dir.path())
        .prepare(&job, &fetch_url(&demo, &job.clone_url), &log, &StopSignal::new())
        .await
        .expect("checkout");

    assert_eq!(checkout.base_sha, demo.head_sha);
    let text = log.read_all().expect("log");
    assert!(text.contains(&format!("+{}:refs/pitot/base", demo.head_sha)), "{text}");
}
