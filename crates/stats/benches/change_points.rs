//! Times change-point detection on a history of 10,000 results with three
//! steps and 2% noise, the length of a long default-branch history.
//!
//! Run with `cargo bench -p pitot-stats --bench change_points`. The
//! detection runs 3 times to warm up and then `PITOT_BENCH_RUNS` times
//! (default 25); the median, minimum and maximum are printed in
//! milliseconds.

use std::time::{Duration, Instant};

use pitot_stats::change_points::{detect_change_points, ChangePointOptions};

const WARM_UP_RUNS: usize = 3;
const DEFAULT_RUNS: usize = 25;
const POINTS: usize = 10_000;

fn main() {
    let runs = match std::env::var("PITOT_BENCH_RUNS") {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            panic!("invalid PITOT_BENCH_RUNS {text:?}: expected a whole number of runs, such as 25")
        }),
        Err(_) => DEFAULT_RUNS,
    };
    let values = history(POINTS);
    let options = ChangePointOptions::default();

    let found = detect_change_points(&values, &options);
    assert_eq!(found.len(), 3, "the three steps are found: {found:?}");

    for _ in 0..WARM_UP_RUNS {
        std::hint::black_box(detect_change_points(&values, &options));
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(detect_change_points(
                std::hint::black_box(&values),
                &options,
            ));
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
    println!(
        "change points, {POINTS} points: median {median:.2} ms, min {min:.2} ms, max {max:.2} ms ({runs} runs)"
    );
    // One JSON line for `scripts/bench`, which collects them.
    println!(
        "bench-result {{\"measurement\":\"change points, {POINTS} points\",\"unit\":\"ms\",\"median\":{median:.3},\"min\":{min:.3},\"max\":{max:.3},\"runs\":{runs}}}"
    );
}

/// Builds a timing of 1 ms that steps up 20% at 2,500, down 30% at 5,000 and up
/// 10% at 7,500, with ±2% deterministic noise.
fn history(len: usize) -> Vec<f64> {
    let mut state: u64 = 42;
    (0..len)
        .map(|index| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            let level = match index * 4 / len {
                0 => 1.0,
                1 => 1.2,
                2 => 0.84,
                _ => 0.924,
            };
            1e-3 * level * (1.0 + 0.02 * noise)
        })
        .collect()
}
