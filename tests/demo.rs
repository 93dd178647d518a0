//! `pitot demo --exit`, the README's main command, from a fresh home
//! folder: embedded PostgreSQL, in-process agent, real `asv continuous`.

#[path = "support/asv_venv.rs"]
mod asv_venv;

use std::process::Command;

#[test]
fn demo_prints_a_comment_with_the_regression() {
    let Some(asv) = asv_venv::asv_executable() else {
        return;
    };
    // The agent finds asv on PATH instead of installing its own copy.
    let asv_bin = asv.parent().expect("asv lives in a bin folder");
    let path = std::env::join_paths(std::iter::once(asv_bin.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH joins");
    let home = tempfile::tempdir().expect("temporary folder");

    let output = Command::new(env!("CARGO_BIN_EXE_pitot"))
        .args(["demo", "--exit"])
        .env_remove("DATABASE_URL")
        .env("PITOT_HOME", home.path())
        .env("PATH", path)
        .output()
        .expect("pitot runs");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pitot demo failed:\n{stderr}\n{stdout}"
    );
    assert!(stdout.starts_with("<!-- pitot:sticky "), "{stdout}");
    assert!(stdout.contains("**Regressed**"), "{stdout}");
    let slowed = pitot_runner::demo::SLOWED_BENCHMARK;
    let row = stdout
        .lines()
        .find(|line| line.starts_with('|') && line.contains(&format!("`{slowed}`")))
        .unwrap_or_else(|| panic!("no row for {slowed}: {stdout}"));
    assert!(row.contains("worse"), "{row}");
    assert!(
        stderr.contains("/jobs/"),
        "the job page is printed: {stderr}"
    );
    assert!(
        stderr.contains("/#/runs/"),
        "the dashboard's run view is printed: {stderr}"
    );
}
