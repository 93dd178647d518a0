//! Counting and selecting rows for pitot's own formats (Markdown and
//! JSON), which judge "worse" and "better" by each benchmark's direction.

use std::cmp::Ordering;

use pitot_stats::{Comparison, Mark, Row};

use crate::options::{RenderOptions, SortOrder};

/// The change of a row, judged by the benchmark's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new failure, or a significant change the wrong way.
    Worse,
    /// A fixed failure, or a significant change the right way.
    Better,
    /// The results come from different benchmark versions.
    NotComparable,
    Unchanged,
}

impl Change {
    /// Classifies a row by pitot's verdict when the comparison was
    /// assessed, else by asv's marks and the benchmark's direction.
    pub fn of(row: &Row) -> Self {
        if row.judged_worse() {
            Change::Worse
        } else if row.judged_better() {
            Change::Better
        } else if row.mark == Mark::NotComparable {
            Change::NotComparable
        } else {
            Change::Unchanged
        }
    }

    /// Returns the snake-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Worse => "worse",
            Change::Better => "better",
            Change::NotComparable => "not_comparable",
            Change::Unchanged => "unchanged",
        }
    }
}

/// How many rows changed which way, over all rows of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub worse: usize,
    pub better: usize,
    pub not_comparable: usize,
    pub unchanged: usize,
}

impl Summary {
    /// Counts every row of the comparison, whatever the rendering options.
    pub fn of(comparison: &Comparison) -> Self {
        let mut summary = Summary::default();
        for row in &comparison.rows {
            match Change::of(row) {
                Change::Worse => summary.worse += 1,
                Change::Better => summary.better += 1,
                Change::NotComparable => summary.not_comparable += 1,
                Change::Unchanged => summary.unchanged += 1,
            }
        }
        summary
    }

    pub fn total(&self) -> usize {
        self.worse + self.better + self.not_comparable + self.unchanged
    }
}

/// Returns the rows pitot's formats show, in the requested order.
///
/// `only_changed` keeps worse and better rows. Unlike asv's text, this
/// keeps fixed failures, which are a change a reviewer wants to see.
/// `ratio` sorts by the numeric ratio, largest first and rows without a
/// ratio last; `name` sorts by displayed name, then `machine/env`.
pub fn selected_rows<'a>(comparison: &'a Comparison, options: &RenderOptions) -> Vec<&'a Row> {
    let mut rows: Vec<&Row> = comparison
        .rows
        .iter()
        .filter(|row| {
            !options.only_changed || matches!(Change::of(row), Change::Worse | Change::Better)
        })
        .collect();
    match options.sort {
        SortOrder::Default => {}
        SortOrder::Ratio => rows.sort_by(|a, b| compare_ratio_descending(a.ratio, b.ratio)),
        SortOrder::Name => rows.sort_by(|a, b| {
            (&a.name, &a.machine, &a.env_name).cmp(&(&b.name, &b.machine, &b.env_name))
        }),
    }
    rows
}

fn compare_ratio_descending(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}
