//! Sorting the rows of a comparison into the sections of a pull-request
//! comment, and the verdict those sections add up to.

use pitot_stats::{Comparison, Direction, Mark, Measurement, Row};

use crate::summary::Change;

/// The section of a pull-request comment that lists a row. Each row goes
/// into exactly one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    /// Both sides measured and the head value is significantly worse, by
    /// the benchmark's direction.
    Worse,
    /// Both sides measured and the head value is significantly better.
    Better,
    /// The benchmark failed on head, whatever happened on base.
    Failed,
    /// The benchmark has a result on head only: it is missing on base, or
    /// it failed there. `asv continuous` runs the head's benchmark suite on
    /// both commits, so a benchmark added by the pull request usually fails
    /// on base, where the code it measures does not exist yet. asv marks
    /// that as an improvement, which a reviewer would misread.
    New,
    /// The benchmark has results on base only.
    Removed,
    /// The two sides cannot be compared: the benchmark's version changed,
    /// or it was skipped on at least one side.
    NotComparable,
    Unchanged,
}

impl Section {
    /// Classifies a row.
    ///
    /// The checks on failed, missing and skipped sides come before the
    /// mark, because asv marks "failed on base, missing or skipped on head"
    /// as fixed (`*`), which a reviewer must not read as an improvement.
    pub(crate) fn of(row: &Row) -> Self {
        if row.after.measurement == Measurement::Failed {
            return Section::Failed;
        }
        if row.after.measurement == Measurement::Missing {
            return Section::Removed;
        }
        if matches!(row.before.measurement, Measurement::Missing | Measurement::Failed)
            && row.after.measurement != Measurement::Skipped
        {
            return Section::New;
        }
        if row.mark == Mark::NotComparable
            || row.before.measurement == Measurement::Skipped
            || row.after.measurement == Measurement::Skipped
        {
            return Section::NotComparable;
        }
        match Change::of(row) {
            Change::Worse => Section::Worse,
            Change::Better => Section::Better,
            Change::NotComparable => Section::NotComparable,
            Change::Unchanged => Section::Unchanged,
        }
    }
}

/// How many rows each section of a pull-request comment lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SectionCounts {
    pub(crate) worse: usize,
    pub(crate) better: usize,
    pub(crate) failed: usize,
    /// The failed rows that did not fail on base and existed there.
    pub(crate) new_failures: usize,
    pub(crate) new: usize,
    pub(crate) removed: usize,
    pub(crate) not_comparable: usize,
    pub(crate) unchanged: usize,
}

impl SectionCounts {
    pub(crate) fn of(comparison: &Comparison) -> Self {
        let mut counts = SectionCounts::default();
        for row in &comparison.rows {
            let count = match Section::of(row) {
                Section::Worse => &mut counts.worse,
                Section::Better => &mut counts.better,
                Section::Failed => &mut counts.failed,
                Section::New => &mut counts.new,
                Section::Removed => &mut counts.removed,
                Section::NotComparable => &mut counts.not_comparable,
                Section::Unchanged => &mut counts.unchanged,
            };
            *count += 1;
            if is_new_failure(row) {
                counts.new_failures += 1;
            }
        }
        counts
    }

    /// Returns the counts as a phrase, such as "1 benchmark got worse,
    /// 2 benchmarks failed on head (1 newly), 40 unchanged". Sections without rows are left out,
    /// except the unchanged count.
    pub(crate) fn phrase(&self) -> String {
        let mut parts = Vec::new();
        if self.worse > 0 {
            parts.push(format!("{} got worse", benchmarks(self.worse)));
        }
        if self.failed > 0 {
            let mut part = format!("{} failed on head", benchmarks(self.failed));
            if self.new_failures > 0 {
                part.push_str(&format!(" ({} newly)", self.new_failures));
            }
            parts.push(part);
        }
        if self.better > 0 {
            parts.push(format!("{} improved", self.better));
        }
        if self.new > 0 {
            parts.push(format!("{} new", self.new));
        }
        if self.removed > 0 {
            parts.push(format!("{} removed", self.removed));
        }
        if self.not_comparable > 0 {
            parts.push(format!("{} not comparable", self.not_comparable));
        }
        parts.push(format!("{} unchanged", self.unchanged));
        parts.join(", ")
    }
}

fn benchmarks(count: usize) -> String {
    if count == 1 {
        "1 benchmark".to_owned()
    } else {
        format!("{count} benchmarks")
    }
}

/// The outcome of a pull request's benchmark run, as one word or phrase
/// for the comment's first line and the check run's title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Some benchmark got significantly worse, or failed on head after
    /// running on base without failing.
    Regressed,
    /// No benchmark got worse, but some failed on head (for example on
    /// base too, or a new benchmark that fails).
    BenchmarksFailed,
    /// Nothing got worse or failed, and some benchmark got better.
    Improved,
    NoSignificantChange,
    /// pitot or asv failed before there was a comparison.
    RunFailed,
}

impl Verdict {
    /// Judges a finished comparison (base before, head after). Never
    /// returns [`Verdict::RunFailed`].
    ///
    /// Unlike asv's `!` mark, a benchmark that fails on head and has no
    /// result on base counts as failed, not as a regression.
    pub fn of(comparison: &Comparison) -> Self {
        let counts = SectionCounts::of(comparison);
        if counts.worse > 0 || counts.new_failures > 0 {
            Verdict::Regressed
        } else if counts.failed > 0 {
            Verdict::BenchmarksFailed
        } else if counts.better > 0 {
            Verdict::Improved
        } else {
            Verdict::NoSignificantChange
        }
    }

    /// Returns the short text for a check run's title.
    pub fn title(self) -> &'static str {
        match self {
            Verdict::Regressed => "Regressed",
            Verdict::BenchmarksFailed => "Benchmarks failed",
            Verdict::Improved => "Improved",
            Verdict::NoSignificantChange => "No significant change",
            Verdict::RunFailed => "Benchmark run failed",
        }
    }
}

/// Returns whether a row failed on head after running on base without
/// failing (measured or skipped there).
pub(crate) fn is_new_failure(row: &Row) -> bool {
    row.after.measurement == Measurement::Failed
        && matches!(
            row.before.measurement,
            Measurement::Value(_) | Measurement::Skipped
        )
}

/// Returns how much worse the head value is, as a factor above 1 for a
/// regression and below 1 for an improvement, whatever the benchmark's
/// direction. Sorting by it, largest first, puts the worst change first.
///
/// A row without a ratio (base was 0 or failed) sorts as infinitely worse
/// when it got worse and infinitely better otherwise.
pub(crate) fn badness(row: &Row) -> f64 {
    match (row.ratio, row.direction) {
        (Some(ratio), Direction::LowerIsBetter) => ratio,
        (Some(ratio), Direction::HigherIsBetter) => 1.0 / ratio,
        (None, _) if row.got_worse() => f64::INFINITY,
        (None, _) => f64::NEG_INFINITY,
    }
}
