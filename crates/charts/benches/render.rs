//! Times rendering the summary chart of 1,000 benchmarks and a history
//! chart of 500 commits, PNG encoding included.
//!
//! Run with `cargo bench -p pitot-charts --bench render`. Each chart is
//! drawn 3 times to warm up and then `PITOT_BENCH_RUNS` times (default
//! 25); the median, minimum and maximum are printed in milliseconds. With
//! `PITOT_CHART_SAMPLES_DIR` set, the two PNGs are also written to that
//! folder, for a person to look at.

use std::time::{Duration, Instant};

use pitot_charts::{HistoryChart, HistoryPoint, NoiseBand, SummaryChart, SummaryEntry, Verdict};

const WARM_UP_RUNS: usize = 3;
const DEFAULT_RUNS: usize = 25;

fn main() {
    let runs = match std::env::var("PITOT_BENCH_RUNS") {
        Ok(text) => text.parse().unwrap_or_else(|_| {
            panic!("invalid PITOT_BENCH_RUNS {text:?}: expected a whole number of runs, such as 25")
        }),
        Err(_) => DEFAULT_RUNS,
    };
    let noise = NoiseBand::from_factor(1.1).expect("valid factor");

    let summary = SummaryChart::new(summary_entries(1_000), noise);
    report("summary, 1,000 benchmarks", runs, || {
        summary.render_png().expect("summary renders")
    });

    let history = history_chart(500, noise);
    report("history, 500 commits", runs, || {
        history.render_png().expect("history renders")
    });

    if let Some(folder) = std::env::var_os("PITOT_CHART_SAMPLES_DIR") {
        let folder = std::path::PathBuf::from(folder);
        std::fs::create_dir_all(&folder).expect("the samples folder can be created");
        let samples = [
            ("summary-1000.png", summary.render_png()),
            ("history-500.png", history.render_png()),
        ];
        for (name, png) in samples {
            std::fs::write(folder.join(name), png.expect("renders"))
                .expect("the sample is written");
        }
        println!("samples written to {}", folder.display());
    }
}

/// Renders with `render` and prints the timing and the PNG size.
fn report(name: &str, runs: usize, render: impl Fn() -> Vec<u8>) {
    for _ in 0..WARM_UP_RUNS {
        render();
    }
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut png_bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        png_bytes = render().len();
        times.push(started.elapsed());
    }
    times.sort();
    let millis = |duration: Duration| duration.as_secs_f64() * 1e3;
    let (median, min, max) = (
        millis(times[times.len() / 2]),
        millis(times[0]),
        millis(times[times.len() - 1]),
    );
    println!(
        "{name}: median {median:.1} ms, min {min:.1} ms, max {max:.1} ms over {runs} runs; PNG {png_bytes} bytes"
    );
    // One JSON line for `scripts/bench`, which collects them.
    println!(
        "bench-result {{\"measurement\":\"chart {name}\",\"unit\":\"ms\",\"median\":{median:.3},\"min\":{min:.3},\"max\":{max:.3},\"runs\":{runs}}}"
    );
}

/// Returns `count` benchmarks with spread ratios, a tenth of them worse
/// and a seventh better, as a large suite's comparison might look.
fn summary_entries(count: usize) -> Vec<SummaryEntry> {
    (0..count)
        .map(|index| {
            let ratio = 0.5 * 4f64.powf(index as f64 / count as f64);
            let verdict = match (index % 10, index % 7) {
                (0, _) => Verdict::Worse,
                (_, 0) => Verdict::Better,
                _ => Verdict::Unchanged,
            };
            SummaryEntry {
                name: format!(
                    "algorithms.Suite{}.time_operation({index}, 'float64')",
                    index % 40
                ),
                verdict,
                base: Some(1e-3),
                head: Some(1e-3 * ratio),
                base_interval: Some((0.95e-3, 1.05e-3)),
                head_interval: Some((0.95e-3 * ratio, 1.05e-3 * ratio)),
            }
        })
        .collect()
}

fn history_chart(count: usize, noise: NoiseBand) -> HistoryChart {
    let point = |index: usize, value: f64| HistoryPoint {
        commit: format!("{index:040x}"),
        value: Some(value),
        interval: Some((value * 0.97, value * 1.03)),
    };
    HistoryChart {
        title: "algorithms.Suite1.time_operation(1, 'float64')".to_owned(),
        unit: Some("seconds".to_owned()),
        history: (0..count)
            .map(|index| point(index, 1e-3 * (1.0 + 0.05 * ((index % 17) as f64 / 17.0))))
            .collect(),
        base: point(count, 1e-3),
        head: point(count + 1, 1.5e-3),
        head_verdict: Verdict::Worse,
        noise,
    }
}
