//! `pitot compare` as a command: input modes, formats, exit status and the
//! errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example_results() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv/example_results")
}

fn pitot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitot"))
        .arg("compare")
        .args(args)
        .output()
        .expect("pitot runs")
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn compare_files_finds_benchmarks_json() {
    let folder = example_results();
    let before = folder.join("cheetah/22b920c6-py2.7-Cython-numpy1.8.json");
    let after = folder.join("cheetah/fcf8c079-py2.7-Cython-numpy1.8.json");

    let output = pitot(&[
        path_text(&before),
        path_text(&after),
        "--format=asv",
        "--factor=2",
    ]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("| Change   | Before [22b920c6]    | After [fcf8c079]    |"),
        "{stdout}"
    );
    // The unit comes from benchmarks.json: 344 seconds, not 344 bytes.
    assert!(stdout.contains("| 5.73m  "), "{stdout}");
}

#[test]
fn compare_markdown_is_the_default() {
    let results = example_results();

    let output = pitot(&[
        "22b920c6",
        "fcf8c079",
        "--results",
        path_text(&results),
        "--factor=2",
        "-E",
        "py2.7-numpy1.8",
    ]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "**11 benchmarks got worse**: 1 improved, 1 not comparable, 11 unchanged \
             (after `fcf8c079` against before `22b920c6`, factor 2.00, with statistics)."
        )
    );
    assert_eq!(lines.next(), Some(""));
    let rule = lines.next().unwrap_or_default();
    assert!(rule.starts_with("pitot's verdict: "), "{stdout}");
    assert!(
        rule.contains("24 benchmarks had too little history (fewer than 10 results), so the factor 2.00 is the threshold."),
        "{stdout}"
    );
    assert_eq!(lines.next(), Some(""));
    assert_eq!(
        lines.next(),
        Some("| Change | Before | After | Ratio [interval] | Threshold | Benchmark |")
    );
    assert!(stdout.contains(
        "| **worse** | 1.75ms | 153ms | 87.28 | 100.0% (default) | `time_quantity.time_quantity_array_conversion` |"
    ));
    // The file has no samples, so the interval comes from the stored ones.
    assert!(
        stdout.contains("| **worse** | 1.00±0s | 3.00±0s | 3.00 [2.82, 4.33] | 100.0% (default) | `time_ci_small` |"),
        "{stdout}"
    );
}

#[test]
fn compare_json_counts_rows() {
    let results = example_results();

    let output = pitot(&[
        "22b920c6",
        "fcf8c079",
        "--results",
        path_text(&results),
        "--factor=2",
        "-E",
        "py2.7-numpy1.8",
        "--format=json",
        "--only-changed",
    ]);

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(report["version"], 1);
    assert_eq!(report["summary"]["worse"], 11);
    assert_eq!(report["summary"]["total"], 24);
    assert_eq!(
        report["rows"].as_array().map(Vec::len),
        Some(12),
        "only worse and better rows"
    );
    let unit_to = &report["rows"]
        .as_array()
        .and_then(|rows| {
            rows.iter()
                .find(|row| row["name"] == "time_units.time_unit_to")
        })
        .expect("a row for time_unit_to");
    assert_eq!(unit_to["mark"], "-");
    assert_eq!(unit_to["change"], "better");
    assert_eq!(unit_to["direction"], "lower_is_better");
    assert_eq!(unit_to["before"]["state"], "value");
}

#[test]
fn compare_rejects_bad_input() {
    let results = example_results();
    let results = path_text(&results);
    let result_file = example_results().join("cheetah/22b920c6-py2.7-Cython-numpy1.8.json");
    let result_file = path_text(&result_file);
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "zero factor",
            &["22b920c6", "fcf8c079", "--results", results, "--factor=0"],
            "invalid factor 0",
        ),
        (
            "commits without a results folder",
            &["22b920c6", "fcf8c079"],
            "add --results DIR",
        ),
        (
            "a file and a commit",
            &[result_file, "fcf8c079", "--results", results],
            "give two results files, or two commits",
        ),
        (
            "unknown machine",
            &[
                "22b920c6",
                "fcf8c079",
                "--results",
                results,
                "--machine",
                "lynx",
            ],
            "--machine lynx: no results for this machine",
        ),
        (
            "unknown commit",
            &["deadbeef", "fcf8c079", "--results", results],
            "no results for commit \"deadbeef\" on machine cheetah",
        ),
        (
            "ambiguous prefix",
            &["0", "fcf8c079", "--results", results],
            "matches results of several commits",
        ),
        (
            "unknown environment",
            &[
                "22b920c6",
                "fcf8c079",
                "--results",
                results,
                "--env",
                "py3.99",
            ],
            "in environment py3.99",
        ),
        (
            "missing results folder",
            &["22b920c6", "fcf8c079", "--results", "/nonexistent/results"],
            "/nonexistent/results",
        ),
        (
            "invalid store repository",
            &["22b920c6", "fcf8c079", "--repo", "no-slash", "--machine", "cheetah"],
            "--repo",
        ),
        (
            "benchmarks.json not found",
            &[
                result_file,
                result_file,
                "--benchmarks",
                "/nonexistent/benchmarks.json",
            ],
            "pass its path with --benchmarks FILE",
        ),
    ];
    for (what, args, message) in cases {
        let output = pitot(args);

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(message),
            "{what}: expected {message:?} in {stderr}"
        );
        assert!(output.stdout.is_empty(), "{what}: no report on error");
    }
}
