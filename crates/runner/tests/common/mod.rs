//! Helpers shared by the runner's integration tests: the demo repository as
//! a remote, jobs for it, the shared asv installation and a process check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pitot_runner::api::{AsvOptions, ClaimedJob};
use pitot_runner::demo::{create_demo_repo, DemoRepo};
use pitot_runner::joblog::JobLog;
use pitot_runner::process::StopSignal;
use pitot_runner::toolchain::{Asv, AsvSetup};
use pitot_runner::UrlRewrite;

/// The clone URL jobs carry; a rewrite maps it to the local demo repository.
pub const CLONE_URL: &str = "https://git.example.invalid/octo/demo.git";

/// Returns the folder under Cargo's target folder that the tests keep
/// between runs (the asv virtual environment) and put their work in.
pub fn test_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pitot-runner")
}

/// Creates a fresh folder under [`test_root`], removed when dropped.
pub fn work_dir() -> tempfile::TempDir {
    let root = test_root();
    std::fs::create_dir_all(&root).expect("test root");
    tempfile::Builder::new()
        .prefix("work-")
        .tempdir_in(root)
        .expect("work folder")
}

/// Creates the demo repository in `parent/remote`.
pub fn demo_remote(parent: &Path) -> DemoRepo {
    create_demo_repo(&parent.join("remote")).expect("demo repository")
}

/// Returns the rewrite that maps [`CLONE_URL`] to the demo repository.
pub fn rewrite_to(demo: &DemoRepo) -> UrlRewrite {
    UrlRewrite {
        prefix: CLONE_URL.to_string(),
        replacement: demo.path.display().to_string(),
    }
}

/// Returns a job for the demo's pull request.
pub fn demo_job(demo: &DemoRepo, job_id: i64, timeout_seconds: u64) -> ClaimedJob {
    ClaimedJob {
        job_id,
        attempt: 1,
        repository: "octo/demo".to_string(),
        clone_url: CLONE_URL.to_string(),
        head_sha: demo.head_sha.clone(),
        base_ref: demo.base_branch.clone(),
        base_sha: None,
        pr_number: Some(7),
        lease_seconds: 30,
        asv: AsvOptions {
            bench: None,
            config: None,
            factor: 1.1,
            timeout_seconds,
            extra_args: Vec::new(),
            rounds: None,
        },
        head_fetch_ref: None,
        calibration_passes: None,
    }
}

/// Returns the asv setup the tests share: the virtual environment stays under the
/// target folder between runs, so only the first run installs asv. Each
/// call gets a home of its own.
pub fn asv_setup() -> AsvSetup {
    AsvSetup {
        program: None,
        venv: test_root().join("asv-venv"),
        python: PathBuf::from("python3"),
        version: pitot_runner::config::DEFAULT_ASV_VERSION.to_string(),
        home: fresh_asv_home(),
    }
}

/// Returns a folder for asv's home that no other test shares. The tests
/// run in parallel, and asv rewrites its machine file there at every run.
fn fresh_asv_home() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    test_root().join("asv-homes").join(name)
}

/// Makes asv ready, or returns `None` (after saying why) when it cannot be
/// installed here. With `CI=true` that is a failure instead: CI must run
/// the asv tests.
pub async fn require_asv() -> Option<Asv> {
    let log_dir = work_dir();
    let log = JobLog::create(log_dir.path().join("asv-setup.log")).expect("log");
    match asv_setup().ensure(&log, &StopSignal::new()).await {
        Ok(asv) => Some(asv),
        Err(error) => {
            let output = log.read_all().unwrap_or_default();
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("asv could not be installed: {error}\n{output}");
            }
            eprintln!("skipping: asv could not be installed: {error}\n{output}");
            None
        }
    }
}

/// Lists the processes whose working folder or command line is inside
/// `dir`, as `pid command-line`. Zombies are left out: they have exited.
pub fn processes_in(dir: &Path) -> Vec<String> {
    let dir_text = dir.display().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        let path = entry.path();
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let state = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next());
        if state.is_none() || state == Some("Z") || state == Some("X") {
            continue;
        }
        let command_line = std::fs::read(path.join("cmdline"))
            .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
            .unwrap_or_default();
        let in_dir = std::fs::read_link(path.join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
        if in_dir || command_line.contains(&dir_text) {
            found.push(format!("{name} {command_line}"));
        }
    }
    found
}

/// Waits up to five seconds for the processes in `dir` to be gone, and
/// returns those still there.
pub fn processes_left_in(dir: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = processes_in(dir);
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
