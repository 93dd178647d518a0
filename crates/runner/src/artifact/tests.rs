use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::*;

const BASE: &str = "1111111111111111111111111111111111111111";
const HEAD: &str = "2222222222222222222222222222222222222222";
const JOB: i64 = 42;

fn manifest(job_id: i64) -> String {
    format!(
        r#"{{"job_id": {job_id}, "base_sha": "{BASE}", "head_sha": "{HEAD}", "machine": "gha"}}"#
    )
}

/// Builds a schema 2 results file of one benchmark on the machine `gha`.
fn results(sha: &str) -> String {
    format!(
        r#"{{"commit_hash": "{sha}", "env_name": "virtualenv-py3.11", "date": 1,
            "params": {{"machine": "gha"}}, "python": "3.11", "requirements": {{}},
            "env_vars": {{}}, "result_columns": ["result", "params", "version"],
            "results": {{"benchmarks.time_x": [[0.5], [], "abc"]}},
            "durations": {{}}, "version": 2}}"#
    )
}

fn results_name(sha: &str) -> String {
    format!("results/gha/{}-virtualenv-py3.11.json", &sha[..8])
}

/// Builds a zip in memory from (name, bytes) pairs, deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Cursor<Vec<u8>> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(*name, options).expect("start entry");
        writer.write_all(bytes).expect("write entry");
    }
    let mut cursor = writer.finish().expect("finish zip");
    cursor.set_position(0);
    cursor
}

fn complete_run() -> Vec<(String, Vec<u8>)> {
    vec![
        (MANIFEST.to_string(), manifest(JOB).into_bytes()),
        (LOG.to_string(), b"asv continuous ...\n".to_vec()),
        ("results/benchmarks.json".to_string(), b"{}".to_vec()),
        (
            "results/gha/machine.json".to_string(),
            br#"{"machine": "gha"}"#.to_vec(),
        ),
        (results_name(BASE), results(BASE).into_bytes()),
        (results_name(HEAD), results(HEAD).into_bytes()),
    ]
}

fn zip_owned(entries: &[(String, Vec<u8>)]) -> Cursor<Vec<u8>> {
    let borrowed: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    zip_of(&borrowed)
}

#[test]
fn complete_run_becomes_an_agent_report() {
    let mut entries = complete_run();
    entries.push(("notes.txt".to_string(), b"hello".to_vec()));
    entries.push(("results/other/abc.json".to_string(), b"{}".to_vec()));

    let artifact =
        read_artifact(zip_owned(&entries), JOB, 3, &ArtifactLimits::default()).expect("artifact");

    let report = &artifact.report;
    assert_eq!(
        report.outcome,
        JobOutcome::Completed,
        "error: {:?}",
        report.error
    );
    assert_eq!(report.attempt, 3);
    assert_eq!(report.base_sha.as_deref(), Some(BASE));
    assert_eq!(report.head_sha, HEAD);
    assert_eq!(report.machine, "gha");
    assert_eq!(report.benchmarks_json.as_deref(), Some("{}"));
    assert_eq!(report.log, "asv continuous ...\n");
    let mut paths: Vec<&str> = report
        .results
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "gha/11111111-virtualenv-py3.11.json",
            "gha/22222222-virtualenv-py3.11.json",
            "gha/machine.json"
        ]
    );
    assert_eq!(artifact.ignored, ["notes.txt", "results/other/abc.json"]);
}

#[test]
fn missing_head_results_fail_run() {
    let entries: Vec<_> = complete_run()
        .into_iter()
        .filter(|(name, _)| *name != results_name(HEAD))
        .collect();

    let artifact =
        read_artifact(zip_owned(&entries), JOB, 1, &ArtifactLimits::default()).expect("artifact");

    assert_eq!(artifact.report.outcome, JobOutcome::Failed);
    let error = artifact.report.error.expect("a reason");
    assert!(error.contains("no results for the head commit"), "{error}");
}

/// One row per hostile or malformed artifact, with the part of the error
/// message a person needs to see.
#[test]
fn hostile_artifacts_are_rejected() {
    let small = ArtifactLimits {
        max_archive_bytes: 1 << 30,
        max_total_bytes: 4096,
        max_entries: 8,
        max_ratio: 200,
    };
    let zeros = vec![0u8; 8 << 20];
    let many: Vec<(String, Vec<u8>)> = (0..9).map(|i| (format!("f{i}"), Vec::new())).collect();
    let manifest = manifest(JOB);
    let cases: Vec<(&str, Cursor<Vec<u8>>, ArtifactLimits, &str)> = vec![
        (
            "parent path",
            zip_of(&[("results/../../etc/cron.d/x", b"x")]),
            small,
            "contains '..'",
        ),
        (
            "absolute path",
            zip_of(&[("/etc/passwd", b"x")]),
            small,
            "it is absolute",
        ),
        (
            "backslash",
            zip_of(&[("results\\..\\x", b"x")]),
            small,
            "backslash",
        ),
        (
            "drive letter",
            zip_of(&[("C:/Windows/x", b"x")]),
            small,
            "drive or stream",
        ),
        (
            "control character",
            zip_of(&[("asv\n.log", b"x")]),
            small,
            "control character",
        ),
        (
            "too many entries",
            zip_owned(&many),
            small,
            "9 entries, over the limit of 8",
        ),
        (
            "too large",
            zip_of(&[(LOG, &[b'a'; 5000])]),
            small,
            "more than 4096 bytes",
        ),
        (
            "bomb",
            zip_of(&[(LOG, &zeros)]),
            ArtifactLimits::default(),
            "over the limit of 200:1",
        ),
        (
            "no manifest",
            zip_of(&[(LOG, b"x")]),
            small,
            "has no pitot-job.json",
        ),
        (
            "unknown manifest key",
            zip_of(&[(MANIFEST, br#"{"job_id": 42, "x": 1}"#)]),
            small,
            "unknown field",
        ),
        (
            "other job",
            zip_of(&[(MANIFEST, super::tests::manifest(7).as_bytes())]),
            small,
            "for job 7, not job 42",
        ),
        (
            "not text",
            zip_of(&[(MANIFEST, manifest.as_bytes()), (LOG, &[0xff, 0xfe])]),
            small,
            "not UTF-8",
        ),
        (
            "not a zip",
            Cursor::new(b"PK not really".to_vec()),
            small,
            "not a readable zip",
        ),
    ];
    for (case, file, limits, expected) in cases {
        let error = read_artifact(file, JOB, 1, &limits)
            .expect_err(case)
            .to_string();
        assert!(error.contains(expected), "{case}: {error}");
    }
}

#[test]
fn archive_size_is_capped_before_reading() {
    let file = zip_owned(&complete_run());
    let size = file.get_ref().len() as u64;
    let limits = ArtifactLimits {
        max_archive_bytes: size - 1,
        ..ArtifactLimits::default()
    };

    let error = read_artifact(file, JOB, 1, &limits)
        .expect_err("too large")
        .to_string();

    assert!(
        error.contains(&format!("the artifact is {size} bytes")),
        "{error}"
    );
}

#[test]
fn symbolic_links_are_rejected() {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .add_symlink(
            "results/gha/machine.json",
            "/etc/passwd",
            SimpleFileOptions::default(),
        )
        .expect("add link");
    let mut file = writer.finish().expect("finish");
    file.set_position(0);

    let error = read_artifact(file, JOB, 1, &ArtifactLimits::default())
        .expect_err("link")
        .to_string();

    assert!(error.contains("is a symbolic link"), "{error}");
}
