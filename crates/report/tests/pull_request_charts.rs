//! The chart image and history links in the pull-request comment, on a
//! comparison of a real asv results file with a copy where one benchmark
//! is 3 times slower.

use pitot_asv::{parse_benchmarks, parse_results, Outcome};
use pitot_report::{
    render_check_summary, render_pull_request_comment, ChartLink, CommentCharts, PullRequestContext,
};
use pitot_stats::{compare, CompareOptions, Comparison};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/asv");
const RESULTS: &str = "conda-benchmarks/results/Daniels-MBP.monotreme.club/\
    044cf5df-conda-py3.10-conda-libmamba-solver-conda-package-handling2.0.2.json";
const BENCHMARKS: &str = "conda-benchmarks/results/benchmarks.json";
const SLOWED: &str = "subdir_data.TimeSubdirData.time_load_json";
const SUMMARY_URL: &str = "https://pitot.example/charts/jobs/42/summary-0123456789abcdef.png";

#[track_caller]
fn read_fixture(path: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{path}");
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// Compares the results file with a copy whose `time_load_json` values,
/// intervals and samples are 3 times larger.
fn slowed_comparison() -> Comparison {
    let base = parse_results(&read_fixture(RESULTS)).expect("a valid results file");
    let suite = parse_benchmarks(&read_fixture(BENCHMARKS)).expect("a valid benchmarks.json");
    let mut head = base.clone();
    head.commit_hash = "fcf8c079fae7d1f1e2c0b5c86e3f9d1a2b3c4d5e".to_owned();
    let slowed = head
        .benchmarks
        .iter_mut()
        .find(|benchmark| benchmark.name == SLOWED)
        .expect("the fixture has time_load_json");
    for outcome in &mut slowed.outcomes {
        if let Outcome::Value(value) = outcome {
            *value *= 3.0;
        }
    }
    for stats in slowed.stats.iter_mut().flatten() {
        stats.ci_99 = stats.ci_99.map(|(low, high)| (low * 3.0, high * 3.0));
    }
    for samples in slowed.samples.iter_mut().flatten() {
        samples.iter_mut().for_each(|sample| *sample *= 3.0);
    }
    compare(&[base], &[head], &suite, &CompareOptions::default()).expect("comparable results")
}

fn context(charts: Option<&CommentCharts>) -> PullRequestContext<'_> {
    PullRequestContext {
        repository: "owner/name",
        web_url: "https://github.com",
        base_sha: "044cf5df4e0b1d4ba06e8b6a45b64b4a1a38e3b2",
        head_sha: "fcf8c079fae7d1f1e2c0b5c86e3f9d1a2b3c4d5e",
        machine: "cheetah",
        dashboard_url: None,
        charts,
        marker: "<!-- pitot:sticky owner/name#7 -->",
        quarantines: None,
        base_drift: None,
        confirmation: None,
    }
}

fn charts(histories: Vec<ChartLink>, omitted: usize) -> CommentCharts {
    CommentCharts {
        summary_url: SUMMARY_URL.to_owned(),
        histories,
        histories_omitted: omitted,
    }
}

fn link(name: &str, url: &str) -> ChartLink {
    ChartLink {
        name: name.to_owned(),
        url: url.to_owned(),
    }
}

#[test]
fn comment_embeds_the_summary_before_the_tables() {
    let comparison = slowed_comparison();
    let charts = charts(Vec::new(), 0);

    let body = render_pull_request_comment(&comparison, &context(Some(&charts)));

    let image = format!("![Head/base ratio of each benchmark, log scale]({SUMMARY_URL})");
    let image_at = body
        .find(&image)
        .unwrap_or_else(|| panic!("no image: {body}"));
    let table_at = body.find("| Change |").expect("a table of changes");
    assert!(image_at < table_at, "the image comes first: {body}");
    assert!(!body.contains("History charts"), "no links given: {body}");
}

#[test]
fn comment_lists_history_links() {
    let comparison = slowed_comparison();
    let url = "https://pitot.example/charts/jobs/42/history-3-fedcba9876543210.png";
    let charts = charts(vec![link(SLOWED, url)], 2);

    let body = render_pull_request_comment(&comparison, &context(Some(&charts)));

    assert!(body.contains(&format!("- [`{SLOWED}`]({url})")), "{body}");
    assert!(
        body.contains("_2 more changed benchmarks without a link here._"),
        "{body}"
    );
}

#[test]
fn hostile_names_and_urls_stay_inert() {
    let comparison = slowed_comparison();
    let charts = CommentCharts {
        summary_url: "https://pitot.example/a) ![x](https://evil.example/x.png".to_owned(),
        histories: vec![link(
            "time_x`](https://evil.example) @admin",
            "https://pitot.example/h.png",
        )],
        histories_omitted: 0,
    };

    let body = render_pull_request_comment(&comparison, &context(Some(&charts)));

    assert!(
        body.contains("(https://pitot.example/a%29%20!%5Bx%5D%28https://evil.example/x.png)"),
        "the URL cannot end the link: {body}"
    );
    assert!(
        body.contains("[``time_x`](https://evil.example) @admin``](https://pitot.example/h.png)"),
        "the name stays in a code span: {body}"
    );
}

#[test]
fn comment_without_charts_has_no_image() {
    let comparison = slowed_comparison();

    let body = render_pull_request_comment(&comparison, &context(None));

    assert!(!body.contains("!["), "{body}");
}

#[test]
fn check_summary_leaves_charts_out() {
    let comparison = slowed_comparison();
    let charts = charts(vec![link(SLOWED, "https://pitot.example/h.png")], 0);

    let summary = render_check_summary(&comparison, &context(Some(&charts)));

    assert!(!summary.contains(SUMMARY_URL), "{summary}");
    assert!(!summary.contains("History charts"), "{summary}");
}
