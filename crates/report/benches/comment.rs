//! Times the report of a pull request with 1,000 benchmark rows: asv's
//! comparison of the two results files, the sticky comment and the check
//! run summary (pitot's verdict included in both).
//!
//! Run with `cargo bench -p pitot-report --bench comment`. The rows come
//! from a real results file (conda-benchmarks, in `tests/fixtures/asv`)
//! whose benchmarks are copied under new names until there are 1,000
//! rows. The head side slows a tenth of them by 30% and speeds up a
//! seventh by 20%. Each step runs 3 times to warm up and then
//! `PITOT_BENCH_RUNS` times (default 25). It prints the median, minimum
//! and maximum in milliseconds, and one `bench-result` JSON line per step
//! for `scripts/bench`.

use std::time::{Duration, Instant};

use pitot_asv::{parse_benchmarks, parse_results, BenchmarkResult, Outcome, ResultsFile};
use pitot_report::{render_check_summary, render_pull_request_comment, PullRequestContext};
use pitot_stats::{compare, CompareOptions};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/asv");
const RESULTS: &str = "conda-benchmarks/results/Daniels-MBP.monotreme.club/\
    044cf5df-conda-py3.10-conda-libmamba-solver-conda-package-handling2.0.2.json";
const BENCHMARKS: &str = "conda-benchmarks/results/benchmarks.json";
const ROWS: usize = 1_000;
const WARM_UP_RUNS: usize = 3;
const DEFAULT_RUNS: usize = 25;

fn main() {
    let runs = match std::env::var("PITOT_BENCH_RUNS") {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            panic!("invalid PITOT_BENCH_RUNS {text:?}: expected a whole number of runs, such as 25")
        }),
        Err(_) => DEFAULT_RUNS,
    };
    let suite = parse_benchmarks(&read_fixture(BENCHMARKS)).expect("a valid benchmarks.json");
    let template = parse_results(&read_fixture(RESULTS)).expect("a valid results file");
    let base = widen(&template, ROWS);
    let mut head = base.clone();
    for (index, benchmark) in head.benchmarks.iter_mut().enumerate() {
        match (index % 10, index % 7) {
            (0, _) => scale(benchmark, 1.3),
            (_, 0) => scale(benchmark, 0.8),
            _ => {}
        }
    }
    let options = CompareOptions::default();
    let (before, after) = (vec![base], vec![head]);

    let comparison = compare(&before, &after, &suite, &options).expect("the files compare");
    assert!(
        comparison.rows.len() >= ROWS,
        "expected at least {ROWS} rows, got {}",
        comparison.rows.len()
    );
    let context = PullRequestContext {
        repository: "owner/name",
        web_url: "https://github.com",
        base_sha: "044cf5df4e0b1d4ba06e8b6a45b64b4a1a38e3b2",
        head_sha: "fcf8c079fae7d1f1e2c0b5c86e3f9d1a2b3c4d5e",
        machine: "Daniels-MBP.monotreme.club",
        dashboard_url: Some("https://pitot.example/#/runs/42"),
        charts: None,
        marker: "<!-- pitot:sticky owner/name#7 -->",
        quarantines: None,
        base_drift: None,
        confirmation: None,
    };

    let rows = comparison.rows.len();
    report(&format!("comparison, {rows} rows"), runs, || {
        compare(&before, &after, &suite, &options).expect("the files compare").rows.len()
    });
    report(&format!("comment, {rows} rows"), runs, || {
        render_pull_request_comment(&comparison, &context).len()
    });
    report(&format!("check summary, {rows} rows"), runs, || {
        render_check_summary(&comparison, &context).len()
    });
}

#[track_caller]
fn read_fixture(path: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{path}");
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// Returns a copy of `file` whose benchmarks are repeated under numbered
/// module names until the file has at least `rows` result rows.
fn widen(file: &ResultsFile, rows: usize) -> ResultsFile {
    let per_copy: usize = file
        .benchmarks
        .iter()
        .map(BenchmarkResult::combination_count)
        .sum();
    assert!(per_copy > 0, "the template results file has no rows");
    let copies = rows.div_ceil(per_copy);
    let mut wide = file.clone();
    wide.benchmarks = (0..copies)
        .flat_map(|copy| {
            file.benchmarks.iter().map(move |benchmark| BenchmarkResult {
                name: format!("copy_{copy:03}.{}", benchmark.name),
                ..benchmark.clone()
            })
        })
        .collect();
    wide
}

/// Multiplies a benchmark's values, intervals, quartiles and samples, so
/// the significance test gets the same spread around a new centre.
fn scale(result: &mut BenchmarkResult, factor: f64) {
    for outcome in &mut result.outcomes {
        if let Outcome::Value(value) = outcome {
            *value *= factor;
        }
    }
    for stats in result.stats.iter_mut().flatten() {
        stats.ci_99 = stats.ci_99.map(|(low, high)| (low * factor, high * factor));
        stats.q_25 = stats.q_25.map(|q| q * factor);
        stats.q_75 = stats.q_75.map(|q| q * factor);
    }
    for samples in result.samples.iter_mut().flatten() {
        for sample in samples.iter_mut() {
            *sample *= factor;
        }
    }
}

/// Runs `step` and prints its timing; the step returns a size so that the
/// work cannot be optimised away.
fn report(name: &str, runs: usize, step: impl Fn() -> usize) {
    for _ in 0..WARM_UP_RUNS {
        std::hint::black_box(step());
    }
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let started = Instant::now();
        size = std::hint::black_box(step());
        times.push(started.elapsed());
    }
    times.sort();
    let millis = |duration: Duration| duration.as_secs_f64() * 1e3;
    let (median, min, max) = (
        millis(times[times.len() / 2]),
        millis(times[0]),
        millis(times[times.len() - 1]),
    );
    println!("{name}: median {median:.2} ms, min {min:.2} ms, max {max:.2} ms over {runs} runs; size {size}");
    println!(
        "bench-result {{\"measurement\":\"{name}\",\"unit\":\"ms\",\"median\":{median:.3},\"min\":{min:.3},\"max\":{max:.3},\"runs\":{runs}}}"
    );
}
