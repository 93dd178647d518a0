//! Rendering options shared by every format.

/// How rows are ordered within a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// asv's order: by benchmark name, then `machine/env`.
    #[default]
    Default,
    /// Largest ratio first.
    Ratio,
    /// By benchmark name.
    Name,
}

/// A commit as a table header names it: `Before [22b920c6] <main>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitLabel {
    /// The commit hash; headers show its first 8 characters.
    pub hash: String,
    /// A branch or tag name that asv shows in angle brackets, if any.
    pub name: Option<String>,
}

impl CommitLabel {
    /// Returns the first 8 characters of the hash, as asv shows it.
    pub fn short_hash(&self) -> String {
        self.hash.chars().take(8).collect()
    }
}

/// What to render and how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderOptions {
    pub before: CommitLabel,
    pub after: CommitLabel,
    /// One table per outcome (improved, unchanged, worse, not comparable)
    /// in place of one table with every row.
    pub split: bool,
    /// Leave out unchanged, not comparable and fixed-failure rows, as asv's
    /// `--only-changed` does.
    pub only_changed: bool,
    pub sort: SortOrder,
}
