//! `pitot compare --format asv` reproduces asv's own compare test outputs
//! (see `tests/fixtures/asv/compare_expected/SOURCES.md`) row for row.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv")
}

/// Applies the normalization asv's test applies before comparing: strip,
/// and for some cases drop spaces before line breaks.
fn normalize(text: &str, drop_trailing_spaces: bool) -> String {
    let text = text.trim();
    if drop_trailing_spaces {
        text.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        text.to_owned()
    }
}

struct Case {
    expected: &'static str,
    args: &'static [&'static str],
    drop_trailing_spaces: bool,
}

const CASES: &[Case] = &[
    Case {
        expected: "REFERENCE.txt",
        args: &["--factor=2", "--environment=py2.7-numpy1.8"],
        drop_trailing_spaces: false,
    },
    Case {
        expected: "REFERENCE_SPLIT.txt",
        args: &["--factor=2", "--environment=py2.7-numpy1.8", "--split"],
        drop_trailing_spaces: false,
    },
    Case {
        expected: "REFERENCE_ONLY_CHANGED.txt",
        args: &[
            "--factor=2",
            "--environment=py2.7-numpy1.8",
            "--only-changed",
            "--sort=ratio",
            "--before-name=name1",
            "--after-name=name2",
        ],
        drop_trailing_spaces: true,
    },
    Case {
        expected: "REFERENCE_ONLY_CHANGED_MULTIENV.txt",
        args: &["--factor=2", "--only-changed", "--sort=ratio"],
        drop_trailing_spaces: false,
    },
    Case {
        expected: "REFERENCE_ONLY_CHANGED_NOSTATS.txt",
        args: &[
            "--factor=2",
            "--sort=ratio",
            "--environment=py2.7-numpy1.8",
            "--no-stats",
            "--only-changed",
        ],
        drop_trailing_spaces: false,
    },
];

/// Runs `pitot compare` on the reference commits.
#[track_caller]
fn run_compare(results: &Path, args: &[&str]) -> (String, Option<i32>) {
    run_compare_commits(results, "22b920c6", "fcf8c079", args)
}

#[track_caller]
fn run_compare_commits(
    results: &Path,
    before: &str,
    after: &str,
    args: &[&str],
) -> (String, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_pitot"))
        .args([
            "compare",
            before,
            after,
            "--machine=cheetah",
            "--format=asv",
            "--results",
        ])
        .arg(results)
        .args(args)
        .output()
        .expect("pitot runs");
    assert!(
        output.status.code().is_some_and(|code| code < 2),
        "pitot compare {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).expect("UTF-8 output"),
        output.status.code(),
    )
}

#[track_caller]
fn expected(name: &str) -> String {
    let path = fixtures().join("compare_expected").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

#[test]
fn asv_reference_outputs() {
    let results = fixtures().join("example_results");
    for case in CASES {
        let (stdout, _) = run_compare(&results, case.args);

        assert_eq!(
            normalize(&stdout, case.drop_trailing_spaces),
            normalize(&expected(case.expected), case.drop_trailing_spaces),
            "{}",
            case.expected
        );
    }
}

#[test]
fn asv_reference_fixed_failure() {
    // asv's test writes the schema-2 value `[[1.0], []]` after `asv update`.
    // The example file is schema 1, where the same value is `1.0`.
    let folder = tempfile::tempdir().expect("temporary folder");
    copy_folder(&fixtures().join("example_results"), folder.path());
    let after = folder
        .path()
        .join("cheetah/fcf8c079-py2.7-Cython-numpy1.8.json");
    let text = std::fs::read_to_string(&after).expect("after file");
    let patched = text.replace("\"time_AAA_failure\": null", "\"time_AAA_failure\": 1.0");
    assert_ne!(
        patched, text,
        "the after file reports time_AAA_failure as failed"
    );
    std::fs::write(&after, patched).expect("patched after file");

    let (stdout, _) = run_compare(
        folder.path(),
        &["--factor=2", "--environment=py2.7-numpy1.8"],
    );

    assert_eq!(
        normalize(&stdout, false),
        normalize(&expected("REFERENCE_FIXED_FAIL.txt"), false)
    );
}

#[test]
fn asv_reference_exit_status() {
    let results = fixtures().join("example_results");
    let cases = [
        (
            "22b920c6",
            "fcf8c079",
            "--factor=2",
            Some(1),
            "new failures and slower benchmarks",
        ),
        (
            "22b920c6",
            "fcf8c079",
            "--factor=1000",
            Some(1),
            "new failures are worse at any factor",
        ),
        (
            "22b920c6",
            "22b920c6",
            "--factor=2",
            Some(0),
            "a commit against itself",
        ),
        (
            "fcf8c079",
            "22b920c6",
            "--factor=1000",
            Some(0),
            "fixed failures only",
        ),
    ];
    for (before, after, factor, expected, what) in cases {
        let (_, status) = run_compare_commits(
            &results,
            before,
            after,
            &[factor, "--environment=py2.7-numpy1.8"],
        );

        assert_eq!(status, expected, "{what}");
    }
}

#[track_caller]
fn copy_folder(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fixture folder") {
        let entry = entry.expect("fixture entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("folder copy");
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("file copy");
        }
    }
}
