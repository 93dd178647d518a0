//! Reading the artifact that pitot's GitHub Actions workflow uploads
//! (`deploy/github/pitot-benchmarks.yml`).
//!
//! The workflow runs a pull request's code, so its artifact is untrusted
//! input: a zip archive that could be a bomb, or contain paths that climb out
//! of a folder, symbolic links, or files pitot never requested.
//! [`read_artifact`] reads it entry by entry from a file and extracts nothing
//! to disk. It caps the archive size, the number of entries, the total
//! uncompressed size and the compression ratio. It keeps only the files the
//! workflow writes:
//!
//! ```text
//! pitot-job.json                   {"job_id", "base_sha", "head_sha", "machine"}
//! asv.log                          asv's output
//! results/benchmarks.json
//! results/<machine>/machine.json
//! results/<machine>/<commit>-<environment>.json
//! ```
//!
//! The outcome is not taken from the workflow's word: it is judged from the
//! result files with [`crate::continuous::judge`], as for an agent's run.

use std::io::{Read, Seek, SeekFrom};

use serde::Deserialize;
use zip::ZipArchive;

use crate::api::{JobOutcome, ReportRequest, ResultFile};
use crate::continuous::{judge, RunResult};

/// The manifest's name at the root of the artifact.
pub const MANIFEST: &str = "pitot-job.json";
/// The log's name at the root of the artifact.
pub const LOG: &str = "asv.log";
const RESULTS: &str = "results";

/// The size in bytes from which an entry's or the archive's compression ratio
/// is checked, so that small files, whose headers dominate, never count as bombs.
const RATIO_CHECK_FROM_BYTES: u64 = 1 << 20;

/// Limits on an artifact's size and contents. The defaults fit a suite of
/// thousands of benchmarks with samples and a long log, with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactLimits {
    /// The size of the zip file itself.
    pub max_archive_bytes: u64,
    /// The sum of all entries' uncompressed sizes.
    pub max_total_bytes: u64,
    /// The number of entries, directories included.
    pub max_entries: usize,
    /// The largest uncompressed/compressed ratio of an entry and of the
    /// whole archive. asv's JSON compresses about 5 to 20 times.
    pub max_ratio: u64,
}

impl Default for ArtifactLimits {
    fn default() -> Self {
        Self {
            max_archive_bytes: 64 << 20,
            max_total_bytes: 512 << 20,
            max_entries: 10_000,
            max_ratio: 200,
        }
    }
}

/// The reason an artifact is rejected. Nothing of a rejected artifact is kept.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("the artifact is {size} bytes, over the limit of {limit}; benchmark fewer commits or fewer benchmarks per job")]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error("the artifact holds {count} entries, over the limit of {limit}; the workflow uploads only the results of two commits")]
    TooManyEntries { count: usize, limit: usize },
    #[error("the artifact unpacks to more than {limit} bytes (at entry {name:?}); it is rejected as a possible zip bomb")]
    TooLarge { name: String, limit: u64 },
    #[error("the entry {name:?} is compressed {ratio}:1, over the limit of {limit}:1; it is rejected as a possible zip bomb")]
    RatioTooHigh {
        name: String,
        ratio: u64,
        limit: u64,
    },
    #[error("the entry {name:?} has an unsafe path ({reason}); artifact paths must be relative and stay inside the artifact")]
    UnsafePath { name: String, reason: &'static str },
    #[error("the entry {name:?} is a symbolic link; the artifact may hold only plain files")]
    Link { name: String },
    #[error("the entry {name:?} is not UTF-8 text")]
    NotText { name: String },
    #[error("the artifact has no {MANIFEST}; upload it with pitot's workflow template (deploy/github/pitot-benchmarks.yml)")]
    NoManifest,
    #[error("{MANIFEST} is invalid: {reason}")]
    BadManifest { reason: String },
    #[error("the artifact is for job {found}, not job {expected}; it does not belong to this run")]
    WrongJob { expected: i64, found: i64 },
    #[error("the artifact is not a readable zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("reading the artifact failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The workflow's description of the run, `pitot-job.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    job_id: i64,
    base_sha: String,
    head_sha: String,
    machine: String,
}

/// An artifact that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// The run as an agent would have reported it.
    pub report: ReportRequest,
    /// Entries that were neither dangerous nor expected, left unread.
    pub ignored: Vec<String>,
}

/// Reads the artifact of the run for `job_id` and turns it into the report
/// an agent would send for `attempt`.
pub fn read_artifact<R: Read + Seek>(
    mut file: R,
    job_id: i64,
    attempt: i32,
    limits: &ArtifactLimits,
) -> Result<Artifact, ArtifactError> {
    let archive_bytes = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    if archive_bytes > limits.max_archive_bytes {
        return Err(ArtifactError::ArchiveTooLarge {
            size: archive_bytes,
            limit: limits.max_archive_bytes,
        });
    }
    let mut archive = ZipArchive::new(file)?;
    if archive.len() > limits.max_entries {
        return Err(ArtifactError::TooManyEntries {
            count: archive.len(),
            limit: limits.max_entries,
        });
    }

    let mut entries = Vec::new();
    let mut total: u64 = 0;
    let mut ignored = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let name = entry.name()?.to_string();
        let path = EntryPath::parse(&name)?;
        if entry.is_symlink() {
            return Err(ArtifactError::Link { name });
        }
        if entry.is_dir() {
            continue;
        }
        let Some(kind) = path.kind() else {
            ignored.push(name);
            continue;
        };

        // The sizes in the archive's headers are the uploader's word, so the
        // read itself is bounded and the ratio uses what was read.
        let budget = limits.max_total_bytes - total;
        let mut bytes = Vec::new();
        (&mut entry).take(budget + 1).read_to_end(&mut bytes)?;
        let size = bytes.len() as u64;
        if size > budget {
            return Err(ArtifactError::TooLarge {
                name,
                limit: limits.max_total_bytes,
            });
        }
        total += size;
        check_ratio(&name, size, entry.compressed_size(), limits.max_ratio)?;
        check_ratio(&name, total, archive_bytes, limits.max_ratio)?;
        let text =
            String::from_utf8(bytes).map_err(|_| ArtifactError::NotText { name: name.clone() })?;
        entries.push((kind, path, text));
    }
    assemble(entries, ignored, job_id, attempt)
}

fn check_ratio(name: &str, unpacked: u64, packed: u64, limit: u64) -> Result<(), ArtifactError> {
    if unpacked <= RATIO_CHECK_FROM_BYTES {
        return Ok(());
    }
    let ratio = unpacked / packed.max(1);
    if ratio > limit {
        return Err(ArtifactError::RatioTooHigh {
            name: name.to_string(),
            ratio,
            limit,
        });
    }
    Ok(())
}

/// The files pitot reads from an artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Manifest,
    Log,
    Benchmarks,
    /// `results/<machine>/<file>.json`, machine.json included.
    Results,
}

/// An entry's path, split into components that are known to be safe.
#[derive(Debug)]
struct EntryPath {
    parts: Vec<String>,
}

impl EntryPath {
    fn parse(name: &str) -> Result<Self, ArtifactError> {
        let unsafe_path = |reason| ArtifactError::UnsafePath {
            name: name.to_string(),
            reason,
        };
        if name.starts_with('/') {
            return Err(unsafe_path("it is absolute"));
        }
        if name.contains('\\') {
            return Err(unsafe_path("it contains a backslash"));
        }
        if name.chars().any(char::is_control) {
            return Err(unsafe_path("it contains a control character"));
        }
        let mut parts = Vec::new();
        for part in name.split('/') {
            match part {
                // A trailing slash marks a directory, and doubled slashes
                // are harmless.
                "" | "." => continue,
                ".." => return Err(unsafe_path("it contains '..'")),
                part if part.contains(':') => {
                    return Err(unsafe_path("it contains ':', a drive or stream name"))
                }
                part => parts.push(part.to_string()),
            }
        }
        if parts.is_empty() {
            return Err(unsafe_path("it is empty"));
        }
        Ok(Self { parts })
    }

    fn kind(&self) -> Option<EntryKind> {
        let parts: Vec<&str> = self.parts.iter().map(String::as_str).collect();
        match parts.as_slice() {
            [MANIFEST] => Some(EntryKind::Manifest),
            [LOG] => Some(EntryKind::Log),
            [RESULTS, "benchmarks.json"] => Some(EntryKind::Benchmarks),
            [RESULTS, _machine, file] if file.ends_with(".json") => Some(EntryKind::Results),
            _ => None,
        }
    }
}

fn assemble(
    entries: Vec<(EntryKind, EntryPath, String)>,
    mut ignored: Vec<String>,
    job_id: i64,
    attempt: i32,
) -> Result<Artifact, ArtifactError> {
    let manifest_text = entries
        .iter()
        .find(|(kind, _, _)| *kind == EntryKind::Manifest)
        .map(|(_, _, text)| text.as_str())
        .ok_or(ArtifactError::NoManifest)?;
    let manifest: Manifest =
        serde_json::from_str(manifest_text).map_err(|error| ArtifactError::BadManifest {
            reason: error.to_string(),
        })?;
    if manifest.job_id != job_id {
        return Err(ArtifactError::WrongJob {
            expected: job_id,
            found: manifest.job_id,
        });
    }
    for (role, sha) in [
        ("base_sha", &manifest.base_sha),
        ("head_sha", &manifest.head_sha),
    ] {
        if sha.len() != 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ArtifactError::BadManifest {
                reason: format!("{role} {sha:?} is not a 40-character commit sha"),
            });
        }
    }

    let mut log = String::new();
    let mut benchmarks_json = None;
    let mut results = Vec::new();
    for (kind, path, text) in entries {
        match kind {
            EntryKind::Manifest => {}
            EntryKind::Log => log = text,
            EntryKind::Benchmarks => benchmarks_json = Some(text),
            EntryKind::Results if path.parts[1] == manifest.machine => results.push(ResultFile {
                path: path.parts[1..].join("/"),
                content: text,
            }),
            // Results of another machine cannot be this run's.
            EntryKind::Results => ignored.push(path.parts.join("/")),
        }
    }

    let run = RunResult {
        benchmarks_json,
        results,
        failure: None,
    };
    let error = judge(
        &run,
        &manifest.machine,
        &manifest.base_sha,
        &manifest.head_sha,
    );
    let report = ReportRequest {
        attempt,
        base_sha: Some(manifest.base_sha),
        head_sha: manifest.head_sha,
        machine: manifest.machine,
        benchmarks_json: run.benchmarks_json,
        results: run.results,
        log,
        outcome: if error.is_none() {
            JobOutcome::Completed
        } else {
            JobOutcome::Failed
        },
        error,
    };
    Ok(Artifact { report, ignored })
}

#[cfg(test)]
mod tests;
