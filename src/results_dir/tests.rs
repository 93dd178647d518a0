//! Tests on the real asv folders in `tests/fixtures/asv`, and on the full
//! corpora in `../shared/data` when they are present.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/asv");

fn fixture(path: &str) -> PathBuf {
    Path::new(FIXTURES).join(path)
}

#[track_caller]
fn open(path: &Path) -> ResultsDir {
    ResultsDir::open(path).unwrap_or_else(|error| panic!("{}: {error:#}", path.display()))
}

#[track_caller]
fn candidate(dir: &ResultsDir, file_name: &str) -> ResultPath {
    dir.result_paths()
        .expect("a readable folder")
        .into_iter()
        .find(|candidate| candidate.path.file_name().and_then(|n| n.to_str()) == Some(file_name))
        .unwrap_or_else(|| panic!("no candidate {file_name}"))
}

/// Copies the example results folder, so a test can change it.
fn example_copy() -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("a temporary folder");
    let source = fixture("example_results");
    for folder in ["", "cheetah"] {
        std::fs::create_dir_all(temp.path().join(folder)).expect("a folder");
        for entry in std::fs::read_dir(source.join(folder)).expect("the fixture") {
            let path = entry.expect("an entry").path();
            if path.is_file() {
                let target = temp
                    .path()
                    .join(folder)
                    .join(path.file_name().expect("a name"));
                std::fs::copy(&path, target).expect("a copy");
            }
        }
    }
    temp
}

#[test]
fn open_results_folder() {
    let dir = open(&fixture("example_results"));

    assert_eq!(dir.root, fixture("example_results"));
    assert!(dir.config.is_none());
}

#[test]
fn open_project_folder_uses_results_dir() {
    let dir = open(&fixture("conda-benchmarks"));

    let config = dir.config.as_ref().expect("opened through asv.conf.json");
    assert_eq!(config.project.as_deref(), Some("conda"));
    assert_eq!(dir.root, fixture("conda-benchmarks").join("results"));
}

#[test]
fn open_folder_without_benchmarks_json() {
    let dir = open(&fixture("django-asv/results"));

    assert_eq!(dir.benchmarks().expect("no read error"), None);
    assert_eq!(dir.root, fixture("django-asv/results"));
}

#[test]
fn open_bad_paths() {
    let empty = tempfile::tempdir().expect("a temporary folder");
    let missing_results = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        missing_results.path().join("asv.conf.json"),
        r#"{"version": 1, "results_dir": ".asv/results"}"#,
    )
    .expect("a config");
    let invalid_config = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        invalid_config.path().join("asv.conf.json"),
        "{\"version\": 1,,}",
    )
    .expect("a config");
    let both_configs = tempfile::tempdir().expect("a temporary folder");
    for name in ["asv.conf.json", "asv.conf.jsonc"] {
        std::fs::write(both_configs.path().join(name), "{}").expect("a config");
    }
    let a_file = fixture("example_results/benchmarks.json");
    let cases: Vec<(PathBuf, String, &str)> = vec![
        (
            empty.path().to_path_buf(),
            format!(
                "no benchmarks.json or asv.conf.json in {}: pass an asv results folder or a project folder",
                empty.path().display()
            ),
            "empty folder",
        ),
        (
            fixture("no-such-folder"),
            format!("cannot open {}", fixture("no-such-folder").display()),
            "missing path",
        ),
        (
            a_file.clone(),
            format!("{} is a file", a_file.display()),
            "a file",
        ),
        (
            missing_results.path().to_path_buf(),
            format!(
                "results folder {} (results_dir in {}) does not exist",
                missing_results.path().join(".asv/results").display(),
                missing_results.path().join("asv.conf.json").display()
            ),
            "results_dir missing",
        ),
        (
            invalid_config.path().to_path_buf(),
            format!("invalid asv config {}", invalid_config.path().join("asv.conf.json").display()),
            "invalid config",
        ),
        (
            both_configs.path().to_path_buf(),
            "both asv.conf.json and asv.conf.jsonc".to_string(),
            "two configs",
        ),
    ];

    for (path, message, case) in cases {
        let error = ResultsDir::open(&path).expect_err(case);

        let text = format!("{error:#}");
        assert!(text.contains(&message), "{case}: {text}");
    }
}

#[test]
fn benchmarks_of_example_folder() {
    let dir = open(&fixture("example_results"));

    let suite = dir.benchmarks().expect("readable").expect("present");

    assert_eq!(suite.benchmarks.len(), 35);
    assert_eq!(suite.benchmarks["time_units.mem_unit"].unit, "seconds");
}

#[test]
fn machines_sorted_by_folder() {
    let dir = open(&fixture("uxarray-asv/results"));

    let machines = dir.machines().expect("readable");

    let names: Vec<&str> = machines.iter().map(|info| info.machine.as_str()).collect();
    assert_eq!(names, ["GH-Actions", "philipc2-desktop"]);
    assert_eq!(
        machines[0].fields.get("ram").map(String::as_str),
        Some("7GB")
    );
}

#[test]
fn result_paths_of_example_folder() {
    let dir = open(&fixture("example_results"));

    let paths = dir.result_paths().expect("readable");

    assert_eq!(paths.len(), 41);
    assert!(paths.iter().all(|p| p.machine_dir == "cheetah"));
    assert!(paths
        .iter()
        .all(|p| p.folder_machine.as_deref() == Ok("cheetah")));
    assert_eq!(
        paths[0].path,
        fixture("example_results/cheetah/05d283b9-py2.7-Cython-numpy1.8.json")
    );
    assert!(paths.windows(2).all(|pair| pair[0].path < pair[1].path));
}

#[test]
fn load_result_returns_file_and_bytes() {
    let dir = open(&fixture("example_results"));
    let candidate = candidate(&dir, "22b920c6-py2.7-Cython-numpy1.8.json");

    let (file, bytes) = load_result(&candidate).expect("a valid file");

    assert_eq!(file.commit_hash, "22b920c6d0d54112ccbc020eddba9ea7a2d204f3");
    assert_eq!(bytes, std::fs::read(&candidate.path).expect("readable"));
}

#[test]
fn load_result_skips_like_asv() {
    let dir = open(&fixture("example_results"));
    let cases = [
        (
            "aaaaaaaa-py2.7-Cython-numpy1.8.json",
            "invalid JSON at line 2, column 5",
            "malformed JSON",
        ),
        (
            "bbbbbbbb-py2.7-Cython-numpy1.8.json",
            "not an asv results file: no `commit_hash` field",
            "valid JSON but not results",
        ),
        (
            "cccccccc-py2.7-Cython-numpy1.8.json",
            "params.machine is \"not-cheetah\", but the folder's machine.json names \"cheetah\"",
            "another machine",
        ),
    ];

    for (name, reason, case) in cases {
        let candidate = candidate(&dir, name);

        let skip = load_result(&candidate).expect_err(case);

        assert!(skip.reason.starts_with(reason), "{case}: {}", skip.reason);
        assert_eq!(skip.path, candidate.path, "{case}");
        assert!(
            skip.to_string()
                .starts_with(&format!("skipped {}: ", candidate.path.display())),
            "{case}: {skip}"
        );
    }
}

#[test]
fn invalid_machine_json_skips_folder() {
    let temp = example_copy();
    std::fs::write(
        temp.path().join("cheetah/machine.json"),
        r#"{"machine": "cheetah"}"#,
    )
    .expect("a machine file");
    let dir = open(temp.path());

    let paths = dir.result_paths().expect("readable");
    let candidate = candidate(&dir, "22b920c6-py2.7-Cython-numpy1.8.json");
    let skip = load_result(&candidate).expect_err("the folder is skipped");

    assert_eq!(paths.len(), 41);
    assert!(dir.machines().expect("readable").is_empty());
    assert_eq!(
        skip.reason,
        "invalid machine.json in its folder: missing field `version`"
    );
}

#[test]
fn file_at_top_is_skipped() {
    let temp = example_copy();
    std::fs::copy(
        fixture("example_results/cheetah/22b920c6-py2.7-Cython-numpy1.8.json"),
        temp.path().join("22b920c6-py2.7-Cython-numpy1.8.json"),
    )
    .expect("a copy");
    let dir = open(temp.path());

    let top = dir
        .result_paths()
        .expect("readable")
        .into_iter()
        .find(|candidate| candidate.machine_dir.is_empty())
        .expect("the file at the top is a candidate");
    let skip = load_result(&top).expect_err("no machine.json at the top");

    assert!(
        skip.reason.starts_with("cannot read machine.json"),
        "{}",
        skip.reason
    );
}

#[test]
fn load_commit_finds_each_environment() {
    let dir = open(&fixture("example_results"));

    let (files, skips) = load_commit(&dir, "fcf8c079", Some("cheetah"), None).expect("loads");

    let mut envs: Vec<&str> = files.iter().map(|file| file.env_name.as_str()).collect();
    envs.sort_unstable();
    assert_eq!(envs, ["py2.7-foo-numpy1.8", "py2.7-numpy1.8"]);
    assert!(skips.is_empty());
}

#[test]
fn load_commit_filters() {
    let dir = open(&fixture("example_results"));
    let full_hash = "fcf8c079fae7ebad9f27bd31a819f0e4fdd85b99";
    let cases = [
        (
            "fcf8c079",
            Some("cheetah"),
            Some("py2.7-numpy1.8"),
            1,
            "one environment",
        ),
        (full_hash, None, None, 2, "full hash, any machine"),
        ("fcf8", Some("cheetah"), None, 2, "short prefix"),
        (
            "22b920c6",
            Some("cheetah"),
            Some("py2.7-Cython-numpy1.8"),
            0,
            "no such env",
        ),
        ("deadbeef", None, None, 0, "unknown commit"),
        ("fcf8c079", Some("orangutan"), None, 0, "unknown machine"),
    ];

    for (commit, machine, env, count, case) in cases {
        let (files, _skips) = load_commit(&dir, commit, machine, env).expect(case);

        assert_eq!(files.len(), count, "{case}");
        assert!(
            files.iter().all(|file| file.commit_hash == full_hash),
            "{case}"
        );
    }
}

#[test]
fn load_commit_reports_skipped_files() {
    let dir = open(&fixture("example_results"));

    let (files, skips) = load_commit(&dir, "cccccccc", Some("cheetah"), None).expect("loads");

    assert!(files.is_empty());
    assert_eq!(skips.len(), 1);
    assert!(skips[0].reason.contains("not-cheetah"), "{}", skips[0]);
}

#[test]
fn load_commit_rejects_ambiguous_prefix() {
    let dir = open(&fixture("example_results"));

    let error = load_commit(&dir, "05d", None, None).expect_err("two commits start with 05d");

    assert_eq!(
        error.to_string(),
        format!(
            "commit 05d matches results of several commits in {}: 05d283b9, 05d4f83d; give more characters of the hash",
            dir.root.display()
        )
    );
}

#[test]
fn load_commit_rejects_empty_prefix() {
    let dir = open(&fixture("example_results"));

    let error = load_commit(&dir, "", None, None).expect_err("empty");

    assert_eq!(
        error.to_string(),
        "empty commit: pass a commit hash or a prefix of one"
    );
}

/// The results folders of the corpora, relative to the data folder.
const CORPUS_FOLDERS: [&str; 7] = [
    "asv-tests/test/example_results",
    "asv-results/conda-benchmarks/dot_asv/results",
    "asv-results/conda-benchmarks/results",
    "asv-results/django-asv/results",
    "asv-results/photutils-benchmarks/results",
    "asv-results/plasmapy-benchmarks/results",
    "asv-results/uxarray-asv/results",
];

/// Reads asv's verdict, machine, env name and commit for each file from
/// `corpus_counts.tsv` (made with asv 0.6.6's own loader).
fn asv_verdicts() -> BTreeMap<String, String> {
    let table = std::fs::read_to_string(fixture("corpus_counts.tsv")).expect("the table");
    table
        .lines()
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns[0].to_string(), columns[1..5].join(" "))
        })
        .collect()
}

#[test]
fn corpus_skips_match_asv() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if !data.join("asv-results").is_dir() {
        println!("skipped: no asv corpus at {}", data.display());
        return;
    }
    let expected = asv_verdicts();

    let mut actual = BTreeMap::new();
    for folder in CORPUS_FOLDERS {
        let dir = open(&data.join(folder));
        for candidate in dir.result_paths().expect("readable") {
            let relative = candidate
                .path
                .strip_prefix(&data)
                .expect("under the data folder")
                .to_string_lossy()
                .into_owned();
            let verdict = match load_result(&candidate) {
                Ok((file, _)) => {
                    format!("ok {} {} {}", file.machine, file.env_name, file.commit_hash)
                }
                Err(_) => "skip   ".to_string(),
            };
            actual.insert(relative, verdict);
        }
    }

    let differences: Vec<String> = expected
        .iter()
        .filter(|(path, verdict)| actual.get(*path) != Some(verdict))
        .map(|(path, verdict)| format!("{path}: asv {verdict:?}, pitot {:?}", actual.get(path)))
        .take(10)
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert_eq!(actual.len(), expected.len());
}
