//! The checks each fuzz target runs on one input. The cargo-fuzz targets
//! in `fuzz_targets/` call them, and so does `tests/fuzz_corpus.rs`, which
//! replays the committed inputs in the normal test suite.
//!
//! Every function takes arbitrary bytes and must return without panicking,
//! whatever they hold. Where the output has a property pitot relies on
//! (an escaped name cannot leave its code span), the function checks it
//! and panics when it does not hold, so the fuzzer reports it as a crash.

use std::io::Cursor;

use pitot_asv::{parse_benchmarks, parse_config, parse_machine, parse_results};
use pitot_github::{parse_command, verify_signature, Event};
use pitot_runner::artifact::{read_artifact, ArtifactLimits};

/// The events pitot parses; other names take the generic path.
const EVENTS: &[&str] = &[
    "ping",
    "pull_request",
    "installation",
    "installation_repositories",
    "issue_comment",
    "push",
    "release",
    "workflow_run",
];

/// Reads the bytes as each asv file type. A parsed results file must
/// describe each benchmark's combinations consistently.
pub fn results_file(data: &[u8]) {
    if let Ok(file) = parse_results(data) {
        for benchmark in &file.benchmarks {
            let count = benchmark.combination_count();
            assert!(count <= pitot_asv::MAX_COMBINATIONS, "{} has {count} combinations", benchmark.name);
            assert_eq!(benchmark.outcomes.len(), count, "outcomes of {}", benchmark.name);
            assert!(benchmark.stats.is_empty() || benchmark.stats.len() == count, "stats of {}", benchmark.name);
            assert!(
                benchmark.samples.is_empty() || benchmark.samples.len() == count,
                "samples of {}",
                benchmark.name
            );
            if count > 0 {
                assert_eq!(benchmark.combination(count - 1).len(), benchmark.params.len());
            }
        }
    }
    let _ = parse_benchmarks(data);
    let _ = parse_machine(data);
    let _ = parse_config(data);
}

/// Treats the first line as the `X-GitHub-Event` name (or, when it is a
/// single byte, as an index into the events pitot parses) and the rest as
/// the body, then parses the body, checks a signature header made from the
/// body's first bytes, and reads a command from a comment.
pub fn webhook_body(data: &[u8]) {
    let (name, body) = match data.iter().position(|&byte| byte == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (&data[..0], data),
    };
    let event = match name {
        [index] => EVENTS[usize::from(*index) % EVENTS.len()].to_string(),
        _ => String::from_utf8_lossy(name).into_owned(),
    };

    if let Ok(Event::IssueComment(comment)) = Event::parse(&event, body) {
        let _ = parse_command(&comment.body);
    }
    let header = String::from_utf8_lossy(&body[..body.len().min(80)]);
    let _ = verify_signature(b"fuzz secret", body, Some(&header));
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = parse_command(text);
    }
}

/// Reads the bytes as a workflow artifact for job 1. An accepted artifact
/// must name that job.
pub fn artifact_zip(data: &[u8]) {
    let limits = ArtifactLimits {
        // Small caps keep each run fast; the checks are the same.
        max_archive_bytes: 1 << 20,
        max_total_bytes: 8 << 20,
        max_entries: 200,
        max_ratio: 200,
    };
    if let Ok(artifact) = read_artifact(Cursor::new(data), 1, 1, &limits) {
        assert_eq!(artifact.report.attempt, 1);
    }
}

/// Escapes the bytes, read as UTF-8 with replacement, for a table cell and
/// for a code block, and checks that the text cannot end either early.
pub fn markdown_escape(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    let span = pitot_report::code_span(&text);
    check_code_span(&text, &span);

    let block = pitot_report::code_block(&text);
    check_code_block(&block);
}

/// Panics unless `span` is `text` safely fenced for a table cell.
pub fn check_code_span(text: &str, span: &str) {
    if text.is_empty() {
        assert!(span.is_empty(), "empty text gave {span:?}");
        return;
    }
    assert!(!span.chars().any(char::is_control), "control character in {span:?}");
    let fence_len = span.chars().take_while(|&c| c == '`').count();
    assert!(fence_len > 0, "no fence in {span:?}");
    let fence = "`".repeat(fence_len);
    assert!(span.ends_with(&fence), "{span:?} does not end with its fence");
    let inner = &span[fence_len..span.len() - fence_len];
    let longest_run = inner.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    assert!(longest_run < fence_len, "{span:?} contains a run of {longest_run} backticks");
    // Every pipe is escaped, and the escape's backslash is not itself escaped.
    let bytes = inner.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'|' {
            assert!(index > 0, "bare pipe at the start of {span:?}");
            assert_eq!(bytes[index - 1], b'\\', "bare pipe in {span:?}");
            assert!(index < 2 || bytes[index - 2] != b'\\', "escaped backslash before a pipe in {span:?}");
        }
    }
}

/// Panics unless `block` is a fenced block its text cannot close.
pub fn check_code_block(block: &str) {
    let fence_len = block.chars().take_while(|&c| c == '`').count();
    assert!(fence_len >= 3, "short fence in {block:?}");
    let fence = "`".repeat(fence_len);
    let opening = format!("{fence}text\n");
    let closing = format!("{fence}\n");
    assert!(block.starts_with(&opening), "no opening fence in {block:?}");
    assert!(block.ends_with(&closing), "no closing fence in {block:?}");
    let body = &block[opening.len()..block.len() - closing.len()];
    for line in body.lines() {
        let run = line.trim_start().chars().take_while(|&c| c == '`').count();
        assert!(run < fence_len, "line {line:?} could close the block {block:?}");
    }
    assert!(
        !body.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "control character in {block:?}"
    );
}
