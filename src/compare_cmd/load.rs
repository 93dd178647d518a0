//! Reading the inputs of `pitot compare` from disk: single results files,
//! `benchmarks.json`, and the results of one commit in an asv results
//! folder (through [`crate::results_dir`], which follows asv 0.6.6).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use pitot_asv::folder::BENCHMARKS_FILE;
use pitot_asv::{BenchmarkSuite, ResultsFile};

use crate::results_dir::{self, ResultsDir};

/// Reads and parses one results file.
pub fn read_results_file(path: &Path) -> anyhow::Result<ResultsFile> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("failed to read results file {}", path.display()))?;
    pitot_asv::parse_results(&bytes)
        .with_context(|| format!("{} is not a valid asv results file", path.display()))
}

/// Reads and parses a `benchmarks.json` file.
pub fn read_benchmarks(path: &Path) -> anyhow::Result<BenchmarkSuite> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "failed to read {}; asv compare needs the suite's benchmarks.json for units, \
             so pass its path with --benchmarks FILE",
            path.display()
        )
    })?;
    pitot_asv::parse_benchmarks(&bytes)
        .with_context(|| format!("{} is not a valid benchmarks.json", path.display()))
}

/// Returns where asv keeps `benchmarks.json` for a results file:
/// `<results>/<machine>/<file>.json` has it at `<results>/benchmarks.json`.
pub fn benchmarks_beside(results_file: &Path) -> anyhow::Result<PathBuf> {
    let results_folder = results_file
        .canonicalize()
        .ok()
        .and_then(|path| path.parent()?.parent().map(Path::to_path_buf));
    match results_folder {
        Some(folder) => Ok(folder.join(BENCHMARKS_FILE)),
        None => bail!(
            "cannot locate benchmarks.json for {}: it is not inside a machine folder of a \
             results folder; pass --benchmarks FILE",
            results_file.display()
        ),
    }
}

/// The results files of one commit on one machine.
pub struct CommitResults {
    /// The full commit hash from the files.
    pub commit_hash: String,
    pub files: Vec<ResultsFile>,
}

/// Returns the requested machine after checking that it has results, or
/// the only machine when none was requested, as `asv compare` chooses.
pub fn choose_machine(dir: &ResultsDir, requested: Option<&str>) -> anyhow::Result<String> {
    let machines: BTreeSet<String> = dir
        .machines()?
        .into_iter()
        .map(|info| info.machine)
        .collect();
    let listed = machines
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    match requested {
        _ if machines.is_empty() => bail!(
            "no results in {}: no machine folder with a valid machine.json",
            dir.root.display()
        ),
        None if machines.len() == 1 => Ok(listed),
        None => bail!(
            "results for several machines in {}: {listed}; choose one with --machine",
            dir.root.display()
        ),
        Some(machine) if machines.contains(machine) => Ok(machine.to_owned()),
        Some(machine) => bail!(
            "--machine {machine}: no results for this machine in {}; machines with results: {listed}",
            dir.root.display()
        ),
    }
}

/// Returns the suite from `--benchmarks`, or the results folder's
/// `benchmarks.json`.
pub fn suite_of(dir: &ResultsDir, benchmarks: Option<&Path>) -> anyhow::Result<BenchmarkSuite> {
    if let Some(path) = benchmarks {
        return read_benchmarks(path);
    }
    match dir.benchmarks()? {
        Some(suite) => Ok(suite),
        None => bail!(
            "no {BENCHMARKS_FILE} in {}; asv compare needs it for units, so pass its path with \
             --benchmarks FILE",
            dir.root.display()
        ),
    }
}

/// Loads every results file of `commit` (a hash or a prefix) on `machine`,
/// keeping only the environments in `envs` unless it is empty.
///
/// Like asv, files that cannot be parsed or that name another machine are
/// skipped with a warning, and a prefix of several commits is an error.
pub fn load_commit(
    dir: &ResultsDir,
    machine: &str,
    commit: &str,
    envs: &[String],
) -> anyhow::Result<CommitResults> {
    let (files, skips) = results_dir::load_commit(dir, commit, Some(machine), None)?;
    for skip in &skips {
        tracing::warn!(path = %skip.path.display(), reason = %skip.reason, "skipping a results file that asv would skip too");
    }
    let files: Vec<ResultsFile> = files
        .into_iter()
        .filter(|file| envs.is_empty() || envs.contains(&file.env_name))
        .collect();

    if files.iter().all(|file| file.benchmarks.is_empty()) {
        let environments = if envs.is_empty() {
            String::new()
        } else {
            format!(" in environment {}", envs.join(", "))
        };
        bail!(
            "no results for commit {commit:?} on machine {machine}{environments} in {}; \
             check the hash, --machine and --env",
            dir.root.display()
        );
    }
    Ok(CommitResults {
        commit_hash: files[0].commit_hash.clone(),
        files,
    })
}
