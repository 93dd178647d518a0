//! Reading an asv results folder from disk: `benchmarks.json`, one folder
//! per machine with its `machine.json`, and the results files in those
//! folders.
//!
//! Which files count as results, and which of them asv skips, follows
//! asv 0.6.6 through the pure rules in [`pitot_asv::folder`]. Like asv's
//! `iter_results_paths`, the walk goes into subfolders too, and each folder
//! needs its own valid `machine.json`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use pitot_asv::folder::{self, BENCHMARKS_FILE, MACHINE_FILE};
use pitot_asv::{AsvConfig, BenchmarkSuite, MachineInfo, ResultsFile};

/// The config file names asv 0.6 looks for in a project folder.
const CONFIG_FILES: [&str; 2] = ["asv.conf.json", "asv.conf.jsonc"];

/// An asv results folder, opened directly or through a project's config.
#[derive(Debug)]
pub struct ResultsDir {
    /// The results folder: `benchmarks.json` and one folder per machine.
    pub root: PathBuf,
    /// The project's config, when the folder was opened through one.
    pub config: Option<AsvConfig>,
}

/// A candidate results file: a `*.json` file other than `machine.json` and
/// `benchmarks.json` somewhere below the results folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultPath {
    /// The file's folder relative to the results folder, with `/` between
    /// parts, such as `cheetah`. Empty for a file at the top.
    pub machine_dir: String,
    pub path: PathBuf,
    /// The `machine` named by the folder's `machine.json`, or why asv cannot
    /// read that file (then asv skips every results file in the folder).
    pub folder_machine: Result<String, String>,
}

/// A results file that asv would skip, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped {}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for Skip {}

impl ResultsDir {
    /// Opens `path`: an asv results folder (with `benchmarks.json` or a
    /// machine folder), or a project folder with `asv.conf.json`, whose
    /// `results_dir` is then resolved against the project folder.
    pub fn open(path: &Path) -> anyhow::Result<ResultsDir> {
        let metadata = std::fs::metadata(path).with_context(|| {
            format!(
                "cannot open {}: pass an asv results folder or a project folder with asv.conf.json",
                path.display()
            )
        })?;
        if !metadata.is_dir() {
            bail!(
                "{} is a file: pass an asv results folder or a project folder with asv.conf.json",
                path.display()
            );
        }

        if let Some(config_path) = find_config(path)? {
            return open_project(path, &config_path);
        }
        if path.join(BENCHMARKS_FILE).is_file() || has_machine_folder(path)? {
            return Ok(ResultsDir {
                root: path.to_path_buf(),
                config: None,
            });
        }
        bail!(
            "no benchmarks.json or asv.conf.json in {}: pass an asv results folder or a project folder",
            path.display()
        )
    }

    /// Reads `<root>/benchmarks.json`. Returns `None` when the file does not exist.
    pub fn benchmarks(&self) -> anyhow::Result<Option<BenchmarkSuite>> {
        let path = self.root.join(BENCHMARKS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("failed to read {}", path.display()))
            }
        };
        let suite = pitot_asv::parse_benchmarks(&bytes).with_context(|| {
            format!(
                "invalid {}: run `asv run --bench just-discover` to write it again",
                path.display()
            )
        })?;
        Ok(Some(suite))
    }

    /// Reads every valid `machine.json` below the results folder, sorted by
    /// folder. An invalid one is logged and left out, because asv then skips
    /// that folder's results too.
    pub fn machines(&self) -> anyhow::Result<Vec<MachineInfo>> {
        let mut machines = Vec::new();
        for folder in self.folders()? {
            let machine_file = folder.join(MACHINE_FILE);
            if !machine_file.is_file() {
                continue;
            }
            match read_machine(&machine_file) {
                Ok(machine) => machines.push(machine),
                Err(reason) => {
                    tracing::warn!(path = %machine_file.display(), %reason, "skipping an invalid machine.json");
                }
            }
        }
        Ok(machines)
    }

    /// Lists every candidate results file below the results folder, sorted
    /// by path, with the machine its folder names.
    pub fn result_paths(&self) -> anyhow::Result<Vec<ResultPath>> {
        let mut paths = Vec::new();
        for folder in self.folders()? {
            let files = list_folder(&folder)?.into_iter().filter(|path| {
                path.is_file() && file_name(path).is_some_and(folder::is_results_file_name)
            });
            let files: Vec<PathBuf> = files.collect();
            if files.is_empty() {
                continue;
            }
            let folder_machine = read_machine(&folder.join(MACHINE_FILE)).map(|info| info.machine);
            let machine_dir = relative_folder(&self.root, &folder);
            for path in files {
                paths.push(ResultPath {
                    machine_dir: machine_dir.clone(),
                    path,
                    folder_machine: folder_machine.clone(),
                });
            }
        }
        Ok(paths)
    }

    /// Returns the results folder and every folder below it, sorted by path.
    fn folders(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut folders = vec![self.root.clone()];
        let mut index = 0;
        while index < folders.len() {
            let below = list_folder(&folders[index])?
                .into_iter()
                .filter(|path| path.is_dir());
            folders.extend(below);
            index += 1;
        }
        folders.sort();
        Ok(folders)
    }
}

/// Returns the config file of a project folder. asv 0.6 accepts
/// `asv.conf.json` or `asv.conf.jsonc` and rejects a folder with both.
fn find_config(folder: &Path) -> anyhow::Result<Option<PathBuf>> {
    let found: Vec<PathBuf> = CONFIG_FILES
        .iter()
        .map(|name| folder.join(name))
        .filter(|path| path.is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(only.clone())),
        _ => bail!(
            "both asv.conf.json and asv.conf.jsonc in {}: remove one, as asv requires",
            folder.display()
        ),
    }
}

fn open_project(project: &Path, config_path: &Path) -> anyhow::Result<ResultsDir> {
    let bytes = std::fs::read(config_path)
        .with_context(|| format!("failed to read {}", config_path.display()))?;
    let config = pitot_asv::parse_config(&bytes)
        .with_context(|| format!("invalid asv config {}", config_path.display()))?;
    let root = project.join(&config.results_dir);
    if !root.is_dir() {
        bail!(
            "results folder {} (results_dir in {}) does not exist: run asv in the project first, or fix results_dir",
            root.display(),
            config_path.display()
        );
    }
    Ok(ResultsDir {
        root,
        config: Some(config),
    })
}

fn has_machine_folder(path: &Path) -> anyhow::Result<bool> {
    Ok(list_folder(path)?
        .iter()
        .any(|entry| entry.join(MACHINE_FILE).is_file()))
}

/// Lists a folder's entries, sorted by path.
fn list_folder(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let context = || format!("failed to list {}", folder.display());
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(folder).with_context(context)? {
        entries.push(entry.with_context(context)?.path());
    }
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> Option<&str> {
    path.file_name()?.to_str()
}

fn relative_folder(root: &Path, folder: &Path) -> String {
    let relative = folder.strip_prefix(root).unwrap_or(folder);
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// Reads a folder's `machine.json`, returning why asv would not accept it on failure.
fn read_machine(path: &Path) -> Result<MachineInfo, String> {
    let bytes = std::fs::read(path)
        .map_err(|error| format!("cannot read {MACHINE_FILE} in its folder ({error})"))?;
    pitot_asv::parse_machine(&bytes)
        .map_err(|error| format!("invalid {MACHINE_FILE} in its folder: {error}"))
}

/// Reads and parses one results file. Returns the parsed file and its raw
/// bytes (for hashing), or a [`Skip`] saying why asv would skip the file.
pub fn load_result(candidate: &ResultPath) -> Result<(ResultsFile, Vec<u8>), Skip> {
    let skip = |reason: String| Skip {
        path: candidate.path.clone(),
        reason,
    };
    let folder_machine = candidate
        .folder_machine
        .as_deref()
        .map_err(|reason| skip(reason.to_string()))?;
    let bytes = std::fs::read(&candidate.path)
        .map_err(|error| skip(format!("cannot read the file ({error})")))?;
    let file = pitot_asv::parse_results(&bytes).map_err(|error| skip(error.to_string()))?;
    folder::check_machine(&file, folder_machine).map_err(|error| skip(error.to_string()))?;
    Ok((file, bytes))
}

/// Loads the results of one commit, as `asv compare` finds them. The
/// commit prefix is matched against the commit part of the file names,
/// comparing as many characters as the shorter side has. `machine` limits
/// the search to that machine's folder, and `env` to files of that environment.
///
/// Returns the files and the skipped candidates. A prefix that matches no
/// file returns no files; one that matches several commits is an error.
pub fn load_commit(
    dir: &ResultsDir,
    commit_prefix: &str,
    machine: Option<&str>,
    env: Option<&str>,
) -> anyhow::Result<(Vec<ResultsFile>, Vec<Skip>)> {
    if commit_prefix.is_empty() {
        bail!("empty commit: pass a commit hash or a prefix of one");
    }
    let in_machine = |candidate: &ResultPath| match machine {
        None => true,
        Some(machine) => {
            candidate.machine_dir == machine
                || candidate.machine_dir.starts_with(&format!("{machine}/"))
        }
    };
    let candidates: Vec<ResultPath> = dir
        .result_paths()?
        .into_iter()
        .filter(|candidate| in_machine(candidate))
        .filter(|candidate| commit_matches(candidate, commit_prefix))
        .collect();
    let commit = single_commit(&candidates, commit_prefix, &dir.root)?;

    let mut files = Vec::new();
    let mut skips = Vec::new();
    for candidate in &candidates {
        // Files in a folder without a valid machine.json are reported as
        // skipped even when no valid folder has the commit.
        let in_commit = commit.is_some_and(|commit| file_commit(candidate) == commit);
        if !in_commit && candidate.folder_machine.is_ok() {
            continue;
        }
        match load_result(candidate) {
            Ok((file, _bytes)) if env.is_none_or(|env| file.env_name == env) => files.push(file),
            Ok(_) => {}
            Err(skip) => skips.push(skip),
        }
    }
    Ok((files, skips))
}

fn file_commit(candidate: &ResultPath) -> &str {
    folder::commit_in_file_name(file_name(&candidate.path).unwrap_or_default())
}

fn commit_matches(candidate: &ResultPath, commit_prefix: &str) -> bool {
    folder::commit_matches(file_commit(candidate), commit_prefix)
}

/// Returns the one commit the matching files name, or `None` when no file
/// matches. Like asv, only folders with a valid `machine.json` count, and a
/// prefix that matches several commits is an error.
fn single_commit<'c>(
    candidates: &'c [ResultPath],
    commit_prefix: &str,
    root: &Path,
) -> anyhow::Result<Option<&'c str>> {
    let mut commits: Vec<&str> = candidates
        .iter()
        .filter(|candidate| candidate.folder_machine.is_ok())
        .map(file_commit)
        .collect();
    commits.sort_unstable();
    commits.dedup();
    match commits.as_slice() {
        [] => Ok(None),
        [commit] => Ok(Some(commit)),
        _ => bail!(
            "commit {commit_prefix} matches results of several commits in {}: {}; give more characters of the hash",
            root.display(),
            commits.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests;
