//! pitot's verdict in the Markdown report, the JSON report and the pull
//! request comment: the ratio interval, the threshold and the sentence
//! on how the verdict was decided.

use pitot_asv::{
    BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile, Stats,
};
use pitot_report::{
    render_asv, render_json, render_markdown, render_pull_request_comment, CommitLabel,
    PullRequestContext, RenderOptions, Verdict,
};
use pitot_stats::{
    assess, compare, CompareOptions, Comparison, DetectionOptions, NoiseThreshold, Row,
    ThresholdSource,
};

fn sampled(name: &str, median: f64, samples: Vec<f64>) -> BenchmarkResult {
    let low = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let high = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    BenchmarkResult {
        name: name.to_owned(),
        outcomes: vec![Outcome::Value(median)],
        stats: vec![Some(Stats {
            ci_99: Some((low, high)),
            q_25: Some(low),
            q_75: Some(high),
            number: Some(1.0),
            repeat: Some(samples.len() as f64),
        })],
        samples: vec![Some(samples)],
        ..BenchmarkResult::default()
    }
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

fn time_suite(names: &[&str]) -> BenchmarkSuite {
    let benchmarks = names
        .iter()
        .map(|name| {
            let info = BenchmarkInfo {
                name: (*name).to_owned(),
                kind: BenchmarkType::Time,
                unit: "seconds".to_owned(),
                params: Vec::new(),
                param_names: Vec::new(),
                version: None,
            };
            ((*name).to_owned(), info)
        })
        .collect();
    BenchmarkSuite { benchmarks }
}

/// `time_slow`: base ten samples of 1.0, head 1.1, 1.2, ..., 2.0 (median
/// 1.55). The Hodges-Lehmann interval is [1.2, 1.9] around sqrt(2.4) =
/// 1.549 (worked out in `pitot_stats::interval`'s tests). `time_flat`:
/// the same ten samples on both sides.
fn comparison() -> Comparison {
    let head: Vec<f64> = (11..=20).map(|k| f64::from(k) / 10.0).collect();
    let flat: Vec<f64> = (1..=10).map(f64::from).collect();
    let before = vec![
        sampled("time_slow", 1.0, vec![1.0; 10]),
        sampled("time_flat", 5.5, flat.clone()),
    ];
    let after = vec![
        sampled("time_slow", 1.55, head),
        sampled("time_flat", 5.5, flat),
    ];
    compare(
        &[file(before)],
        &[file(after)],
        &time_suite(&["time_slow", "time_flat"]),
        &CompareOptions::default(),
    )
    .expect("comparable")
}

/// Assesses with a learnt 4.5% threshold for `time_slow` and the default
/// for every other row.
fn assessed() -> Comparison {
    let mut comparison = comparison();
    let threshold_of = |row: &Row| {
        if row.name == "time_slow" {
            NoiseThreshold {
                relative: 0.045,
                source: ThresholdSource::History { points: 50 },
            }
        } else {
            NoiseThreshold::without_history(3, 1.1)
        }
    };
    assess(&mut comparison, threshold_of, &DetectionOptions::default()).expect("valid options");
    comparison
}

fn options() -> RenderOptions {
    RenderOptions {
        before: CommitLabel {
            hash: "22b920c6d0d5".to_owned(),
            name: None,
        },
        after: CommitLabel {
            hash: "fcf8c079fae7".to_owned(),
            name: None,
        },
        ..RenderOptions::default()
    }
}

#[test]
fn markdown_shows_interval_and_threshold() {
    let markdown = render_markdown(&assessed(), &options());

    assert!(
        markdown.contains("| Change | Before | After | Ratio [interval] | Threshold | Benchmark |"),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "| **worse** | 1.00±0s | 1.55±0.4s | 1.55 [1.20, 1.90] | 4.5% | `time_slow` |"
        ),
        "{markdown}"
    );
    // `time_flat`: of the 100 ratios a / b with a, b in 1..=10, 16 are
    // below 0.4 (1/3..1/10, 2/6..2/10, 3/8..3/10) and 2/5 is the 17th, so
    // the interval runs from 0.4 to its mirror image 2.5.
    assert!(
        markdown
            .contains("| 5.50±4s | 5.50±4s | 1.00 [0.40, 2.50] | 10.0% (default) | `time_flat` |"),
        "{markdown}"
    );
}

#[test]
fn markdown_explains_the_verdict() {
    let markdown = render_markdown(&assessed(), &options());

    assert!(
        markdown.contains("at a false discovery rate of 5% across 2 U tests"),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "1 benchmark had too little history (fewer than 10 results), so the factor 1.10 \
             is the threshold."
        ),
        "{markdown}"
    );
    assert!(
        markdown.contains("with an interval: 2 at 99% from the samples (Hodges-Lehmann), 0 from"),
        "{markdown}"
    );
}

#[test]
fn markdown_without_assessment_is_unchanged() {
    let markdown = render_markdown(&comparison(), &options());

    assert!(
        markdown.contains("| Change | Before | After | Ratio | Benchmark |"),
        "{markdown}"
    );
    assert!(!markdown.contains("pitot's verdict"), "{markdown}");
}

#[test]
fn asv_format_ignores_the_verdict() {
    // asv's text is the same with and without pitot's verdict.
    assert_eq!(
        render_asv(&assessed(), &options()),
        render_asv(&comparison(), &options())
    );
}

#[test]
fn json_carries_the_verdict() {
    let text = render_json(&assessed(), &options()).expect("JSON");
    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");

    assert_eq!(report["detection"]["fdr_level"], 0.05);
    assert_eq!(report["detection"]["interval_level"], 0.99);
    let slow = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|row| row["name"] == "time_slow")
        .expect("time_slow row");
    let verdict = &slow["verdict"];
    assert_eq!(verdict["finding"], "regression");
    assert_eq!(verdict["threshold"], 0.045);
    assert_eq!(verdict["threshold_source"], "history");
    assert_eq!(verdict["history_points"], 50);
    assert_eq!(verdict["interval"]["method"], "hodges_lehmann");
    let low = verdict["interval"]["low"].as_f64().expect("low bound");
    assert!((low - 1.2).abs() < 1e-12, "{low}");
    assert_eq!(slow["change"], "worse");
}

#[test]
fn json_without_assessment_has_null_verdict() {
    let text = render_json(&comparison(), &options()).expect("JSON");
    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");

    assert!(report["detection"].is_null());
    assert!(report["rows"][0]["verdict"].is_null());
}

fn context() -> PullRequestContext<'static> {
    PullRequestContext {
        repository: "o/r",
        web_url: "https://github.com",
        base_sha: "22b920c6d0d5aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        head_sha: "fcf8c079fae7bbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        machine: "cheetah",
        dashboard_url: None,
        marker: "<!-- pitot:sticky o/r#7 -->",
        quarantines: None,
        confirmation: None,
        charts: None,
        base_drift: None,
    }
}

#[test]
fn comment_shows_interval_threshold_and_rule() {
    let comparison = assessed();

    let body = render_pull_request_comment(&comparison, &context());

    assert!(
        body.contains("| Change | Base | Head | Ratio [interval] | Threshold | Benchmark |"),
        "{body}"
    );
    assert!(
        body.contains("| 1.55 [1.20, 1.90] | 4.5% | `time_slow` |"),
        "{body}"
    );
    assert!(
        body.contains("pitot's verdict: a benchmark changed when"),
        "{body}"
    );
    assert_eq!(Verdict::of(&comparison), Verdict::Regressed);
}

#[test]
fn comment_verdict_follows_the_threshold() {
    // The same 55% slowdown under a 60% threshold is noise: no regression,
    // although asv marks the row `+`.
    let mut comparison = comparison();
    let threshold = NoiseThreshold {
        relative: 0.6,
        source: ThresholdSource::History { points: 50 },
    };
    assess(&mut comparison, |_| threshold, &DetectionOptions::default()).expect("valid options");

    let body = render_pull_request_comment(&comparison, &context());

    assert_eq!(Verdict::of(&comparison), Verdict::NoSignificantChange);
    assert!(comparison.got_worse(), "asv's verdict");
    assert!(
        body.starts_with("<!-- pitot:sticky o/r#7 -->\n**No significant change**"),
        "{body}"
    );
}
