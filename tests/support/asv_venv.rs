//! A Python virtual environment with asv installed from PyPI, made once
//! under `target/asv-venv` and reused by later test runs.
//!
//! Tests call [`asv_executable`]. Creating the environment needs `python3`
//! with the `venv` module and access to PyPI. Where that fails, the tests
//! skip with a printed reason, except under `CI=true`, where they fail.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The asv release whose output pitot reproduces.
pub const ASV_VERSION: &str = "0.6.6";
/// asv does not pin tabulate; this pin keeps the reference output stable.
pub const TABULATE_VERSION: &str = "0.10.0";

/// How long another process may hold the creation lock before it counts as
/// abandoned. Creating the environment takes well under a minute with a
/// warm pip cache; this allows for a slow network.
const LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// Serializes creation between the tests of one test binary.
static CREATION: Mutex<()> = Mutex::new(());

/// Returns the path of the `asv` executable, creating the environment on
/// first use. Returns `None` after printing why when the environment cannot
/// be created outside CI.
///
/// # Panics
///
/// When the environment cannot be created and `CI` is `true`.
pub fn asv_executable() -> Option<PathBuf> {
    let _guard = CREATION
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match ensure_venv() {
        Ok(asv) => Some(asv),
        Err(reason) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("cannot create the asv virtual environment: {reason}")
        }
        Err(reason) => {
            eprintln!("skipping: cannot create the asv virtual environment: {reason}");
            None
        }
    }
}

fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/asv-venv")
}

/// Returns the contents of the marker file written once the environment is complete.
fn pins() -> String {
    format!("asv=={ASV_VERSION}\ntabulate=={TABULATE_VERSION}\n")
}

fn ensure_venv() -> Result<PathBuf, String> {
    let venv = venv_dir();
    let asv = venv.join("bin/asv");
    let marker = venv.join("pitot-pins.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|text| text == pins()) {
        return Ok(asv);
    }

    let parent = venv.parent().ok_or("target folder has no parent")?;
    std::fs::create_dir_all(parent)
        .map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    let lock_path = parent.join("asv-venv.lock");
    let _lock = acquire_lock(&lock_path)?;
    // Another process may have finished while this one waited.
    if std::fs::read_to_string(&marker).is_ok_and(|text| text == pins()) {
        return Ok(asv);
    }

    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .map_err(|error| format!("cannot remove the stale {}: {error}", venv.display()))?;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("asv=={ASV_VERSION}"),
        &format!("tabulate=={TABULATE_VERSION}"),
    ]))?;
    std::fs::write(&marker, pins())
        .map_err(|error| format!("cannot write {}: {error}", marker.display()))?;
    Ok(asv)
}

/// Runs a setup command, returning its output as the error on failure.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A lock file that is removed when dropped.
struct LockFile(PathBuf);

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates the lock file, waiting while another process holds it and
/// taking over a lock older than [`LOCK_TIMEOUT`].
fn acquire_lock(path: &Path) -> Result<LockFile, String> {
    let started = Instant::now();
    loop {
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(_) => return Ok(LockFile(path.to_path_buf())),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let age = std::fs::metadata(path)
                    .and_then(|metadata| metadata.modified())
                    .ok()
                    .and_then(|modified| SystemTime::now().duration_since(modified).ok());
                if age.is_some_and(|age| age > LOCK_TIMEOUT) {
                    let _ = std::fs::remove_file(path);
                    continue;
                }
                if started.elapsed() > LOCK_TIMEOUT {
                    return Err(format!("timed out waiting for {}", path.display()));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(error) => return Err(format!("cannot create {}: {error}", path.display())),
        }
    }
}
