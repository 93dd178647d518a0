//! The three formats on small comparisons built from the model types:
//! asv's spelling of edge cases, the Markdown verdict and its escaping,
//! and the JSON fields.

use pitot_asv::{
    BenchmarkInfo, BenchmarkResult, BenchmarkSuite, BenchmarkType, Outcome, ResultsFile, Stats,
};
use pitot_report::{render_asv, render_json, render_markdown, CommitLabel, RenderOptions};
use pitot_stats::{compare, CompareOptions, Comparison};

fn result(name: &str, outcome: Outcome, stats: Option<Stats>) -> BenchmarkResult {
    BenchmarkResult {
        name: name.to_owned(),
        outcomes: vec![outcome],
        stats: vec![stats],
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

#[track_caller]
fn comparison(
    before: Vec<BenchmarkResult>,
    after: Vec<BenchmarkResult>,
    suite: &BenchmarkSuite,
) -> Comparison {
    compare(
        &[file(before)],
        &[file(after)],
        suite,
        &CompareOptions::default(),
    )
    .expect("comparable")
}

fn options() -> RenderOptions {
    RenderOptions {
        before: CommitLabel {
            hash: "22b920c6d0d5".to_owned(),
            name: None,
        },
        after: CommitLabel {
            hash: "fcf8c079fae7".to_owned(),
            name: Some("main".to_owned()),
        },
        ..RenderOptions::default()
    }
}

fn wide_stats(center: f64) -> Option<Stats> {
    Some(Stats {
        ci_99: Some((center - 2.0, center + 2.0)),
        q_25: Some(center - 0.5),
        q_75: Some(center + 0.5),
        number: Some(1.0),
        repeat: Some(10.0),
    })
}

#[test]
fn asv_text_spells_edge_cases() {
    let suite = time_suite(&["time_both_zero", "time_from_zero", "time_vetoed_from_zero"]);
    let before = vec![
        result("time_both_zero", Outcome::Value(0.0), None),
        result("time_from_zero", Outcome::Value(0.0), None),
        result(
            "time_vetoed_from_zero",
            Outcome::Value(0.0),
            wide_stats(0.0),
        ),
    ];
    let after = vec![
        result("time_both_zero", Outcome::Value(0.0), None),
        result("time_from_zero", Outcome::Value(2.0), None),
        result(
            "time_vetoed_from_zero",
            Outcome::Value(1.0),
            wide_stats(1.0),
        ),
    ];

    let text = render_asv(&comparison(before, after, &suite), &options());

    // Checked against asv 0.6.6's `human_value` and tabulate 0.10.0.
    let expected = "
All benchmarks:

| Change   | Before [22b920c6]    | After [fcf8c079] <main>   | Ratio   | Benchmark (Parameter)   |
|----------|----------------------|---------------------------|---------|-------------------------|
|          | 0s                   | 0s                        | n/a     | time_both_zero          |
| +        | 0s                   | 2.00s                     | n/a     | time_from_zero          |
|          | 0±500ms              | 1.00±0.5s                 | ~n/a    | time_vetoed_from_zero   |
";
    assert_eq!(text, expected);
}

#[test]
fn asv_text_empty_when_nothing_changed() {
    let suite = time_suite(&["time_a"]);
    let same = vec![result("time_a", Outcome::Value(1.0), None)];

    let text = render_asv(
        &comparison(same.clone(), same, &suite),
        &RenderOptions {
            only_changed: true,
            ..options()
        },
    );

    assert_eq!(text, "");
}

#[test]
fn markdown_verdict_lines() {
    let suite = time_suite(&["time_a", "time_b"]);
    let value = |name: &str, value: f64| result(name, Outcome::Value(value), None);
    let cases = [
        (
            vec![value("time_a", 1.0)],
            vec![value("time_a", 1.0)],
            "**No significant change**: 1 unchanged",
        ),
        (
            vec![value("time_a", 3.0)],
            vec![value("time_a", 1.0)],
            "**No benchmark got worse**: 1 improved, 0 unchanged",
        ),
        (
            vec![value("time_a", 1.0), value("time_b", 1.0)],
            vec![value("time_a", 3.0), value("time_b", 1.0)],
            "**1 benchmark got worse**: 1 unchanged",
        ),
        (
            vec![value("time_a", 1.0), value("time_b", 1.0)],
            vec![
                value("time_a", 3.0),
                result("time_b", Outcome::Failed, None),
            ],
            "**2 benchmarks got worse**: 0 unchanged",
        ),
    ];
    for (before, after, headline) in cases {
        let markdown = render_markdown(&comparison(before, after, &suite), &options());

        let first_line = markdown.lines().next().unwrap_or_default();
        assert!(
            first_line.starts_with(headline),
            "expected {headline:?}, got {first_line:?}"
        );
        assert!(
            first_line.ends_with("(after `fcf8c079` (`main`) against before `22b920c6`, factor 1.10, with statistics)."),
            "{first_line}"
        );
    }
}

#[test]
fn markdown_table_survives_hostile_names() {
    let hostile = [
        "time_pipe|injected|cells",
        "time_backslash\\|pipe",
        "time_`code` and ``more``",
        "time_<img src=x onerror=alert(1)>",
        "time_mention @octocat",
        "time_link [x](https://evil.example)",
        "time_line\nbreak",
    ];
    let suite = BenchmarkSuite::default();
    let before: Vec<_> = hostile
        .iter()
        .map(|name| result(name, Outcome::Value(1.0), None))
        .collect();
    let after: Vec<_> = hostile
        .iter()
        .map(|name| result(name, Outcome::Value(3.0), None))
        .collect();

    let markdown = render_markdown(&comparison(before, after, &suite), &options());

    let rows: Vec<&str> = markdown
        .lines()
        .filter(|line| line.starts_with("| **worse**"))
        .collect();
    assert_eq!(
        rows.len(),
        hostile.len(),
        "one table row per benchmark:\n{markdown}"
    );
    for row in rows {
        assert_eq!(cell_separators(row), 6, "five cells in {row:?}");
        assert!(
            !row.contains("<img") || row.contains("`time_<img"),
            "HTML stays in a code span: {row}"
        );
    }
}

/// Counts the pipes that GFM reads as cell separators: those not escaped
/// by a backslash that is itself unescaped.
fn cell_separators(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

#[test]
fn json_writes_null_for_non_finite_numbers() {
    let suite = time_suite(&["time_a"]);
    let before = vec![result("time_a", Outcome::Value(1.0), None)];
    let after = vec![result("time_a", Outcome::Value(f64::INFINITY), None)];

    let text = render_json(&comparison(before, after, &suite), &options()).expect("JSON");

    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let row = &report["rows"][0];
    assert_eq!(row["ratio"], serde_json::Value::Null);
    assert_eq!(row["after"]["value"], serde_json::Value::Null);
    assert_eq!(row["after"]["state"], "value");
    assert_eq!(row["mark"], "+");
    assert_eq!(report["after"]["name"], "main");
    assert_eq!(report["before"]["hash"], "22b920c6d0d5");
}
