//! Quarantined benchmarks in a pull-request comment: their rows never
//! count towards the verdict. A noisy benchmark's rows get a section of
//! their own, and an ignored benchmark's rows are only counted.
//!
//! The caller passes the quarantines in, so this crate stays free of the
//! database. A quarantine names a benchmark without parameters and covers
//! all of its rows, on every machine and environment.

use std::collections::BTreeMap;

use pitot_stats::{Comparison, Row};

use super::fit::Block;
use super::sections::quarantined_section;

/// The kind of a quarantine, which decides how the comment shows the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuarantineKind {
    /// The rows are shown in a section of their own and do not count
    /// towards the verdict.
    Noisy,
    /// The rows are left out of the tables and counted in the summary line.
    Ignored,
}

impl QuarantineKind {
    /// Parses the stored and API name, `noisy` or `ignored`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "noisy" => Some(QuarantineKind::Noisy),
            "ignored" => Some(QuarantineKind::Ignored),
            _ => None,
        }
    }

    /// Returns the stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::Noisy => "noisy",
            QuarantineKind::Ignored => "ignored",
        }
    }
}

/// A benchmark's quarantine as the comment shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineNote {
    pub kind: QuarantineKind,
    /// The maintainer's reason, shown in a code span.
    pub reason: String,
    /// The expiry as the comment shows it, such as `2027-01-31`.
    pub expires: Option<String>,
}

/// The active quarantines of a repository, by benchmark name without
/// parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quarantines {
    by_benchmark: BTreeMap<String, QuarantineNote>,
}

impl Quarantines {
    /// Adds or replaces the quarantine of `benchmark`.
    pub fn insert(&mut self, benchmark: impl Into<String>, note: QuarantineNote) {
        self.by_benchmark.insert(benchmark.into(), note);
    }

    /// Returns the quarantine that covers a row, if any.
    pub fn of(&self, row: &Row) -> Option<&QuarantineNote> {
        self.by_benchmark.get(&row.benchmark)
    }

    /// Returns each quarantined benchmark with its kind, by name.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, QuarantineKind)> {
        self.by_benchmark
            .iter()
            .map(|(benchmark, note)| (benchmark.as_str(), note.kind))
    }

    pub fn is_empty(&self) -> bool {
        self.by_benchmark.is_empty()
    }

    /// Returns a copy of the comparison without the quarantined rows: the
    /// rows that the verdict and the tables of changes judge. The copy
    /// keeps the comparison's environments, so names are suffixed the same
    /// way in every table.
    pub fn judged(&self, comparison: &Comparison) -> Comparison {
        let mut judged = comparison.clone();
        judged.rows.retain(|row| self.of(row).is_none());
        judged
    }

    /// Returns a copy of the comparison without the rows of ignored
    /// benchmarks: the rows that the comment may name anywhere.
    pub fn shown(&self, comparison: &Comparison) -> Comparison {
        let mut shown = comparison.clone();
        shown.rows.retain(|row| {
            self.of(row)
                .is_none_or(|note| note.kind != QuarantineKind::Ignored)
        });
        shown
    }
}

/// A comparison split into the rows the verdict judges and the
/// quarantined rows.
pub(crate) struct Split<'a> {
    pub(crate) judged: Comparison,
    /// The rows of noisy benchmarks, in the comparison's order.
    pub(crate) noisy: Vec<(&'a Row, &'a QuarantineNote)>,
    /// The number of rows of ignored benchmarks.
    pub(crate) ignored: usize,
}

impl<'a> Split<'a> {
    pub(crate) fn of(comparison: &'a Comparison, quarantines: Option<&'a Quarantines>) -> Self {
        let Some(quarantines) = quarantines.filter(|quarantines| !quarantines.is_empty()) else {
            return Split {
                judged: comparison.clone(),
                noisy: Vec::new(),
                ignored: 0,
            };
        };
        let mut noisy = Vec::new();
        let mut ignored = 0;
        for row in &comparison.rows {
            match quarantines.of(row) {
                Some(note) if note.kind == QuarantineKind::Noisy => noisy.push((row, note)),
                Some(_) => ignored += 1,
                None => {}
            }
        }
        Split {
            judged: quarantines.judged(comparison),
            noisy,
            ignored,
        }
    }

    /// Returns the counts of quarantined rows for the summary line, such
    /// as ", 2 quarantined as noisy, 1 ignored by quarantine", or an empty
    /// string when no row is quarantined.
    pub(crate) fn phrase(&self) -> String {
        let mut phrase = String::new();
        if !self.noisy.is_empty() {
            phrase.push_str(&format!(", {} quarantined as noisy", self.noisy.len()));
        }
        if self.ignored > 0 {
            phrase.push_str(&format!(", {} ignored by quarantine", self.ignored));
        }
        phrase
    }

    /// Returns the heading and table of the noisy rows, when there are any.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        if self.noisy.is_empty() {
            return Vec::new();
        }
        quarantined_section(&self.noisy, &self.judged)
    }
}
