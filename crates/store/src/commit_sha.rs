//! Checking commit hashes and prefixes before they reach SQL.

use crate::StoreError;

/// The shortest prefix `load_commit` resolves, as `git` accepts.
const MIN_PREFIX_LEN: usize = 4;

/// Returns the lower-cased full hash, or an error if `value` is not 40 or 64
/// hexadecimal digits (SHA-1 or SHA-256 object names).
pub(crate) fn full_sha(value: &str) -> Result<String, StoreError> {
    let valid = matches!(value.len(), 40 | 64) && is_hex(value);
    if !valid {
        return Err(StoreError::InvalidCommit {
            value: value.to_owned(),
            expected: "a full commit hash of 40 or 64 hexadecimal digits",
        });
    }
    Ok(value.to_ascii_lowercase())
}

/// Returns the lower-cased prefix, or an error if `value` is not 4 to 64
/// hexadecimal digits.
pub(crate) fn sha_prefix(value: &str) -> Result<String, StoreError> {
    let valid = (MIN_PREFIX_LEN..=64).contains(&value.len()) && is_hex(value);
    if !valid {
        return Err(StoreError::InvalidCommit {
            value: value.to_owned(),
            expected: "a commit hash or a prefix of at least 4 hexadecimal digits",
        });
    }
    Ok(value.to_ascii_lowercase())
}

fn is_hex(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_sha_lowercases() {
        let sha = full_sha(&"ABCDEF0123".repeat(4)).expect("40 hex digits");

        assert_eq!(sha, "abcdef0123".repeat(4));
    }

    #[test]
    fn rejects_invalid_hashes_and_prefixes() {
        let cases = [
            ("", "empty"),
            ("abc", "prefix of 3 digits"),
            ("abcg", "not hexadecimal"),
            ("abcd'; --", "SQL in the value"),
        ];

        for (value, case) in cases {
            assert!(sha_prefix(value).is_err(), "prefix: {case}");
            assert!(full_sha(value).is_err(), "full: {case}");
        }
        assert!(full_sha(&"a".repeat(39)).is_err(), "full: 39 digits");
        assert!(full_sha(&"a".repeat(41)).is_err(), "full: 41 digits");
        assert!(sha_prefix(&"a".repeat(65)).is_err(), "prefix: 65 digits");
    }
}
