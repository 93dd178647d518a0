//! pitot's verdict ([`pitot_stats::assess`]) on whole comparisons: the
//! three conditions, the false discovery rate across rows, the fallbacks
//! for zero and negative values, and asv's marks left untouched.

use pitot_asv::{
    BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile, Stats,
};
use pitot_stats::{
    assess, compare, CompareError, CompareOptions, Comparison, DetectionOptions, Finding,
    IntervalMethod, Mark, NoiseThreshold, Row, ThresholdSource,
};

/// asv's statistics for a side with ten samples.
fn stats(samples: &[f64]) -> Stats {
    let low = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let high = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Stats {
        ci_99: Some((low, high)),
        q_25: Some(low),
        q_75: Some(high),
        number: Some(1.0),
        repeat: Some(samples.len() as f64),
    }
}

/// Builds a benchmark result with one value and its samples, or only a value.
fn result(name: &str, value: Outcome, samples: Option<Vec<f64>>) -> BenchmarkResult {
    BenchmarkResult {
        name: name.to_owned(),
        outcomes: vec![value],
        stats: vec![samples.as_deref().map(stats)],
        samples: vec![samples],
        ..BenchmarkResult::default()
    }
}

fn sampled(name: &str, samples: Vec<f64>) -> BenchmarkResult {
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[4] + sorted[5]) / 2.0;
    result(name, Outcome::Value(median), Some(samples))
}

/// Ten samples around `center`: center * (1 + k / 1000) for k = 0..10.
fn ten(center: f64) -> Vec<f64> {
    (0..10)
        .map(|k| center * (1.0 + f64::from(k) / 1000.0))
        .collect()
}

fn file(benchmarks: Vec<BenchmarkResult>) -> ResultsFile {
    ResultsFile {
        schema_version: 2,
        machine: "cheetah".to_owned(),
        env_name: "py3.12".to_owned(),
        commit_hash: "0123456789abcdef".to_owned(),
        benchmarks,
        ..ResultsFile::default()
    }
}

fn suite(entries: &[(&str, BenchmarkType, &str)]) -> BenchmarkSuite {
    let benchmarks = entries
        .iter()
        .map(|(name, kind, unit)| {
            let info = BenchmarkInfo {
                name: (*name).to_owned(),
                kind: kind.clone(),
                unit: (*unit).to_owned(),
                params: Vec::new(),
                param_names: Vec::new(),
                version: None,
            };
            ((*name).to_owned(), info)
        })
        .collect();
    BenchmarkSuite { benchmarks }
}

fn threshold(relative: f64) -> NoiseThreshold {
    NoiseThreshold {
        relative,
        source: ThresholdSource::History { points: 20 },
    }
}

#[track_caller]
fn assessed(
    before: Vec<BenchmarkResult>,
    after: Vec<BenchmarkResult>,
    suite: &BenchmarkSuite,
    relative: f64,
) -> Comparison {
    let mut comparison = compare(
        &[file(before)],
        &[file(after)],
        suite,
        &CompareOptions::default(),
    )
    .expect("valid comparison");
    assess(
        &mut comparison,
        |_| threshold(relative),
        &DetectionOptions::default(),
    )
    .expect("valid options");
    comparison
}

fn row<'a>(comparison: &'a Comparison, name: &str) -> &'a Row {
    comparison
        .rows
        .iter()
        .find(|row| row.name == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

fn finding(row: &Row) -> Finding {
    row.detection.expect("assessed").finding
}

fn time_suite() -> BenchmarkSuite {
    suite(&[("time_x", BenchmarkType::Time, "seconds")])
}

#[test]
fn slowdown_above_threshold_is_regression() {
    // Ten samples a side, head 5% slower and fully separated: asv's U test
    // gives p = 1.08e-5, but asv's factor 1.1 leaves the mark blank.
    let comparison = assessed(
        vec![sampled("time_x", ten(1.0))],
        vec![sampled("time_x", ten(1.05))],
        &time_suite(),
        0.02,
    );

    let row = row(&comparison, "time_x");
    assert_eq!(row.mark, Mark::Unchanged, "asv's mark is unchanged");
    assert_eq!(finding(row), Finding::Regression);
    assert!(row.judged_worse());
    assert!(comparison.judged_worse());
    assert!(!comparison.got_worse(), "asv's verdict");
}

#[test]
fn slowdown_below_threshold_is_noise() {
    let comparison = assessed(
        vec![sampled("time_x", ten(1.0))],
        vec![sampled("time_x", ten(1.05))],
        &time_suite(),
        0.08,
    );

    let row = row(&comparison, "time_x");
    assert_eq!(finding(row), Finding::WithinNoise);
    assert!(!row.judged_worse());
}

#[test]
fn interval_of_separated_samples() {
    // Every head sample is exactly 1.05 times a base sample, so every
    // shift between matching samples is ln 1.05 and the estimate is 1.05.
    let comparison = assessed(
        vec![sampled("time_x", ten(1.0))],
        vec![sampled("time_x", ten(1.05))],
        &time_suite(),
        0.02,
    );

    let interval = row(&comparison, "time_x")
        .detection
        .and_then(|detection| detection.interval)
        .expect("interval");
    assert!((interval.estimate - 1.05).abs() < 1e-12, "{interval:?}");
    assert!(interval.low > 1.0, "{interval:?}");
    assert!(interval.high < 1.1, "{interval:?}");
    assert_eq!(
        interval.method,
        IntervalMethod::HodgesLehmann { level: 0.99 }
    );
}

#[test]
fn overlapping_samples_are_not_significant() {
    let before: Vec<f64> = (0..10).map(|k| 1.0 + f64::from(k) / 10.0).collect();
    let after: Vec<f64> = before.iter().rev().map(|x| x * 1.01).collect();

    let comparison = assessed(
        vec![sampled("time_x", before)],
        vec![sampled("time_x", after)],
        &time_suite(),
        0.0,
    );

    assert_eq!(finding(row(&comparison, "time_x")), Finding::NotSignificant);
}

#[test]
fn fdr_drops_lone_row_among_thousands() {
    // One fully separated row among 4,700 unchanged ones: its adjusted
    // p-value is 1.0825e-5 * 4701 = 0.0509, above 5%. Among 470 it is
    // 0.0051 and the row is kept.
    for (rows, expected) in [(4_700, Finding::NotDiscovered), (470, Finding::Regression)] {
        let mut before = vec![sampled("time_x", ten(1.0))];
        let mut after = vec![sampled("time_x", ten(1.5))];
        for index in 0..rows {
            let name = format!("time_same_{index:05}");
            before.push(sampled(&name, ten(1.0)));
            after.push(sampled(&name, ten(1.0)));
        }

        let comparison = assessed(before, after, &time_suite(), 0.02);

        let row = row(&comparison, "time_x");
        assert_eq!(row.mark, Mark::Increased, "asv flags it with {rows} rows");
        assert_eq!(finding(row), expected, "with {rows} other rows");
    }
}

#[test]
fn zero_and_negative_values_use_the_factor() {
    // No relative change exists, so asv's factor rule on the raw values
    // decides: 0 -> 5 is `+`, a regression for a time benchmark; -1 -> -2 is
    // `-`, an improvement; 0 -> 0 is neither.
    let cases = [
        (0.0, 5.0, Finding::Regression),
        (-1.0, -2.0, Finding::Improvement),
        (0.0, 0.0, Finding::WithinNoise),
    ];
    for (before, after, expected) in cases {
        let comparison = assessed(
            vec![result("time_x", Outcome::Value(before), None)],
            vec![result("time_x", Outcome::Value(after), None)],
            &time_suite(),
            0.0,
        );

        let row = row(&comparison, "time_x");
        let detection = row.detection.expect("assessed");
        assert_eq!(detection.finding, expected, "{before} -> {after}");
        assert_eq!(
            detection.threshold.source,
            ThresholdSource::Default { points: 0 },
            "{before} -> {after}"
        );
        assert_eq!(detection.interval, None, "{before} -> {after}");
    }
}

#[test]
fn higher_is_better_drop_is_regression() {
    let suite = suite(&[("track_speed", BenchmarkType::Track, "speedup")]);

    let comparison = assessed(
        vec![result("track_speed", Outcome::Value(4.0), None)],
        vec![result("track_speed", Outcome::Value(3.0), None)],
        &suite,
        0.1,
    );

    assert_eq!(
        finding(row(&comparison, "track_speed")),
        Finding::Regression
    );
}

#[test]
fn failures_keep_asv_verdict() {
    let comparison = assessed(
        vec![result("time_x", Outcome::Value(1.0), None)],
        vec![result("time_x", Outcome::Failed, None)],
        &time_suite(),
        0.02,
    );

    let row = row(&comparison, "time_x");
    assert_eq!(finding(row), Finding::NotApplicable);
    assert_eq!(row.mark, Mark::NewFailure);
    assert!(row.judged_worse());
}

#[test]
fn invalid_levels_are_rejected() {
    let cases = [
        (0.0, 0.99, CompareError::InvalidFdrLevel(0.0)),
        (1.5, 0.99, CompareError::InvalidFdrLevel(1.5)),
        (0.05, 1.0, CompareError::InvalidIntervalLevel(1.0)),
        (0.05, f64::NAN, CompareError::InvalidIntervalLevel(f64::NAN)),
    ];
    for (fdr_level, interval_level, expected) in cases {
        let mut comparison = compare(
            &[file(vec![sampled("time_x", ten(1.0))])],
            &[file(vec![sampled("time_x", ten(1.0))])],
            &time_suite(),
            &CompareOptions::default(),
        )
        .expect("valid comparison");
        let options = DetectionOptions {
            fdr_level,
            interval_level,
        };

        let error = assess(&mut comparison, |_| threshold(0.0), &options).expect_err("invalid");

        // NaN != NaN, so compare the messages.
        assert_eq!(error.to_string(), expected.to_string());
    }
}
