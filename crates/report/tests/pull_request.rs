//! The pull-request comment, its failure variant and the check run summary,
//! on comparisons built from a real asv results file (conda-benchmarks)
//! that each test edits: a slower benchmark, a failing one, a new one,
//! hostile names, thousands of long names.

use pitot_asv::{
    parse_benchmarks, parse_results, BenchmarkResult, BenchmarkSuite, Outcome, ResultsFile,
};
use pitot_report::pull_request::{CHECK_SUMMARY_MAX_BYTES, COMMENT_MAX_CHARS, LENGTH_MARGIN};
use pitot_report::{
    flagged_regressions, pull_request_verdict, render_check_summary, render_pull_request_comment,
    render_pull_request_failure, BaseDrift, Confirmation, ConfirmationRun, PullRequestContext,
    QuarantineKind, QuarantineNote, Quarantines, Verdict,
};
use pitot_stats::{compare, CompareOptions, Comparison};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/asv");
const CONDA_RESULTS: &str = "conda-benchmarks/results/Daniels-MBP.monotreme.club/\
    044cf5df-conda-py3.10-conda-libmamba-solver-conda-package-handling2.0.2.json";
const CONDA_BENCHMARKS: &str = "conda-benchmarks/results/benchmarks.json";

const BASE_SHA: &str = "044cf5df4e0b1d4ba06e8b6a45b64b4a1a38e3b2";
const HEAD_SHA: &str = "fcf8c079fae7d1f1e2c0b5c86e3f9d1a2b3c4d5e";
const MARKER: &str = "<!-- pitot:sticky owner/name#7 -->";
const DASHBOARD: &str = "https://pitot.example/runs/42";

#[track_caller]
fn read_fixture(path: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{path}");
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn conda_base() -> ResultsFile {
    parse_results(&read_fixture(CONDA_RESULTS)).expect("a valid results file")
}

fn conda_suite() -> BenchmarkSuite {
    parse_benchmarks(&read_fixture(CONDA_BENCHMARKS)).expect("a valid benchmarks.json")
}

fn context(machine: &str) -> PullRequestContext<'_> {
    PullRequestContext {
        repository: "owner/name",
        web_url: "https://github.com",
        base_sha: BASE_SHA,
        head_sha: HEAD_SHA,
        machine,
        dashboard_url: Some(DASHBOARD),
        charts: None,
        marker: MARKER,
        quarantines: None,
        base_drift: None,
        confirmation: None,
    }
}

#[track_caller]
fn benchmark<'a>(file: &'a mut ResultsFile, name: &str) -> &'a mut BenchmarkResult {
    file.benchmarks
        .iter_mut()
        .find(|benchmark| benchmark.name == name)
        .unwrap_or_else(|| panic!("no benchmark {name} in the fixture"))
}

/// Multiplies every value of a benchmark, with its statistics and samples,
/// so the significance test sees the same spread around a new centre.
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

fn fail(result: &mut BenchmarkResult) {
    result.outcomes.fill(Outcome::Failed);
    result.stats.fill(None);
    result.samples.fill(None);
}

#[track_caller]
fn compare_files(base: ResultsFile, head: ResultsFile, suite: &BenchmarkSuite) -> Comparison {
    compare(&[base], &[head], suite, &CompareOptions::default()).expect("comparable results")
}

/// Compares the conda results with an edited copy: `time_load_json` 3 times
/// slower, `time_load_json_query_one` 1.5 times slower,
/// `track_streaming_versus_handling` (higher is better) halved,
/// `time_save_pickle` 4 times faster, `time_conda_run` failing,
/// `time_subdir_data` removed, `time_new_benchmark` added and
/// `time_load_pickle` with a new version. The fixture's `time_extract`
/// fails in half of its combinations on both sides.
fn edited_comparison() -> Comparison {
    let base = conda_base();
    let mut head = base.clone();
    head.commit_hash = HEAD_SHA.to_owned();
    scale(
        benchmark(&mut head, "subdir_data.TimeSubdirData.time_load_json"),
        3.0,
    );
    scale(
        benchmark(
            &mut head,
            "subdir_data.TimeSubdirData.time_load_json_query_one",
        ),
        1.5,
    );
    scale(
        benchmark(
            &mut head,
            "extract.TrackSuite.track_streaming_versus_handling",
        ),
        0.5,
    );
    scale(
        benchmark(&mut head, "subdir_data.TimeSubdirData.time_save_pickle"),
        0.25,
    );
    fail(benchmark(&mut head, "run_versus_activate.time_conda_run"));
    head.benchmarks
        .retain(|benchmark| benchmark.name != "subdir_data.TimeSubdirData.time_subdir_data");
    let mut new_benchmark = benchmark(&mut head, "run_versus_activate.time_conda_run").clone();
    new_benchmark.name = "time_new_benchmark".to_owned();
    new_benchmark.outcomes = vec![Outcome::Value(0.5)];
    head.benchmarks.push(new_benchmark);
    benchmark(&mut head, "subdir_data.TimeSubdirData.time_load_pickle").version =
        Some("a-changed-version".to_owned());

    compare_files(base, head, &conda_suite())
}

/// Returns the table rows of the section whose bold title starts with
/// `title`, or an empty list when the comment has no such section.
fn section_rows<'a>(body: &'a str, title: &str) -> Vec<&'a str> {
    let heading = format!("**{title}");
    let mut lines = body.lines().skip_while(|line| !line.starts_with(&heading));
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .skip_while(|line| line.is_empty())
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .collect()
}

/// Returns the lines between `<details>` and `</details>`.
fn details_lines(body: &str) -> Vec<&str> {
    body.lines()
        .skip_while(|line| !line.starts_with("<details>"))
        .take_while(|line| *line != "</details>")
        .collect()
}

/// Returns whether some line contains the benchmark name in a code span.
fn mentions(lines: &[&str], name: &str) -> bool {
    let span = format!("`{name}`");
    lines.iter().any(|line| line.contains(&span))
}

/// Returns the line with the benchmark name in a code span.
#[track_caller]
fn row_of<'a>(lines: &[&'a str], name: &str) -> &'a str {
    let span = format!("`{name}`");
    lines
        .iter()
        .find(|line| line.contains(&span))
        .copied()
        .unwrap_or_else(|| panic!("no row for {name} in {lines:#?}"))
}

/// Returns the line with code spans removed, following CommonMark. A run
/// of n backticks opens a span that the next run of exactly n backticks
/// closes, and a run without such a match is literal text.
fn outside_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let run_at = |start: usize| chars[start..].iter().take_while(|c| **c == '`').count();
    let mut output = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            output.push(chars[i]);
            i += 1;
            continue;
        }
        let opening = run_at(i);
        let mut j = i + opening;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let run = run_at(j);
                if run == opening {
                    close = Some(j + run);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => i = end,
            None => {
                output.extend(&chars[i..i + opening]);
                i += opening;
            }
        }
    }
    output
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

/// Returns the lines outside fenced code blocks.
fn outside_fenced_blocks(body: &str) -> Vec<&str> {
    let mut outside = Vec::new();
    let mut fence: Option<usize> = None;
    for line in body.lines() {
        let run = line.chars().take_while(|c| *c == '`').count();
        match fence {
            None if run >= 3 => fence = Some(run),
            None => outside.push(line),
            Some(open) if run >= open && line.trim_start_matches('`').trim().is_empty() => {
                fence = None
            }
            Some(_) => {}
        }
    }
    outside
}

#[test]
fn comment_starts_with_marker_and_verdict() {
    let comparison = edited_comparison();

    let body = render_pull_request_comment(&comparison, &context("Daniels-MBP.monotreme.club"));

    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], MARKER);
    let verdict = lines[1];
    assert!(verdict.starts_with("**Regressed**: "), "{verdict}");
    for part in [
        "3 benchmarks got worse",
        "6 benchmarks failed on head (1 newly)",
        "1 improved",
        "1 new",
        "1 removed",
        "6 not comparable",
    ] {
        assert!(verdict.contains(part), "{part:?} missing in {verdict}");
    }
    let unchanged = details_lines(&body)
        .iter()
        .filter(|line| line.starts_with("| "))
        .count()
        - 1;
    assert!(
        verdict.ends_with(&format!(", {unchanged} unchanged.")),
        "{verdict}"
    );
}

#[test]
fn comment_links_commits_and_names_machine() {
    let comparison = edited_comparison();

    let body = render_pull_request_comment(&comparison, &context("Daniels-MBP.monotreme.club"));

    assert!(
        body.contains("Head [`fcf8c079fa`](https://github.com/owner/name/commit/fcf8c079fae7d1f1e2c0b5c86e3f9d1a2b3c4d5e)"),
        "{body}"
    );
    assert!(
        body.contains("base [`044cf5df4e`](https://github.com/owner/name/commit/044cf5df4e0b1d4ba06e8b6a45b64b4a1a38e3b2)"),
        "{body}"
    );
    assert!(
        body.contains("on machine `Daniels-MBP.monotreme.club`, factor 1.10, with statistics."),
        "{body}"
    );
}

#[test]
fn base_drift_warns_in_comment_and_summary() {
    let comparison = edited_comparison();
    let drift = BaseDrift {
        branch: "main".to_owned(),
        new_commits: 12,
        contains_base: true,
    };
    let context = PullRequestContext {
        base_drift: Some(&drift),
        ..context("cheetah")
    };
    let expected = format!(
        "`main` has 12 new commits since this run's base [`{}`](https://github.com/owner/name/commit/{BASE_SHA})",
        &BASE_SHA[..10]
    );

    let body = render_pull_request_comment(&comparison, &context);
    let summary = render_check_summary(&comparison, &context);
    let without = render_pull_request_comment(&comparison, &self::context("cheetah"));

    assert!(body.contains(&expected), "{body}");
    assert!(summary.contains(&expected), "{summary}");
    assert!(!without.contains("new commits"), "{without}");
}

#[test]
fn commit_links_follow_enterprise_web_url() {
    let comparison = edited_comparison();
    let context = PullRequestContext {
        web_url: "https://github.example.com/",
        ..context("cheetah")
    };

    let body = render_pull_request_comment(&comparison, &context);

    assert!(
        body.contains(&format!(
            "(https://github.example.com/owner/name/commit/{HEAD_SHA})"
        )),
        "{body}"
    );
}

#[test]
fn significant_changes_sorted_worst_first() {
    let comparison = edited_comparison();

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    let rows = section_rows(&body, "Significant changes");
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert!(rows[0].starts_with("| **worse** |"), "{}", rows[0]);
    assert!(rows[0].contains("| 3.00 |"), "{}", rows[0]);
    assert!(
        rows[0].ends_with("| `subdir_data.TimeSubdirData.time_load_json` |"),
        "{}",
        rows[0]
    );
    // A speedup halved is a regression by a factor of 2, so it comes second.
    assert!(rows[1].starts_with("| **worse** |"), "{}", rows[1]);
    assert!(rows[1].contains("| 0.50 |"), "{}", rows[1]);
    assert!(
        rows[1].ends_with("| `extract.TrackSuite.track_streaming_versus_handling` |"),
        "{}",
        rows[1]
    );
    assert!(rows[2].starts_with("| **worse** |"), "{}", rows[2]);
    assert!(rows[2].contains("| 1.50 |"), "{}", rows[2]);
    assert!(
        rows[2].ends_with("| `subdir_data.TimeSubdirData.time_load_json_query_one` |"),
        "{}",
        rows[2]
    );
    assert!(rows[3].starts_with("| better |"), "{}", rows[3]);
    assert!(rows[3].contains("| 0.25 |"), "{}", rows[3]);
    assert!(
        rows[3].ends_with("| `subdir_data.TimeSubdirData.time_save_pickle` |"),
        "{}",
        rows[3]
    );
}

#[test]
fn failed_new_and_removed_have_own_sections() {
    let comparison = edited_comparison();

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    let failed = section_rows(&body, "Failed on head");
    assert_eq!(failed.len(), 6, "{failed:#?}");
    let new_failure = row_of(&failed, "run_versus_activate.time_conda_run");
    assert!(
        new_failure.starts_with("| **new failure** | 370±10ms | failed |"),
        "{new_failure}"
    );
    let both_failed = row_of(
        &failed,
        "extract.TimeExtract.time_extract(1, '.conda', 'rust')",
    );
    assert!(
        both_failed.starts_with("| failed on base too | failed | failed |"),
        "{both_failed}"
    );

    let new = section_rows(&body, "New benchmarks");
    assert_eq!(new, ["| 0.5 | `time_new_benchmark` |"]);

    let removed = section_rows(&body, "Removed benchmarks");
    assert_eq!(removed.len(), 1, "{removed:#?}");
    assert!(mentions(
        &removed,
        "subdir_data.TimeSubdirData.time_subdir_data"
    ));

    let not_comparable = section_rows(&body, "Not comparable");
    assert_eq!(not_comparable.len(), 6, "{not_comparable:#?}");
    let changed = row_of(
        &not_comparable,
        "subdir_data.TimeSubdirData.time_load_pickle",
    );
    assert!(
        changed.starts_with("| benchmark version changed |"),
        "{changed}"
    );
    let skipped = row_of(
        &not_comparable,
        "extract.TimeExtract.time_extract(1, '.tar.bz2', 'rust')",
    );
    assert!(
        skipped.starts_with("| skipped on base and head | n/a | n/a |"),
        "{skipped}"
    );

    let elsewhere = [
        section_rows(&body, "Significant changes"),
        details_lines(&body),
    ]
    .concat();
    for name in [
        "run_versus_activate.time_conda_run",
        "extract.TimeExtract.time_extract(1, '.conda', 'rust')",
        "time_new_benchmark",
        "subdir_data.TimeSubdirData.time_subdir_data",
        "subdir_data.TimeSubdirData.time_load_pickle",
    ] {
        assert!(
            !mentions(&elsewhere, name),
            "{name} is listed as changed or unchanged"
        );
    }
}

#[test]
fn removed_failing_benchmark_not_improved() {
    let mut base = conda_base();
    base.benchmarks
        .retain(|benchmark| benchmark.name != "extract.TimeExtract.time_extract");
    fail(benchmark(&mut base, "run_versus_activate.time_conda_run"));
    let mut head = base.clone();
    head.benchmarks
        .retain(|benchmark| benchmark.name != "run_versus_activate.time_conda_run");
    let comparison = compare_files(base, head, &conda_suite());

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    assert_eq!(Verdict::of(&comparison), Verdict::NoSignificantChange);
    assert!(
        section_rows(&body, "Significant changes").is_empty(),
        "{body}"
    );
    let removed = section_rows(&body, "Removed benchmarks");
    assert_eq!(
        removed,
        ["| failed | `run_versus_activate.time_conda_run` |"]
    );
}

/// `asv continuous` runs the head's suite on both commits, so a benchmark
/// a pull request adds fails on base; asv marks it improved, pitot new.
#[test]
fn benchmark_failing_on_base_only_is_new() {
    let mut base = conda_base();
    fail(benchmark(&mut base, "run_versus_activate.time_conda_run"));
    let head = conda_base();
    let comparison = compare_files(base, head, &conda_suite());

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    // The conda file has benchmarks that fail on both sides, so the verdict
    // is "benchmarks failed"; it must not be "improved".
    assert_eq!(Verdict::of(&comparison), Verdict::BenchmarksFailed);
    assert!(section_rows(&body, "Significant changes").is_empty(), "{body}");
    let new = section_rows(&body, "New benchmarks");
    assert!(mentions(&new, "run_versus_activate.time_conda_run"), "{body}");
}

#[test]
fn unchanged_rows_inside_details() {
    let comparison = edited_comparison();

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    let details = details_lines(&body);
    let rows: Vec<&str> = details
        .iter()
        .skip(4)
        .copied()
        .filter(|line| line.starts_with('|'))
        .collect();
    assert!(
        details[0]
            == format!(
                "<details><summary>{} unchanged benchmarks</summary>",
                rows.len()
            ),
        "{}",
        details[0]
    );
    assert!(body.ends_with("\n</details>\n"), "{body}");
    let unchanged = row_of(&rows, "peakmem_create_python('classic')");
    assert!(
        unchanged.starts_with("| 301M | 301M | 1.00 |"),
        "{unchanged}"
    );
    assert!(!mentions(
        &rows,
        "subdir_data.TimeSubdirData.time_load_json"
    ));
    assert!(!body.contains("not shown"), "nothing trimmed: {body}");
}

#[test]
fn dashboard_link_only_when_given() {
    let comparison = edited_comparison();
    let without = PullRequestContext {
        dashboard_url: None,
        ..context("cheetah")
    };
    let hostile = PullRequestContext {
        dashboard_url: Some("https://pitot.example/runs/1) [x](https://evil.example"),
        ..context("cheetah")
    };

    let with_link = render_pull_request_comment(&comparison, &context("cheetah"));
    let without_link = render_pull_request_comment(&comparison, &without);
    let hostile_link = render_pull_request_comment(&comparison, &hostile);

    assert!(
        with_link.contains("[Full results on the pitot dashboard](https://pitot.example/runs/42)"),
        "{with_link}"
    );
    assert!(!without_link.contains("dashboard"), "{without_link}");
    assert!(
        hostile_link.contains("(https://pitot.example/runs/1%29%20%5Bx%5D%28https://evil.example)"),
        "{hostile_link}"
    );
}

#[test]
fn hostile_names_cannot_break_tables() {
    let hostile = [
        "time_pipe|injected|cells",
        "time_backslash\\|pipe",
        "time_`code` and ``more``",
        "time_<script>alert(1)</script>",
        "time_ping @mallory",
        "time_link [x](https://evil.example)",
        "time_issue #1234",
        "time_line\nbreak | @mallory",
    ];
    let mut base = conda_base();
    let originals = [
        "subdir_data.TimeSubdirData.time_load_json",
        "subdir_data.TimeSubdirData.time_save_pickle",
        "run_versus_activate.time_conda_run",
        "subdir_data.TimeSubdirData.time_load_json_query_all",
        "subdir_data.TimeSubdirData.time_load_json_query_one",
        "subdir_data.TimeSubdirData.time_load_pickle",
        "subdir_data.TimeSubdirData.time_subdir_data",
        "extract.TrackSuite.track_streaming_versus_handling",
    ];
    for (original, name) in originals.iter().zip(hostile) {
        benchmark(&mut base, original).name = name.to_owned();
    }
    benchmark(&mut base, "time_create_python").params = vec![vec![
        "'<script>x</script>|@mallory'".to_owned(),
        "'`|`'".to_owned(),
    ]];
    base.machine = "<script>@mallory|".to_owned();
    let mut head = base.clone();
    scale(benchmark(&mut head, hostile[0]), 3.0);
    scale(benchmark(&mut head, hostile[1]), 0.25);
    fail(benchmark(&mut head, hostile[2]));
    head.benchmarks
        .retain(|benchmark| benchmark.name != hostile[6]);
    let comparison = compare_files(base, head, &conda_suite());

    let body = render_pull_request_comment(&comparison, &context("<script>@mallory|"));

    let mut data_rows = 0;
    for table in body.split("\n\n").filter(|block| block.starts_with('|')) {
        let lines: Vec<&str> = table.lines().collect();
        let columns = cell_separators(lines[0]);
        for line in &lines {
            assert_eq!(cell_separators(line), columns, "{line:?} in\n{table}");
        }
        data_rows += lines.len() - 2;
    }
    assert_eq!(
        data_rows,
        comparison.rows.len(),
        "one table row per benchmark:\n{body}"
    );
    for line in body.lines() {
        let text = outside_code_spans(line);
        assert!(!text.contains("<script"), "raw HTML in {line:?}");
        assert!(!text.contains("@mallory"), "a mention in {line:?}");
        assert!(!text.contains("evil.example"), "a link in {line:?}");
        assert!(!text.contains("#1234"), "an issue reference in {line:?}");
    }
    assert!(body.contains("on machine `<script>@mallory|`"), "{body}");
    let changed = section_rows(&body, "Significant changes");
    assert!(
        changed[0].ends_with("| 3.00 | `time_pipe\\|injected\\|cells` |"),
        "{}",
        changed[0]
    );
    let failed = section_rows(&body, "Failed on head");
    assert_eq!(
        failed.last(),
        Some(&"| **new failure** | 0.3704830000642687±0.013 | failed | ``` time_`code` and ``more`` ``` |"),
        "{failed:#?}"
    );
}

#[test]
fn long_comparison_trims_unchanged_rows() {
    let template = benchmark(
        &mut conda_base(),
        "subdir_data.TimeSubdirData.time_load_json",
    )
    .clone();
    let mut base = conda_base();
    base.benchmarks = (0..5_000)
        .map(|index| {
            let mut result = template.clone();
            result.name = format!(
                "benchmarks.{}.TimeSuite.time_case_{index:04}",
                "module_".repeat(12)
            );
            result
        })
        .collect();
    let mut head = base.clone();
    let slower = [17, 2_500, 4_999];
    for index in slower {
        scale(&mut head.benchmarks[index], 3.0);
    }
    fail(&mut head.benchmarks[100]);
    let comparison = compare_files(base, head, &BenchmarkSuite::default());

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    let length = body.chars().count();
    assert!(
        length <= COMMENT_MAX_CHARS - LENGTH_MARGIN,
        "{length} characters"
    );
    assert!(
        length > COMMENT_MAX_CHARS - 2 * LENGTH_MARGIN - 200,
        "the limit is used: {length}"
    );
    assert_eq!(
        section_rows(&body, "Significant changes").len(),
        slower.len()
    );
    assert_eq!(section_rows(&body, "Failed on head").len(), 1);

    let details = details_lines(&body);
    let shown = details.iter().filter(|line| line.starts_with("| ")).count() - 1;
    let omitted = 5_000 - slower.len() - 1 - shown;
    assert!(
        details[0].contains(">4996 unchanged benchmarks<"),
        "{}",
        details[0]
    );
    let note = format!(
        "_{omitted} more unchanged benchmarks not shown because of GitHub's length limit; \
         see [the dashboard]({DASHBOARD})._"
    );
    assert!(details.contains(&note.as_str()), "{note} missing");
    assert!(body.ends_with("\n</details>\n"));
}

#[test]
fn long_significant_section_trimmed_too() {
    let template = benchmark(
        &mut conda_base(),
        "subdir_data.TimeSubdirData.time_load_json",
    )
    .clone();
    let mut base = conda_base();
    base.benchmarks = (0..5_000)
        .map(|index| {
            let mut result = template.clone();
            result.name = format!("benchmarks.{}.time_case_{index:04}", "é_".repeat(40));
            result
        })
        .collect();
    let mut head = base.clone();
    for (index, result) in head.benchmarks.iter_mut().enumerate() {
        scale(result, 2.0 + index as f64 / 1_000.0);
    }
    fail(&mut head.benchmarks[0]);
    let comparison = compare_files(base, head, &BenchmarkSuite::default());

    let body = render_pull_request_comment(&comparison, &context("cheetah"));
    let summary = render_check_summary(&comparison, &context("cheetah"));

    assert!(body.chars().count() <= COMMENT_MAX_CHARS - LENGTH_MARGIN);
    let rows = section_rows(&body, "Significant changes");
    assert!(
        rows[0].contains("time_case_4999`"),
        "worst first: {}",
        rows[0]
    );
    let omitted = 4_999 - rows.len();
    assert!(
        body.contains(&format!(
            "_{omitted} more changed benchmarks not shown because of GitHub's length limit;"
        )),
        "{body}"
    );
    assert!(
        body.contains("**Failed on head (1)**\n\n_1 more failed benchmark not shown"),
        "the failed section keeps its heading and note"
    );
    assert!(
        summary.len() <= CHECK_SUMMARY_MAX_BYTES - LENGTH_MARGIN,
        "{} bytes",
        summary.len()
    );
    assert!(section_rows(&summary, "Significant changes")[0].contains("time_case_4999`"));
}

#[test]
fn check_summary_omits_marker_and_unchanged() {
    let comparison = edited_comparison();

    let summary = render_check_summary(&comparison, &context("cheetah"));

    assert!(
        summary.starts_with("**Regressed**: 3 benchmarks got worse"),
        "{summary}"
    );
    assert!(!summary.contains(MARKER), "{summary}");
    assert!(!summary.contains("<details>"), "{summary}");
    assert!(
        !summary.contains("peakmem_create_python('classic')"),
        "{summary}"
    );
    assert_eq!(section_rows(&summary, "Significant changes").len(), 4);
    assert_eq!(section_rows(&summary, "Failed on head").len(), 6);
    assert!(summary.ends_with('\n'));
}

#[test]
fn verdict_of_each_case() {
    type Edit = fn(&mut ResultsFile, &mut ResultsFile);
    let cases: [(&str, Edit, Verdict); 7] = [
        ("identical", |_, _| {}, Verdict::NoSignificantChange),
        (
            "one faster",
            |_, head| {
                scale(
                    benchmark(head, "subdir_data.TimeSubdirData.time_save_pickle"),
                    0.25,
                )
            },
            Verdict::Improved,
        ),
        (
            "one slower",
            |_, head| {
                scale(
                    benchmark(head, "subdir_data.TimeSubdirData.time_load_json"),
                    3.0,
                )
            },
            Verdict::Regressed,
        ),
        (
            "one newly failing",
            |_, head| fail(benchmark(head, "run_versus_activate.time_conda_run")),
            Verdict::Regressed,
        ),
        (
            "one failing on both sides and one faster",
            |base, head| {
                fail(benchmark(base, "run_versus_activate.time_conda_run"));
                fail(benchmark(head, "run_versus_activate.time_conda_run"));
                scale(
                    benchmark(head, "subdir_data.TimeSubdirData.time_save_pickle"),
                    0.25,
                );
            },
            Verdict::BenchmarksFailed,
        ),
        (
            "a new benchmark that fails",
            |base, _| {
                base.benchmarks
                    .retain(|benchmark| benchmark.name != "run_versus_activate.time_conda_run");
            },
            Verdict::NoSignificantChange,
        ),
        (
            "failing on base, removed on head",
            |base, head| {
                fail(benchmark(base, "run_versus_activate.time_conda_run"));
                head.benchmarks
                    .retain(|benchmark| benchmark.name != "run_versus_activate.time_conda_run");
            },
            Verdict::NoSignificantChange,
        ),
    ];
    for (what, edit, expected) in cases {
        let mut base = conda_base();
        // The fixture's own failures would make every case "failed".
        base.benchmarks
            .retain(|benchmark| benchmark.name != "extract.TimeExtract.time_extract");
        let mut head = base.clone();
        edit(&mut base, &mut head);
        let comparison = compare_files(base, head, &conda_suite());

        let verdict = Verdict::of(&comparison);
        let body = render_pull_request_comment(&comparison, &context("cheetah"));

        assert_eq!(verdict, expected, "{what}");
        let verdict_line = body.lines().nth(1).unwrap_or_default();
        assert!(
            verdict_line.starts_with(&format!("**{}**: ", expected.title())),
            "{what}: {verdict_line}"
        );
    }
}

#[test]
fn new_failing_benchmark_not_regressed() {
    let mut base = conda_base();
    base.benchmarks
        .retain(|benchmark| benchmark.name != "extract.TimeExtract.time_extract");
    let mut head = base.clone();
    let mut new_benchmark = benchmark(&mut head, "run_versus_activate.time_conda_run").clone();
    new_benchmark.name = "time_new_and_broken".to_owned();
    fail(&mut new_benchmark);
    head.benchmarks.push(new_benchmark);
    let comparison = compare_files(base, head, &conda_suite());

    let body = render_pull_request_comment(&comparison, &context("cheetah"));

    assert_eq!(Verdict::of(&comparison), Verdict::BenchmarksFailed);
    assert_eq!(
        section_rows(&body, "Failed on head"),
        ["| new benchmark | n/a | failed | `time_new_and_broken` |"]
    );
    assert!(section_rows(&body, "New benchmarks").is_empty(), "{body}");
}

#[test]
fn verdict_titles() {
    let cases = [
        (Verdict::Regressed, "Regressed"),
        (Verdict::BenchmarksFailed, "Benchmarks failed"),
        (Verdict::Improved, "Improved"),
        (Verdict::NoSignificantChange, "No significant change"),
        (Verdict::RunFailed, "Benchmark run failed"),
    ];
    for (verdict, title) in cases {
        assert_eq!(verdict.title(), title, "{verdict:?}");
    }
}

#[test]
fn failure_comment_fences_error_and_log() {
    let error = "asv run failed: exit status 1\n```\n@mallory <script>alert(1)</script> #1234\n";
    let log: String = (1..=200)
        .map(|line| format!("log line {line} ``` @mallory\n"))
        .collect();

    let body = render_pull_request_failure(error, &log, &context("cheetah"));

    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], MARKER);
    assert!(
        lines[1].starts_with("**Benchmark run failed**: "),
        "{}",
        lines[1]
    );
    assert!(body.contains(&format!(
        "(https://github.com/owner/name/commit/{HEAD_SHA})"
    )));
    assert!(body.contains("(https://pitot.example/runs/42)"));
    assert!(
        body.contains("````text\nasv run failed: exit status 1\n```\n@mallory"),
        "{body}"
    );
    assert!(
        body.contains("<summary>Last 50 lines of the run log</summary>"),
        "{body}"
    );
    assert!(body.contains("log line 151 ``` @mallory"), "{body}");
    assert!(!body.contains("log line 150 "), "{body}");
    assert!(body.ends_with("\n</details>\n"), "{body}");
    for line in outside_fenced_blocks(&body) {
        assert!(
            !line.contains("@mallory"),
            "a mention outside code: {line:?}"
        );
        assert!(!line.contains("<script"), "raw HTML outside code: {line:?}");
    }
}

#[test]
fn failure_comment_stays_under_limit() {
    let error = "`".repeat(70_000);
    let log = format!("{}\n", "x`````````````````````".repeat(5_000)).repeat(3);

    let body = render_pull_request_failure(&error, &log, &context("cheetah"));

    assert!(
        body.chars().count() <= COMMENT_MAX_CHARS - LENGTH_MARGIN,
        "{}",
        body.chars().count()
    );
    assert!(
        body.contains("_The error message is cut after"),
        "the cut is stated"
    );
    assert!(body.ends_with('\n'));
}

#[test]
fn failure_comment_without_log() {
    let body = render_pull_request_failure("", "  \n", &context("cheetah"));

    assert!(body.contains("_No error message._"), "{body}");
    assert!(!body.contains("<details>"), "{body}");
}

#[test]
fn comment_is_deterministic() {
    let first = render_pull_request_comment(&edited_comparison(), &context("cheetah"));
    let second = render_pull_request_comment(&edited_comparison(), &context("cheetah"));

    assert_eq!(first, second);
    assert!(first.ends_with('\n'));
}

/// Returns quarantines of the edited comparison's regressions: the two
/// slower `time_load_json` benchmarks and the failing `time_conda_run` as
/// noisy, and the halved track benchmark as ignored.
fn quarantined_regressions() -> Quarantines {
    let mut quarantines = Quarantines::default();
    let noisy = |reason: &str| QuarantineNote {
        kind: QuarantineKind::Noisy,
        reason: reason.to_owned(),
        expires: Some("2027-01-31 00:00 UTC".to_owned()),
    };
    quarantines.insert(
        "subdir_data.TimeSubdirData.time_load_json",
        noisy("disk cache | cold"),
    );
    quarantines.insert(
        "subdir_data.TimeSubdirData.time_load_json_query_one",
        noisy("shared runner"),
    );
    quarantines.insert("run_versus_activate.time_conda_run", noisy("network"));
    quarantines.insert(
        "extract.TrackSuite.track_streaming_versus_handling",
        QuarantineNote {
            kind: QuarantineKind::Ignored,
            reason: "measures the wrong thing".to_owned(),
            expires: None,
        },
    );
    quarantines
}

#[test]
fn quarantined_regressions_do_not_regress() {
    let comparison = edited_comparison();
    let quarantines = quarantined_regressions();
    let context = PullRequestContext {
        quarantines: Some(&quarantines),
        ..context("Daniels-MBP.monotreme.club")
    };

    let body = render_pull_request_comment(&comparison, &context);
    let summary = render_check_summary(&comparison, &context);

    assert_eq!(Verdict::of(&comparison), Verdict::Regressed);
    assert_eq!(
        Verdict::of(&quarantines.judged(&comparison)),
        Verdict::BenchmarksFailed,
        "the fixture's time_extract still fails on both sides"
    );
    let verdict = body.lines().nth(1).expect("a verdict line");
    assert!(verdict.starts_with("**Benchmarks failed**: "), "{verdict}");
    assert!(!verdict.contains("got worse"), "{verdict}");
    assert!(verdict.contains(", 3 quarantined as noisy"), "{verdict}");
    assert!(verdict.contains(", 1 ignored by quarantine"), "{verdict}");
    assert!(!body.contains("**worse**"), "{body}");
    assert!(!body.contains("**new failure**"), "{body}");
    let quarantined = section_rows(&body, "Quarantined as noisy");
    assert_eq!(quarantined.len(), 3, "{body}");
    let slower = row_of(&quarantined, "subdir_data.TimeSubdirData.time_load_json");
    assert!(slower.starts_with("| worse | "), "{slower}");
    assert!(
        slower.ends_with("| noisy: `disk cache \\| cold` (until `2027-01-31 00:00 UTC`) |"),
        "{slower}"
    );
    assert_eq!(cell_separators(slower), 7, "{slower}");
    let failing = row_of(&quarantined, "run_versus_activate.time_conda_run");
    assert!(failing.starts_with("| failed on head | "), "{failing}");
    assert!(
        !body.contains("`extract.TrackSuite.track_streaming_versus_handling`"),
        "the ignored benchmark has no row: {body}"
    );
    assert!(summary.contains("**Quarantined as noisy"), "{summary}");
}

#[test]
fn no_quarantines_change_nothing() {
    let comparison = edited_comparison();
    let empty = Quarantines::default();
    let with_empty = PullRequestContext {
        quarantines: Some(&empty),
        ..context("cheetah")
    };

    let body = render_pull_request_comment(&comparison, &with_empty);

    assert_eq!(
        body,
        render_pull_request_comment(&comparison, &context("cheetah"))
    );
    assert!(!body.contains("quarantine"), "{body}");
}

const SLOW_JSON: &str = "subdir_data.TimeSubdirData.time_load_json";
const SLOW_QUERY: &str = "subdir_data.TimeSubdirData.time_load_json_query_one";

/// Compares the conda results with a copy in which the named benchmarks
/// are 3 times slower and nothing else changed.
fn slower_comparison(slower: &[&str]) -> Comparison {
    let base = conda_base();
    let mut head = base.clone();
    head.commit_hash = HEAD_SHA.to_owned();
    for name in slower {
        scale(benchmark(&mut head, name), 3.0);
    }
    compare_files(base, head, &conda_suite())
}

#[test]
fn flagged_regressions_leave_out_failures() {
    let comparison = edited_comparison();

    let flagged = flagged_regressions(&comparison);

    let names: Vec<&str> = flagged.iter().map(|row| row.benchmark.as_str()).collect();
    assert!(names.contains(&SLOW_JSON), "{names:?}");
    assert!(names.contains(&SLOW_QUERY), "{names:?}");
    assert!(
        !names.contains(&"run_versus_activate.time_conda_run"),
        "a new failure is not re-run: {names:?}"
    );
    assert!(
        !names.contains(&"subdir_data.TimeSubdirData.time_save_pickle"),
        "an improvement is not re-run: {names:?}"
    );
}

#[test]
fn unconfirmed_regression_does_not_regress() {
    let first = slower_comparison(&[SLOW_JSON, SLOW_QUERY]);
    let second = slower_comparison(&[SLOW_JSON]);
    let flagged_query_rows = flagged_regressions(&first)
        .iter()
        .filter(|row| row.benchmark == SLOW_QUERY)
        .count();
    let run = ConfirmationRun::decide(&first, &second, 6, Some("https://pitot.example/jobs/43".to_owned()));
    let confirmation = Confirmation::Ran(run.clone());
    let context = PullRequestContext {
        confirmation: Some(&confirmation),
        ..context("Daniels-MBP.monotreme.club")
    };

    let body = render_pull_request_comment(&first, &context);
    let summary = render_check_summary(&first, &context);

    assert!(flagged_query_rows > 0, "the fixture flags {SLOW_QUERY}");
    assert_eq!(run.flagged(), flagged_regressions(&first).len());
    assert_eq!(run.confirmed(), run.flagged() - flagged_query_rows);
    assert_eq!(pull_request_verdict(&first, &context), Verdict::Regressed, "{SLOW_JSON} is confirmed");
    let unconfirmed = section_rows(&body, "Not confirmed by a second run");
    assert_eq!(unconfirmed.len(), flagged_query_rows, "{body}");
    let query_row = row_of(&unconfirmed, SLOW_QUERY);
    assert!(query_row.contains("| 1.00 |"), "the second run's ratio: {query_row}");
    assert!(!mentions(&unconfirmed, SLOW_JSON), "{body}");
    let changes = section_rows(&body, "Significant changes");
    assert!(mentions(&changes, SLOW_JSON), "{body}");
    assert!(!mentions(&changes, SLOW_QUERY), "{body}");
    let verdict = body.lines().nth(1).expect("a verdict line");
    assert!(verdict.contains(&format!(", {flagged_query_rows} not confirmed")), "{verdict}");
    assert!(
        body.contains(&format!("Confirmed {} of {} flagged regressions", run.confirmed(), run.flagged())),
        "{body}"
    );
    assert!(body.contains("with 6 rounds on the same machine"), "{body}");
    assert!(body.contains("([confirmation run](https://pitot.example/jobs/43))"), "{body}");
    assert!(summary.contains("**Not confirmed by a second run"), "{summary}");
}

#[test]
fn no_confirmed_regression_passes() {
    let first = slower_comparison(&[SLOW_QUERY]);
    let second = slower_comparison(&[]);
    let confirmation = Confirmation::Ran(ConfirmationRun::decide(&first, &second, 6, None));
    let context = PullRequestContext {
        confirmation: Some(&confirmation),
        ..context("Daniels-MBP.monotreme.club")
    };

    let verdict = pull_request_verdict(&first, &context);
    let body = render_pull_request_comment(&first, &context);

    assert_eq!(Verdict::of(&first), Verdict::Regressed);
    assert_ne!(verdict, Verdict::Regressed);
    assert!(!body.lines().nth(1).expect("a verdict line").contains("got worse"), "{body}");
    assert!(body.contains("Confirmed 0 of "), "{body}");
    assert!(!body.contains("[confirmation run]"), "no link without a dashboard: {body}");
}

#[test]
fn confirmation_not_run_keeps_first_verdict() {
    let first = slower_comparison(&[SLOW_QUERY]);
    let confirmation = Confirmation::NotRun {
        reason: "the confirmation run failed: asv timed out.".to_owned(),
    };
    let context = PullRequestContext {
        confirmation: Some(&confirmation),
        ..context("Daniels-MBP.monotreme.club")
    };

    let verdict = pull_request_verdict(&first, &context);
    let body = render_pull_request_comment(&first, &context);

    assert_eq!(verdict, Verdict::Regressed);
    assert!(
        body.contains("Not confirmed: the confirmation run failed: asv timed out. The verdict is the first run's."),
        "{body}"
    );
    assert!(section_rows(&body, "Not confirmed by a second run").is_empty(), "{body}");
    assert!(mentions(&section_rows(&body, "Significant changes"), SLOW_QUERY), "{body}");
}
