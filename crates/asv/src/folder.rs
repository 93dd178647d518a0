//! The rules asv 0.6.6 follows when it walks a results folder
//! (`asv.results.iter_results_paths`, `get_result_hash_from_prefix` and the
//! machine check in `Results.load`), kept free of file I/O.
//!
//! A results folder contains `benchmarks.json` and one folder per machine. A
//! folder's results files are read only when the folder has a valid
//! `machine.json` (see [`crate::parse_machine`]), and each file must name
//! that machine in `params.machine`.

use crate::ResultsFile;

/// The file in each machine folder that describes the machine.
pub const MACHINE_FILE: &str = "machine.json";
/// The file at the top of a results folder that describes the suite.
pub const BENCHMARKS_FILE: &str = "benchmarks.json";

/// Returns whether asv reads a file of this name as a results file: any
/// `*.json` file except `machine.json` and `benchmarks.json`.
pub fn is_results_file_name(file_name: &str) -> bool {
    file_name.ends_with(".json") && file_name != MACHINE_FILE && file_name != BENCHMARKS_FILE
}

/// Returns the commit part of a results file name: the text before the first
/// `-`, where asv writes the first 8 characters of the commit hash.
pub fn commit_in_file_name(file_name: &str) -> &str {
    let stem = file_name.strip_suffix(".json").unwrap_or(file_name);
    stem.split('-').next().unwrap_or(stem)
}

/// Returns whether the commit part of a file name matches a commit a user
/// gave. Like asv, this compares only as many characters as the shorter of
/// the two has, so a full hash matches an 8-character file name.
pub fn commit_matches(file_commit: &str, requested: &str) -> bool {
    let length = file_commit.len().min(requested.len());
    file_commit.as_bytes()[..length] == requested.as_bytes()[..length]
}

/// A results file that names a machine other than its folder's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("params.machine is {found:?}, but the folder's machine.json names {expected:?}")]
pub struct MachineMismatch {
    /// The `machine` of the folder's `machine.json`.
    pub expected: String,
    /// The file's `params.machine`.
    pub found: String,
}

/// Checks the rule by which asv skips a parsed results file: its
/// `params.machine` must equal the `machine` in its folder's `machine.json`.
pub fn check_machine(file: &ResultsFile, folder_machine: &str) -> Result<(), MachineMismatch> {
    if file.machine == folder_machine {
        Ok(())
    } else {
        Err(MachineMismatch {
            expected: folder_machine.to_string(),
            found: file.machine.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::parse_fixture;

    #[test]
    fn results_file_names() {
        let cases = [
            (
                "22b920c6-py2.7-Cython-numpy1.8.json",
                true,
                "a results file",
            ),
            (
                "aaaaaaaa-py2.7-Cython-numpy1.8.json",
                true,
                "a candidate even when not JSON inside",
            ),
            ("machine.json", false, "the machine description"),
            ("benchmarks.json", false, "the suite description"),
            ("notes.txt", false, "not .json"),
            ("results.json.bak", false, "a backup"),
        ];

        for (name, expected, case) in cases {
            assert_eq!(is_results_file_name(name), expected, "{case}: {name}");
        }
    }

    #[test]
    fn commit_part_of_file_name() {
        assert_eq!(
            commit_in_file_name("fcf8c079-py2.7-Cython-numpy1.8-foo.json"),
            "fcf8c079"
        );
        assert_eq!(commit_in_file_name("fcf8c079.json"), "fcf8c079");
    }

    #[test]
    fn commit_prefix_matching() {
        let cases = [
            ("22b920c6", "22b920c6", true, "same 8 characters"),
            ("22b920c6", "22b9", true, "a shorter prefix"),
            (
                "22b920c6",
                "22b920c6d0d54112ccbc020eddba9ea7a2d204f3",
                true,
                "a full hash",
            ),
            ("22b920c6", "22b920c7", false, "another commit"),
            ("22b920c6", "fcf8", false, "another prefix"),
        ];

        for (file_commit, requested, expected, case) in cases {
            assert_eq!(commit_matches(file_commit, requested), expected, "{case}");
        }
    }

    #[test]
    fn machine_must_match_folder() {
        let foreign = parse_fixture("example_results/cheetah/cccccccc-py2.7-Cython-numpy1.8.json");
        let own = parse_fixture("example_results/cheetah/22b920c6-py2.7-Cython-numpy1.8.json");

        let error = check_machine(&foreign, "cheetah").expect_err("another machine");

        assert_eq!(check_machine(&own, "cheetah"), Ok(()));
        assert_eq!(error.found, "not-cheetah");
        assert_eq!(
            error.to_string(),
            "params.machine is \"not-cheetah\", but the folder's machine.json names \"cheetah\""
        );
    }
}
