//! The error every parser in this crate returns.

use crate::json::JsonError;

/// An error from reading one of asv's files.
///
/// Field names in messages are paths such as `results["time_foo"][5]`, so a
/// reader can find the offending value in the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not JSON (Python's dialect, or JSON with comments for a config file).
    #[error("invalid JSON at {0}")]
    Json(#[from] JsonError),

    /// Valid JSON, but not an asv results file.
    #[error("not an asv results file: {reason}")]
    NotResults { reason: String },

    /// A `version` this crate does not read.
    #[error("unsupported format version {found} (supported: {supported})")]
    UnsupportedVersion {
        found: String,
        supported: &'static str,
    },

    /// A field that asv requires is absent.
    #[error("missing field `{field}`")]
    MissingField { field: String },

    /// A field has the wrong kind of value.
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },

    /// A benchmark's parameter lists multiply out to more combinations than
    /// pitot reads (see [`crate::MAX_COMBINATIONS`]).
    #[error("`{field}` has more than {limit} parameter combinations; split the benchmark's parameters or drop values")]
    TooManyCombinations { field: String, limit: usize },

    /// A schema-2 file names a column asv does not define, which asv rejects too.
    #[error("unknown column `{column}` in `result_columns`")]
    UnknownColumn { column: String },
}
