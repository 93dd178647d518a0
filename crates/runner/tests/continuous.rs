//! `asv continuous` with the real asv from PyPI on the demo repository.
//!
//! One full run is shared by the tests that read its results; the timeout
//! and cancellation tests stop their runs within seconds.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{
    demo_job, demo_remote, processes_in, processes_left_in, require_asv, rewrite_to, test_root, work_dir,
};
use pitot_asv::{parse_results, ResultsFile};
use pitot_runner::continuous::{ContinuousRun, RunError, RunResult};
use pitot_runner::demo::DemoRepo;
use pitot_runner::joblog::JobLog;
use pitot_runner::process::{CommandError, StopReason, StopSignal};
use pitot_runner::toolchain::Asv;
use pitot_runner::workspace::{Checkout, Workspace};

const MACHINE: &str = "pitot-test";

struct FullRun {
    demo: DemoRepo,
    checkout: Checkout,
    result: RunResult,
    log: String,
    seconds: u64,
}

static FULL_RUN: OnceLock<Option<FullRun>> = OnceLock::new();

/// Runs `asv continuous` on the demo once per test process, or returns
/// `None` when asv cannot be installed outside CI.
fn full_run() -> Option<&'static FullRun> {
    FULL_RUN
        .get_or_init(|| {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(run_demo())
        })
        .as_ref()
}

async fn run_demo() -> Option<FullRun> {
    let asv = require_asv().await?;
    let dir = test_root().join("continuous-full-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work folder");
    let demo = demo_remote(&dir);
    let job = demo_job(&demo, 1, 900);
    let log = JobLog::create(dir.join("job.log")).expect("log");
    let stop = StopSignal::new();
    let checkout = prepare(&dir, &demo, &job, &log, &stop).await;

    let started = Instant::now();
    let result = ContinuousRun {
        asv: &asv,
        checkout: &checkout,
        machine: MACHINE,
        options: &job.asv,
    }
    .run(&log, &stop)
    .await
    .expect("asv ran");
    let seconds = started.elapsed().as_secs();
    eprintln!("asv continuous on the demo took {seconds} s");

    Some(FullRun {
        demo,
        checkout,
        result,
        log: log.read_all().expect("log"),
        seconds,
    })
}

async fn prepare(
    dir: &std::path::Path,
    demo: &DemoRepo,
    job: &pitot_runner::api::ClaimedJob,
    log: &JobLog,
    stop: &StopSignal,
) -> Checkout {
    let workspace = Workspace {
        root: dir.join("repos"),
        git_timeout: Duration::from_secs(120),
    };
    let rewrite = rewrite_to(demo);
    let url = job.clone_url.replace(&rewrite.prefix, &rewrite.replacement);
    workspace.prepare(job, &url, log, stop).await.expect("checkout")
}

#[track_caller]
fn results_of(run: &FullRun, sha: &str) -> ResultsFile {
    let prefix = format!("{MACHINE}/{}-", &sha[..8]);
    let file = run
        .result
        .results
        .iter()
        .find(|file| file.path.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no results file for {sha}"));
    parse_results(file.content.as_bytes()).expect("valid results")
}

#[track_caller]
fn value_of(results: &ResultsFile, benchmark: &str) -> f64 {
    results
        .benchmarks
        .iter()
        .find(|result| result.name == benchmark)
        .and_then(|result| result.outcomes.first())
        .and_then(|outcome| outcome.value())
        .unwrap_or_else(|| panic!("no value for {benchmark}"))
}

#[test]
fn full_run_completes_with_both_results() {
    let Some(run) = full_run() else { return };

    let paths: Vec<&str> = run.result.results.iter().map(|file| file.path.as_str()).collect();

    assert_eq!(run.result.failure, None, "log:\n{}", run.log);
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(paths.contains(&"pitot-test/machine.json"), "{paths:?}");
    assert_eq!(results_of(run, &run.checkout.base_sha).commit_hash, run.demo.merge_base_sha);
    assert_eq!(results_of(run, &run.checkout.head_sha).commit_hash, run.demo.head_sha);
    let benchmarks = run.result.benchmarks_json.as_deref().expect("benchmarks.json");
    let suite = pitot_asv::parse_benchmarks(benchmarks.as_bytes()).expect("valid benchmarks.json");
    assert!(suite.benchmarks.contains_key(&run.demo.slowed_benchmark));
    assert!(run.seconds < 600, "asv continuous took {} s", run.seconds);
}

#[test]
fn full_run_shows_the_slowdown() {
    let Some(run) = full_run() else { return };
    let base = results_of(run, &run.checkout.base_sha);
    let head = results_of(run, &run.checkout.head_sha);

    let slowed = value_of(&head, &run.demo.slowed_benchmark) / value_of(&base, &run.demo.slowed_benchmark);
    let unchanged =
        value_of(&head, &run.demo.unchanged_benchmark) / value_of(&base, &run.demo.unchanged_benchmark);

    // On a loaded machine a benchmark of a few milliseconds can move by 2x,
    // so "unchanged" allows that much; the slowdown is about 15x on an idle
    // machine (vocabulary of 400 words, list lookups instead of a set).
    assert!(slowed > 3.0, "the slowed benchmark's ratio is only {slowed:.2}");
    assert!((0.33..3.0).contains(&unchanged), "the unchanged benchmark's ratio is {unchanged:.2}");
    assert!(slowed > 2.0 * unchanged, "slowed {slowed:.2} vs unchanged {unchanged:.2}");
}

#[test]
fn full_run_records_samples_and_machine() {
    let Some(run) = full_run() else { return };

    let head = results_of(run, &run.checkout.head_sha);

    let slowed = head
        .benchmarks
        .iter()
        .find(|result| result.name == run.demo.slowed_benchmark)
        .expect("slowed benchmark");
    let samples = slowed.samples.first().cloned().flatten().unwrap_or_default();
    assert!(samples.len() >= 2, "samples: {samples:?}");
    assert_eq!(head.machine, MACHINE);
    let machine_json = run
        .result
        .results
        .iter()
        .find(|file| file.path.ends_with("/machine.json"))
        .expect("machine.json");
    let machine = pitot_asv::parse_machine(machine_json.content.as_bytes()).expect("valid machine.json");
    assert_eq!(machine.machine, MACHINE);
    assert!(machine.fields.contains_key("cpu"), "{:?}", machine.fields);
}

#[test]
fn full_run_log_has_asv_output() {
    let Some(run) = full_run() else { return };

    let log = &run.log;

    assert!(log.contains("[pitot] $ asv --config asv.conf.json continuous --machine pitot-test"), "{log}");
    assert!(log.contains("Creating environments"), "{log}");
    assert!(log.contains(&run.demo.slowed_benchmark), "{log}");
    assert!(log.contains("[pitot] asv exited with exit status: 1"), "{log}");
}

/// Runs the demo in `dir` and returns the checkout folder, the log and the
/// run's result.
async fn run_demo_in(
    dir: &std::path::Path,
    asv: &Asv,
    timeout_seconds: u64,
    stop: &StopSignal,
) -> (PathBuf, JobLog, Result<RunResult, RunError>) {
    let demo = demo_remote(dir);
    let job = demo_job(&demo, 1, timeout_seconds);
    let log = JobLog::create(dir.join("job.log")).expect("log");
    let checkout = prepare(dir, &demo, &job, &log, stop).await;

    let result = ContinuousRun {
        asv,
        checkout: &checkout,
        machine: MACHINE,
        options: &job.asv,
    }
    .run(&log, stop)
    .await;
    (checkout.dir, log, result)
}

#[tokio::test]
async fn timeout_kills_asv_and_says_so() {
    let Some(asv) = require_asv().await else { return };
    let dir = work_dir();
    let started = Instant::now();

    let (checkout_dir, log, result) = run_demo_in(dir.path(), &asv, 5, &StopSignal::new()).await;

    let result = result.expect("a timeout is a result");
    let failure = result.failure.expect("a timeout is a failure");
    assert!(failure.starts_with("asv continuous timed out after 5 s"), "{failure}");
    assert!(started.elapsed() < Duration::from_secs(120));
    let text = log.read_all().expect("log");
    assert!(text.contains("[pitot] $ asv --config"), "asv never started:\n{text}");
    let left = processes_left_in(&checkout_dir);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[tokio::test]
async fn cancellation_kills_asv_and_says_so() {
    let Some(asv) = require_asv().await else { return };
    let dir = work_dir();
    let stop = StopSignal::new();
    // Cancel a few seconds after asv started, as a heartbeat response would,
    // and list the processes that ran in the checkout at that moment.
    let stopper = tokio::spawn({
        let stop = stop.clone();
        let log_path = dir.path().join("job.log");
        let checkout_dir = dir.path().join("repos/octo/demo");
        async move {
            loop {
                let text = std::fs::read_to_string(&log_path).unwrap_or_default();
                if text.contains("[pitot] $ asv --config") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            tokio::time::sleep(Duration::from_secs(4)).await;
            let running = processes_in(&checkout_dir);
            stop.stop(StopReason::Cancelled);
            running
        }
    });

    let (checkout_dir, log, result) = run_demo_in(dir.path(), &asv, 600, &stop).await;

    let running_at_stop = stopper.await.expect("stopper");
    let error = result.expect_err("a stopped run has no result");
    assert!(
        matches!(error, RunError::Command(CommandError::Stopped { reason: StopReason::Cancelled, .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("the job was cancelled on the server"), "{error}");
    let text = log.read_all().expect("log");
    assert!(!running_at_stop.is_empty(), "asv was not running when stopped:\n{text}");
    let left = processes_left_in(&checkout_dir);
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}
