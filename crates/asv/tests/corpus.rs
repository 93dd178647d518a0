//! Reads every results file of the real asv corpora and compares what this
//! crate finds with what asv 0.6.6's own loader found in the same files
//! (`tests/fixtures/asv/corpus_counts.tsv`, made by `corpus_counts.py`).
//!
//! The corpora are large, so they are read in place from `../shared/data`
//! beside the workspace. When that folder is absent, the test prints a
//! message and passes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pitot_asv::folder::{check_machine, is_results_file_name, MACHINE_FILE};
use pitot_asv::{parse_machine, parse_results, Outcome, ResultsFile};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The results folders `corpus_counts.py` walks, relative to the data folder.
const RESULTS_FOLDERS: [&str; 7] = [
    "asv-tests/test/example_results",
    "asv-results/conda-benchmarks/dot_asv/results",
    "asv-results/conda-benchmarks/results",
    "asv-results/django-asv/results",
    "asv-results/photutils-benchmarks/results",
    "asv-results/plasmapy-benchmarks/results",
    "asv-results/uxarray-asv/results",
];

/// One row of `corpus_counts.tsv`, minus the path. A skipped file has only
/// the verdict, with every other column empty.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    verdict: String,
    machine: String,
    env_name: String,
    commit_hash: String,
    benchmarks: String,
    values: String,
    failed: String,
    skipped: String,
    with_stats: String,
    samples: String,
    names_fnv1a64: String,
}

impl Reading {
    fn skip() -> Reading {
        Reading::from_columns(&["skip"])
    }

    fn from_columns(columns: &[&str]) -> Reading {
        let column = |index: usize| columns.get(index).copied().unwrap_or("").to_string();
        Reading {
            verdict: column(0),
            machine: column(1),
            env_name: column(2),
            commit_hash: column(3),
            benchmarks: column(4),
            values: column(5),
            failed: column(6),
            skipped: column(7),
            with_stats: column(8),
            samples: column(9),
            names_fnv1a64: column(10),
        }
    }

    fn of(file: &ResultsFile) -> Reading {
        let outcomes = || file.benchmarks.iter().flat_map(|b| b.outcomes.iter());
        let count = |wanted: Outcome| outcomes().filter(|&&outcome| outcome == wanted).count();
        let with_stats: usize = file
            .benchmarks
            .iter()
            .map(|b| b.stats.iter().flatten().count())
            .sum();
        let samples: usize = file
            .benchmarks
            .iter()
            .flat_map(|b| b.samples.iter().flatten())
            .map(Vec::len)
            .sum();
        let mut names: Vec<&str> = file.benchmarks.iter().map(|b| b.name.as_str()).collect();
        names.sort_unstable();
        Reading {
            verdict: "ok".into(),
            machine: file.machine.clone(),
            env_name: file.env_name.clone(),
            commit_hash: file.commit_hash.clone(),
            benchmarks: file.benchmarks.len().to_string(),
            values: outcomes().count().to_string(),
            failed: count(Outcome::Failed).to_string(),
            skipped: outcomes()
                .filter(|outcome| matches!(outcome, Outcome::Skipped))
                .count()
                .to_string(),
            with_stats: with_stats.to_string(),
            samples: samples.to_string(),
            names_fnv1a64: fnv1a64(&names.join("\n")),
        }
    }
}

fn fnv1a64(text: &str) -> String {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in text.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    format!("{hash:016x}")
}

fn expected_readings() -> BTreeMap<String, Reading> {
    let path = format!("{WORKSPACE}/tests/fixtures/asv/corpus_counts.tsv");
    let table = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    table
        .lines()
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            (columns[0].to_string(), Reading::from_columns(&columns[1..]))
        })
        .collect()
}

/// Lists the results files under `folder` with the machine named by each
/// file's folder, or `None` when asv cannot read that `machine.json`.
fn candidate_files(folder: &Path, found: &mut Vec<(PathBuf, Option<String>)>) {
    let machine = std::fs::read(folder.join(MACHINE_FILE))
        .ok()
        .and_then(|bytes| parse_machine(&bytes).ok())
        .map(|info| info.machine);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            candidate_files(&path, found);
        } else if path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(is_results_file_name)
        {
            found.push((path, machine.clone()));
        }
    }
}

/// Reads one file as pitot's results-folder reader does.
fn read(path: &Path, machine: Option<&str>) -> Reading {
    let Some(machine) = machine else {
        return Reading::skip();
    };
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    match parse_results(&bytes) {
        Ok(file) if check_machine(&file, machine).is_ok() => Reading::of(&file),
        Ok(_) | Err(_) => Reading::skip(),
    }
}

#[test]
fn corpus_matches_asv_loader() {
    let data = PathBuf::from(format!("{WORKSPACE}/../shared/data"));
    if !data.join("asv-results").is_dir() {
        println!("skipped: no asv corpus at {}", data.display());
        return;
    }
    let expected = expected_readings();

    let mut files = Vec::new();
    for folder in RESULTS_FOLDERS {
        candidate_files(&data.join(folder), &mut files);
    }
    let mut mismatches = Vec::new();
    let mut seen = BTreeSet::new();
    for (path, machine) in &files {
        let relative = path
            .strip_prefix(&data)
            .expect("under the data folder")
            .to_string_lossy()
            .into_owned();
        let actual = read(path, machine.as_deref());
        match expected.get(&relative) {
            None => mismatches.push(format!("{relative}: not in corpus_counts.tsv")),
            Some(wanted) if *wanted != actual => {
                mismatches.push(format!(
                    "{relative}:\n  asv:   {wanted:?}\n  pitot: {actual:?}"
                ));
            }
            Some(_) => {}
        }
        seen.insert(relative);
    }
    for relative in expected.keys().filter(|path| !seen.contains(*path)) {
        mismatches.push(format!(
            "{relative}: listed in corpus_counts.tsv but not found"
        ));
    }

    let skipped = expected.values().filter(|r| r.verdict == "skip").count();
    println!("{} files compared, {skipped} skipped by asv", files.len());
    assert!(
        mismatches.is_empty(),
        "{} of {} files differ from asv's reading, first ones:\n{}",
        mismatches.len(),
        files.len(),
        mismatches[..mismatches.len().min(10)].join("\n")
    );
    assert_eq!(files.len(), expected.len());
}
