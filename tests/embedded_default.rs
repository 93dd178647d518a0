//! The embedded default: with no DATABASE_URL, pitot starts its own
//! PostgreSQL server under PITOT_HOME, uses it, and stops it on exit.

use std::path::Path;
use std::process::{Command, Output};

#[track_caller]
fn run_pitot(pitot_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pitot"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("PITOT_HOME", pitot_home)
        .output()
        .expect("pitot runs")
}

#[test]
fn embedded_server_starts_migrates_and_stops() {
    let home = tempfile::tempdir().expect("temporary folder");

    let first = run_pitot(home.path(), &["migrate"]);
    let second = run_pitot(home.path(), &["migrate"]);

    assert!(first.status.success(), "first run failed: {}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("migrations applied"));
    assert!(second.status.success(), "second run failed: {}", String::from_utf8_lossy(&second.stderr));
    let data_dir = home.path().join("postgres/data");
    assert!(data_dir.join("PG_VERSION").is_file(), "no data folder was created");
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "the embedded server is still running after pitot exited"
    );
}

#[test]
fn embedded_import_then_compare_round_trips() {
    let home = tempfile::tempdir().expect("temporary folder");
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv/example_results");

    let import = run_pitot(home.path(), &["import", results.to_str().unwrap(), "--repo", "example/asv"]);
    let compare = run_pitot(
        home.path(),
        &[
            "compare", "22b920c6", "fcf8c079", "--repo", "example/asv", "--machine", "cheetah", "--env",
            "py2.7-numpy1.8", "--factor", "2", "--format", "asv",
        ],
    );

    assert!(import.status.success(), "import failed: {}", String::from_utf8_lossy(&import.stderr));
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/asv/compare_expected/REFERENCE.txt"),
    )
    .expect("reference output");
    let printed = String::from_utf8_lossy(&compare.stdout);
    assert_eq!(printed.trim(), expected.trim());
    assert_eq!(compare.status.code(), Some(1), "a `+` row must give exit status 1");
}

#[test]
fn overlong_pitot_home_is_rejected() {
    let home = Path::new("/tmp").join("x".repeat(120));

    let output = run_pitot(&home, &["migrate"]);

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("set PITOT_HOME to a shorter path"), "{stderr}");
}
