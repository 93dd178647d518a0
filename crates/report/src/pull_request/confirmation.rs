//! Confirmation of flagged regressions: a second run of only the
//! benchmarks that got worse, with more rounds on the same machine. A row
//! that the second run does not flag again is "not confirmed": the comment
//! lists it in a section of its own and it does not count towards the
//! verdict. Shared runners flag a few percent of unchanged benchmarks in
//! every run, and most of those false alarms do not repeat.
//!
//! The caller runs both comparisons and passes the outcome in, so this
//! crate stays free of the database and the job queue.

use std::collections::BTreeMap;

use pitot_stats::{Comparison, Row};

use super::fit::Block;
use super::sections::unconfirmed_section;
use super::verdict::Section;

/// The outcome of confirming a run's flagged regressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    /// The flagged benchmarks ran a second time.
    Ran(ConfirmationRun),
    /// pitot did not confirm the flagged regressions, for the reason given
    /// as a sentence. The verdict is the first run's alone.
    NotRun { reason: String },
}

/// The outcome of the second run, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmationRun {
    /// asv's `rounds` of every benchmark in the second run.
    pub rounds: u32,
    /// The second run's page on pitot's dashboard.
    pub run_url: Option<String>,
    checks: BTreeMap<RowKey, RowCheck>,
}

/// A row of a comparison, identified across the two runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    name: String,
    machine: String,
    env_name: String,
}

impl RowKey {
    fn of(row: &Row) -> Self {
        RowKey {
            name: row.name.clone(),
            machine: row.machine.clone(),
            env_name: row.env_name.clone(),
        }
    }
}

/// The second run's finding on one flagged row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RowCheck {
    /// Whether the second run flagged the row as worse again.
    pub(crate) confirmed: bool,
    /// The second run's ratio, head over base; `None` when the row is
    /// missing there or has no value on one side.
    pub(crate) ratio: Option<f64>,
}

/// Returns the rows that a confirmation runs again: those that got
/// significantly worse by pitot's verdict. New failures are not among
/// them, because a benchmark that raises an error does not do so by chance.
///
/// Pass the rows the verdict judges, without quarantined benchmarks.
pub fn flagged_regressions(comparison: &Comparison) -> Vec<&Row> {
    comparison
        .rows
        .iter()
        .filter(|row| Section::of(row) == Section::Worse)
        .collect()
}

impl ConfirmationRun {
    /// Decides for each flagged row of `first` whether `second`, the run
    /// of just those benchmarks, flags it as worse again by the same rule.
    /// A row missing from `second` is not confirmed.
    pub fn decide(
        first: &Comparison,
        second: &Comparison,
        rounds: u32,
        run_url: Option<String>,
    ) -> Self {
        let again: BTreeMap<RowKey, &Row> = second
            .rows
            .iter()
            .map(|row| (RowKey::of(row), row))
            .collect();
        let checks = flagged_regressions(first)
            .into_iter()
            .map(|row| {
                let key = RowKey::of(row);
                let second_row = again.get(&key);
                let check = RowCheck {
                    confirmed: second_row.is_some_and(|row| Section::of(row) == Section::Worse),
                    ratio: second_row.and_then(|row| row.ratio),
                };
                (key, check)
            })
            .collect();
        ConfirmationRun {
            rounds,
            run_url,
            checks,
        }
    }

    /// Returns how many flagged rows the second run flagged again.
    pub fn confirmed(&self) -> usize {
        self.checks.values().filter(|check| check.confirmed).count()
    }

    /// Returns how many rows were flagged in the first run.
    pub fn flagged(&self) -> usize {
        self.checks.len()
    }

    pub(crate) fn check(&self, row: &Row) -> Option<RowCheck> {
        self.checks.get(&RowKey::of(row)).copied()
    }
}

/// The flagged rows that the second run did not confirm, taken out of the
/// rows the verdict judges.
pub(crate) struct Unconfirmed {
    pub(crate) rows: Vec<(Row, RowCheck)>,
}

impl Unconfirmed {
    /// Moves the unconfirmed rows out of `judged`.
    pub(crate) fn take(judged: &mut Comparison, confirmation: Option<&Confirmation>) -> Self {
        let Some(Confirmation::Ran(run)) = confirmation else {
            return Unconfirmed { rows: Vec::new() };
        };
        let mut rows = Vec::new();
        judged.rows.retain(|row| match run.check(row) {
            Some(check) if !check.confirmed => {
                rows.push((row.clone(), check));
                false
            }
            _ => true,
        });
        Unconfirmed { rows }
    }

    /// Returns the count for the summary line, such as ", 2 not
    /// confirmed", or an empty string.
    pub(crate) fn phrase(&self) -> String {
        if self.rows.is_empty() {
            String::new()
        } else {
            format!(", {} not confirmed", self.rows.len())
        }
    }

    /// Returns the heading and table of the unconfirmed rows, when there
    /// are any. `comparison` gives the environments.
    pub(crate) fn blocks(&self, comparison: &Comparison) -> Vec<Block> {
        if self.rows.is_empty() {
            return Vec::new();
        }
        unconfirmed_section(&self.rows, comparison)
    }
}

/// Returns the paragraph that states what was confirmed, or `None` when no
/// regression was flagged.
pub(crate) fn confirmation_sentence(confirmation: Option<&Confirmation>) -> Option<String> {
    match confirmation? {
        Confirmation::NotRun { reason } => Some(format!(
            "Not confirmed: {reason} The verdict is the first run's.\n"
        )),
        Confirmation::Ran(run) => {
            let link = match &run.run_url {
                Some(url) => format!(" ([confirmation run]({}))", super::link_destination(url)),
                None => String::new(),
            };
            let flagged = run.flagged();
            let noun = if flagged == 1 {
                "regression"
            } else {
                "regressions"
            };
            Some(format!(
                "Confirmed {} of {flagged} flagged {noun}: pitot ran only those benchmarks again, \
                 with {} rounds on the same machine{link}. Regressions that the second run did \
                 not flag are listed under \"Not confirmed\" and do not fail the check.\n",
                run.confirmed(),
                run.rounds,
            ))
        }
    }
}
