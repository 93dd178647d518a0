//! Replays the fuzz targets' inputs in the normal test suite. The inputs
//! are the real files the fuzzers start from (asv results and GitHub
//! payloads under `tests/fixtures/`), the hand-written seeds in
//! `fuzz/seeds/`, and every crashing input kept in `fuzz/regressions/`.
//! `docs/fuzzing.md` explains how to run the fuzzers themselves.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns every file under `dir`, sorted, or nothing when it does not exist.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries {
            let path = entry.expect("readable folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Returns the seeds and kept crashing inputs of one target.
fn kept_inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = repository().join("fuzz");
    let mut files = files_under(&fuzz.join("seeds").join(target));
    files.extend(files_under(&fuzz.join("regressions").join(target)));
    files
}

/// Runs `target` on each input and returns how many ran; a panic names the file.
fn replay(inputs: &[(String, Vec<u8>)], target: fn(&[u8])) -> usize {
    for (name, data) in inputs {
        let outcome = std::panic::catch_unwind(|| target(data));
        assert!(outcome.is_ok(), "the fuzz check failed on {name}");
    }
    inputs.len()
}

fn read_all(paths: &[PathBuf]) -> Vec<(String, Vec<u8>)> {
    paths
        .iter()
        .map(|path| (path.display().to_string(), std::fs::read(path).expect("readable input")))
        .collect()
}

#[test]
fn results_file_inputs() {
    let mut paths = files_under(&repository().join("tests/fixtures/asv"));
    paths.retain(|path| path.extension().is_some_and(|extension| extension == "json"));
    paths.extend(kept_inputs("results_file"));

    let ran = replay(&read_all(&paths), targets::results_file);

    assert!(ran >= 50, "only {ran} results inputs");
}

#[test]
fn webhook_body_inputs() {
    // Each payload is prefixed with its event name, the folder it is in.
    let payloads = repository().join("tests/fixtures/webhooks");
    let mut inputs = Vec::new();
    for path in files_under(&payloads) {
        if path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        let event = path.parent().and_then(Path::file_name).expect("event folder");
        let mut data = event.as_encoded_bytes().to_vec();
        data.push(b'\n');
        data.extend(std::fs::read(&path).expect("readable payload"));
        inputs.push((path.display().to_string(), data));
    }
    inputs.extend(read_all(&kept_inputs("webhook_body")));

    let ran = replay(&inputs, targets::webhook_body);

    assert!(ran >= 12, "only {ran} webhook inputs");
}

#[test]
fn artifact_zip_inputs() {
    let ran = replay(&read_all(&kept_inputs("artifact_zip")), targets::artifact_zip);

    assert!(ran >= 4, "only {ran} artifact inputs");
}

#[test]
fn markdown_escape_inputs() {
    let ran = replay(&read_all(&kept_inputs("markdown_escape")), targets::markdown_escape);

    assert!(ran >= 5, "only {ran} markdown inputs");
}

/// The checks themselves must be able to fail: an escape that lets a
/// backtick run through would be caught.
#[test]
fn markdown_check_catches_an_unsafe_span() {
    let caught = std::panic::catch_unwind(|| targets::check_code_span("a``b", "`a``b`"));

    assert!(caught.is_err(), "a span whose text holds a longer backtick run passed");
}
