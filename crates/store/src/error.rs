//! The error type of every `Store` method.

/// An error from the store.
///
/// The variants a caller can act on (a missing commit, an ambiguous prefix,
/// a results file the store cannot represent) are separate from database
/// failures, so the CLI and the server can show a useful message for them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A repository, machine, environment, commit or series has no row.
    #[error("{what} not found: {value}")]
    NotFound { what: &'static str, value: String },

    /// A short commit sha matches more than one stored commit.
    #[error(
        "commit prefix {prefix} is ambiguous: it matches {}; type more of the sha",
        candidates.join(", ")
    )]
    AmbiguousCommit {
        prefix: String,
        candidates: Vec<String>,
    },

    /// A commit sha or prefix that is not hexadecimal of a valid length.
    #[error("invalid commit {value:?}: expected {expected}")]
    InvalidCommit {
        value: String,
        expected: &'static str,
    },

    /// A parsed results file that breaks the model's invariants, such as a
    /// benchmark with fewer outcomes than parameter combinations.
    #[error("invalid results file for commit {commit}: {reason}")]
    InvalidResults { commit: String, reason: String },

    /// A query or the connection failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Applying the migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
