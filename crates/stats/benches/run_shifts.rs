//! Times the run shifts of a suite of pandas' size: 7,500 wall-time series
//! in 1,000 benchmarks, each with 50 consecutive runs of the last 55, as
//! the reporter estimates them before a pull request's comment.
//!
//! Run with `cargo bench -p pitot-stats --bench run_shifts`. The estimate
//! runs 2 times to warm up and then `PITOT_BENCH_RUNS` times (default 15);
//! the median, minimum and maximum are printed in milliseconds.

use std::time::{Duration, Instant};

use pitot_stats::noise::run_shifts;
use pitot_stats::Measurement;

const WARM_UP_RUNS: usize = 2;
const DEFAULT_RUNS: usize = 15;
const BENCHMARKS: usize = 1_000;
const SERIES: usize = 7_500;
const RUNS: usize = 55;
const WINDOW: usize = 50;

/// A series' benchmark and its (run, measurement) points.
type Series = (usize, Vec<(usize, Measurement)>);

fn main() {
    let runs = match std::env::var("PITOT_BENCH_RUNS") {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            panic!("invalid PITOT_BENCH_RUNS {text:?}: expected a whole number of runs, such as 15")
        }),
        Err(_) => DEFAULT_RUNS,
    };
    let (suite, machine) = suite();

    let shifts = run_shifts(&suite);
    // The machine factors are recovered up to a constant: compare each
    // run's shift with the first run's.
    let first = shifts[&0] - machine[0];
    for (run, factor) in machine.iter().enumerate() {
        let error = (shifts[&run] - factor - first).abs();
        assert!(error < 0.01, "run {run}: shift {} against {factor}", shifts[&run]);
    }

    for _ in 0..WARM_UP_RUNS {
        std::hint::black_box(run_shifts(&suite));
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run_shifts(std::hint::black_box(&suite)));
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    let milliseconds = |time: Duration| time.as_secs_f64() * 1e3;
    let (median, min, max) = (
        milliseconds(times[times.len() / 2]),
        milliseconds(times[0]),
        milliseconds(times[times.len() - 1]),
    );
    let measurement = format!("run shifts, {SERIES} series of {WINDOW} points");
    println!("{measurement}: median {median:.2} ms, min {min:.2} ms, max {max:.2} ms ({runs} runs)");
    // One JSON line for `scripts/bench`, which collects them.
    println!(
        "bench-result {{\"measurement\":\"{measurement}\",\"unit\":\"ms\",\"median\":{median:.3},\"min\":{min:.3},\"max\":{max:.3},\"runs\":{runs}}}"
    );
}

/// Builds the suite's series and each run's log machine factor: up to
/// ±15% between runs, with ±2% deterministic noise per value. Series are
/// spread over the benchmarks in turn, so each benchmark has several
/// parameter combinations, and a series' 50 runs end at one of the last
/// six, so series share runs only in part.
fn suite() -> (Vec<Series>, Vec<f64>) {
    let mut state: u64 = 7;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let machine: Vec<f64> = (0..RUNS).map(|_| (1.0 + 0.15 * uniform()).ln()).collect();
    let suite = (0..SERIES)
        .map(|series| {
            let level = 1e-3 * (1.0 + (series % 97) as f64);
            let start = series % (RUNS - WINDOW + 1);
            let points = (start..start + WINDOW)
                .map(|run| {
                    let value = level * machine[run].exp() * (1.0 + 0.02 * uniform());
                    (run, Measurement::Value(value))
                })
                .collect();
            (series % BENCHMARKS, points)
        })
        .collect();
    (suite, machine)
}
