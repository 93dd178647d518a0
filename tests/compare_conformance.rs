//! `pitot compare --format asv` prints what the real `asv compare` prints,
//! on pairs of real results from published asv results repositories.
//!
//! asv comes from PyPI through `support/asv_venv.rs`. The corpora are read
//! from `../shared/data/asv-results` beside the repository. Without them the
//! tests print why and pass, because they are too large to keep in the
//! repository.

#[path = "support/asv_venv.rs"]
mod asv_venv;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Two commits of one results folder and the option sets to compare them with.
struct Pair {
    /// The results folder, relative to the corpora folder.
    results: &'static str,
    machine: &'static str,
    before: &'static str,
    after: &'static str,
    /// Copy only the files of this environment (the end of the file name).
    /// `None` copies every environment, which makes asv suffix the names.
    env_file_suffix: Option<&'static str>,
    option_sets: &'static [&'static [&'static str]],
}

fn corpora() -> Option<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/asv-results");
    if folder.is_dir() {
        Some(folder)
    } else {
        eprintln!(
            "skipping: the asv results corpora are not at {}",
            folder.display()
        );
        None
    }
}

#[test]
fn conformance_django_with_samples() {
    // Schema 2 with raw samples, so the Mann-Whitney U test decides. The
    // first pair has three environments, new failures and changed versions.
    check_pairs(&[
        Pair {
            results: "django-asv/results",
            machine: "ubuntu-latest",
            before: "3a084831",
            after: "7a05b8a2",
            env_file_suffix: None,
            option_sets: &[&[], &["--split"], &["--only-changed", "--sort", "ratio"]],
        },
        Pair {
            results: "django-asv/results",
            machine: "ubuntu-22.04",
            before: "282d58e1",
            after: "0e76abb8",
            env_file_suffix: Some("-conda-py3.10.json"),
            option_sets: &[&["--no-stats"], &["--factor", "1.05", "--sort", "name"]],
        },
        Pair {
            results: "django-asv/results",
            machine: "macos-12",
            before: "f87b0ecd",
            after: "9652a118",
            env_file_suffix: None,
            option_sets: &[&[]],
        },
    ]);
}

#[test]
fn conformance_schema1_without_samples() {
    // Schema 1 files, compared through their confidence intervals.
    check_pairs(&[
        Pair {
            results: "photutils-benchmarks/results",
            machine: "tom-mac-mini",
            before: "1ffdec21",
            after: "ff47d74a",
            env_file_suffix: None,
            option_sets: &[&[], &["--factor", "1.5", "--split"]],
        },
        Pair {
            results: "photutils-benchmarks/results",
            machine: "tom-mac-mini",
            before: "7787eeee",
            after: "7810d6d7",
            env_file_suffix: None,
            option_sets: &[&["--only-changed"]],
        },
        Pair {
            results: "conda-benchmarks/dot_asv/results",
            machine: "benchmarkers-MacBook-Pro.local",
            before: "cf91f160",
            after: "19a17734",
            env_file_suffix: None,
            option_sets: &[&[]],
        },
    ]);
}

#[test]
fn conformance_failures_both_ways() {
    // New and fixed failures, parametrized benchmarks, two environments.
    check_pairs(&[
        Pair {
            results: "conda-benchmarks/results",
            machine: "Daniels-MBP.monotreme.club",
            before: "a850d4b8",
            after: "2abc88b8",
            env_file_suffix: None,
            option_sets: &[&[], &["--split", "--only-changed"]],
        },
        Pair {
            results: "plasmapy-benchmarks/results",
            machine: "dell_laptop_dstanczak",
            before: "56f2cf5c",
            after: "d6a438df",
            env_file_suffix: None,
            option_sets: &[&[]],
        },
    ]);
}

#[test]
fn conformance_parametrized_benchmarks() {
    check_pairs(&[
        Pair {
            results: "uxarray-asv/results",
            machine: "GH-Actions",
            before: "f7070eec",
            after: "ad9af81f",
            env_file_suffix: None,
            option_sets: &[&[], &["--sort", "name"]],
        },
        Pair {
            results: "uxarray-asv/results",
            machine: "philipc2-desktop",
            before: "e36030bc",
            after: "ff9ec76e",
            env_file_suffix: None,
            option_sets: &[&[], &["--no-stats", "--split"]],
        },
    ]);
}

fn check_pairs(pairs: &[Pair]) {
    let Some(corpora) = corpora() else {
        return;
    };
    let Some(asv) = asv_venv::asv_executable() else {
        return;
    };
    for pair in pairs {
        check_pair(&corpora, &asv, pair);
    }
}

/// Compares one pair with every option set, first with pitot on the
/// files as published, then with asv after `asv update` converts schema-1
/// files in place, as asv requires.
fn check_pair(corpora: &Path, asv: &Path, pair: &Pair) {
    let project = tempfile::tempdir().expect("temporary folder");
    let results = project.path().join("results");
    set_up_project(&corpora.join(pair.results), pair, project.path());

    let pitot_outputs: Vec<String> = pair
        .option_sets
        .iter()
        .map(|options| run_pitot(&results, pair, options))
        .collect();
    run_checked(Command::new(asv).arg("update").current_dir(project.path()));

    for (options, pitot_output) in pair.option_sets.iter().zip(pitot_outputs) {
        let asv_output = run_checked(
            Command::new(asv)
                .args([
                    "compare",
                    pair.before,
                    pair.after,
                    "--machine",
                    pair.machine,
                ])
                .args(*options)
                .current_dir(project.path()),
        );

        assert_eq!(
            pitot_output.trim(),
            without_log_lines(&asv_output).trim(),
            "pitot and asv differ on {} {} → {} with {options:?}",
            pair.results,
            pair.before,
            pair.after
        );
    }
}

/// Builds an asv project: a git repository (asv compare opens one) with
/// `asv.conf.json` and a results folder holding the pair's files.
fn set_up_project(source: &Path, pair: &Pair, project: &Path) {
    let machine_folder = project.join("results").join(pair.machine);
    std::fs::create_dir_all(&machine_folder).expect("machine folder");
    copy(
        &source.join("benchmarks.json"),
        &project.join("results/benchmarks.json"),
    );
    copy(
        &source.join(pair.machine).join("machine.json"),
        &machine_folder.join("machine.json"),
    );
    let mut copied = 0;
    for entry in std::fs::read_dir(source.join(pair.machine)).expect("corpus machine folder") {
        let name = entry
            .expect("corpus entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let commit_matches = name.starts_with(pair.before) || name.starts_with(pair.after);
        let env_matches = pair
            .env_file_suffix
            .is_none_or(|suffix| name.ends_with(suffix));
        if commit_matches && env_matches {
            copy(
                &source.join(pair.machine).join(&name),
                &machine_folder.join(&name),
            );
            copied += 1;
        }
    }
    assert!(
        copied >= 2,
        "the corpus has results for {} and {}",
        pair.before,
        pair.after
    );

    let config = r#"{"version": 1, "project": "conformance", "repo": ".", "results_dir": "results",
        "html_dir": "html", "environment_type": "virtualenv", "pythons": ["3.11"]}"#;
    std::fs::write(project.join("asv.conf.json"), config).expect("asv.conf.json");
    run_checked(
        Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(project),
    );
    run_checked(
        Command::new("git")
            .args(["-c", "user.name=pitot", "-c", "user.email=pitot@localhost"])
            .args(["commit", "--quiet", "--allow-empty", "--message", "empty"])
            .current_dir(project),
    );
}

fn run_pitot(results: &Path, pair: &Pair, options: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pitot"))
        .args([
            "compare",
            pair.before,
            pair.after,
            "--format",
            "asv",
            "--machine",
            pair.machine,
        ])
        .arg("--results")
        .arg(results)
        .args(options)
        .output()
        .expect("pitot runs");
    assert!(
        output.status.code().is_some_and(|code| code < 2),
        "pitot compare failed on {} with {options:?}: {}",
        pair.results,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs a command that must succeed and returns its standard output.
#[track_caller]
fn run_checked(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Drops asv's log lines, which start with a middle dot, from its output.
fn without_log_lines(output: &str) -> String {
    output
        .lines()
        .filter(|line| !line.starts_with('·'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|error| panic!("cannot copy {}: {error}", from.display()));
}
