//! Helpers for the unit tests: reading the real asv files in `tests/fixtures/asv`.

use crate::{parse_results, ResultsFile};

/// The fixture folder at the top of the workspace.
pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/asv");

#[track_caller]
pub(crate) fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}"))
        .unwrap_or_else(|error| panic!("cannot read fixture {path}: {error}"))
}

#[track_caller]
pub(crate) fn parse_fixture(path: &str) -> ResultsFile {
    parse_results(&fixture(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}
