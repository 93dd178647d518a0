//! The tables of a pull-request comment, one for each [`Section`].

use pitot_stats::{Comparison, Measurement, Row};

use super::fit::{Block, Table};
use super::confirmation::RowCheck;
use super::quarantine::QuarantineNote;
use super::verdict::{badness, Section};
use crate::asv_text::{ratio_text, side_text};
use crate::detection_text::{ratio_with_interval, threshold_text};
use crate::markdown::{benchmark_cell, change_text, code_span, truncate_chars};

/// The maximum length of a benchmark name, parameters included, that a
/// table shows in full. A longer name is cut, so one hostile name cannot
/// use up the comment's length limit.
const MAX_NAME_CHARS: usize = 500;

/// The maximum length of a quarantine's reason that a table shows.
const MAX_REASON_CHARS: usize = 200;

/// Returns the heading and table of each section that has rows, except
/// the unchanged one, in the order the comment shows them.
pub(crate) fn notable_sections(comparison: &Comparison) -> Vec<Block> {
    let mut blocks = Vec::new();

    let mut changed = rows_in(comparison, &[Section::Worse, Section::Better]);
    // Stable, so rows of equal badness keep the comparison's name order.
    changed.sort_by(|a, b| badness(b).total_cmp(&badness(a)));
    if comparison.detection.is_some() {
        push_section(
            &mut blocks,
            "Significant changes, worst first",
            "| Change | Base | Head | Ratio [interval] | Threshold | Benchmark |\n\
             |:--|--:|--:|--:|--:|:--|\n",
            "changed benchmark",
            &changed,
            |row, cell| {
                format!(
                    "| {} | {} | {} | {} | {} | {cell} |",
                    change_text(row),
                    before_text(row),
                    after_text(row),
                    ratio_with_interval(row),
                    threshold_text(row),
                )
            },
            comparison,
        );
    } else {
        push_section(
            &mut blocks,
            "Significant changes, worst first",
            "| Change | Base | Head | Ratio | Benchmark |\n|:--|--:|--:|--:|:--|\n",
            "changed benchmark",
            &changed,
            |row, cell| {
                format!(
                    "| {} | {} | {} | {} | {cell} |",
                    change_text(row),
                    before_text(row),
                    after_text(row),
                    ratio_text(row),
                )
            },
            comparison,
        );
    }

    push_section(
        &mut blocks,
        "Failed on head",
        "| Status | Base | Head | Benchmark |\n|:--|--:|--:|:--|\n",
        "failed benchmark",
        &rows_in(comparison, &[Section::Failed]),
        |row, cell| {
            format!(
                "| {} | {} | failed | {cell} |",
                failure_status(row),
                before_text(row),
            )
        },
        comparison,
    );

    push_section(
        &mut blocks,
        "New benchmarks, with a result on head only",
        "| Head | Benchmark |\n|--:|:--|\n",
        "new benchmark",
        &rows_in(comparison, &[Section::New]),
        |row, cell| format!("| {} | {cell} |", after_text(row)),
        comparison,
    );

    push_section(
        &mut blocks,
        "Removed benchmarks, on base only",
        "| Base | Benchmark |\n|--:|:--|\n",
        "removed benchmark",
        &rows_in(comparison, &[Section::Removed]),
        |row, cell| format!("| {} | {cell} |", before_text(row)),
        comparison,
    );

    push_section(
        &mut blocks,
        "Not comparable",
        "| Reason | Base | Head | Benchmark |\n|:--|--:|--:|:--|\n",
        "benchmark that is not comparable",
        &rows_in(comparison, &[Section::NotComparable]),
        |row, cell| {
            format!(
                "| {} | {} | {} | {cell} |",
                not_comparable_reason(row),
                before_text(row),
                after_text(row),
            )
        },
        comparison,
    );

    blocks
}

/// Returns the heading and table of the rows of noisy benchmarks, which
/// the verdict does not judge. `comparison` gives the environments.
pub(crate) fn quarantined_section(
    noisy: &[(&Row, &QuarantineNote)],
    comparison: &Comparison,
) -> Vec<Block> {
    let rows: Vec<&Row> = noisy.iter().map(|(row, _)| *row).collect();
    let mut blocks = Vec::new();
    push_section(
        &mut blocks,
        "Quarantined as noisy, never failing the check",
        "| Result | Base | Head | Ratio | Benchmark | Quarantine |\n\
         |:--|--:|--:|--:|:--|:--|\n",
        "quarantined benchmark",
        &rows,
        |row, cell| {
            let note = noisy
                .iter()
                .find(|(noisy_row, _)| std::ptr::eq(*noisy_row, row))
                .map(|(_, note)| *note);
            format!(
                "| {} | {} | {} | {} | {cell} | {} |",
                quarantined_result(row),
                before_text(row),
                after_text(row),
                ratio_text(row),
                note.map(quarantine_text).unwrap_or_default(),
            )
        },
        comparison,
    );
    blocks
}

/// Returns the heading and table of the flagged rows that a second run
/// did not confirm, with the second run's ratio. `comparison` gives the
/// environments.
pub(crate) fn unconfirmed_section(
    unconfirmed: &[(Row, RowCheck)],
    comparison: &Comparison,
) -> Vec<Block> {
    let rows: Vec<&Row> = unconfirmed.iter().map(|(row, _)| row).collect();
    let mut blocks = Vec::new();
    push_section(
        &mut blocks,
        "Not confirmed by a second run, never failing the check",
        "| Base | Head | Ratio | Second run's ratio | Benchmark |\n\
         |--:|--:|--:|--:|:--|\n",
        "unconfirmed benchmark",
        &rows,
        |row, cell| {
            let second_ratio = unconfirmed
                .iter()
                .find(|(unconfirmed_row, _)| std::ptr::eq(unconfirmed_row, row))
                .and_then(|(_, check)| check.ratio)
                .map_or_else(|| "n/a".to_owned(), |ratio| crate::pyfmt::fixed(ratio, 2));
            format!(
                "| {} | {} | {} | {second_ratio} | {cell} |",
                before_text(row),
                after_text(row),
                ratio_text(row),
            )
        },
        comparison,
    );
    blocks
}

/// Returns what happened to a quarantined row, in plain words, because
/// the bold marks of the other tables would read as a failing check.
fn quarantined_result(row: &Row) -> &'static str {
    match Section::of(row) {
        Section::Worse => "worse",
        Section::Better => "better",
        Section::Failed => "failed on head",
        Section::New => "new",
        Section::Removed => "removed",
        Section::NotComparable => "not comparable",
        Section::Unchanged => "unchanged",
    }
}

/// Returns the quarantine cell: the kind, the reason in a code span, and
/// the expiry.
fn quarantine_text(note: &QuarantineNote) -> String {
    let mut text = format!(
        "{}: {}",
        note.kind.as_str(),
        code_span(&truncate_chars(&note.reason, MAX_REASON_CHARS))
    );
    if let Some(expires) = &note.expires {
        text.push_str(&format!(" (until {})", code_span(expires)));
    }
    text
}

/// Returns the table of the unchanged rows, in the comparison's order.
pub(crate) fn unchanged_table(comparison: &Comparison) -> Table {
    let rows = rows_in(comparison, &[Section::Unchanged]);
    table(
        "| Base | Head | Ratio | Benchmark |\n|--:|--:|--:|:--|\n",
        "unchanged benchmark",
        &rows,
        |row, cell| {
            format!(
                "| {} | {} | {} | {cell} |",
                before_text(row),
                after_text(row),
                ratio_text(row),
            )
        },
        comparison,
    )
}

/// Returns the rows of the given sections, in the comparison's order.
pub(crate) fn rows_in<'a>(comparison: &'a Comparison, sections: &[Section]) -> Vec<&'a Row> {
    comparison
        .rows
        .iter()
        .filter(|row| sections.contains(&Section::of(row)))
        .collect()
}

/// Appends a bold heading with the row count and the table, when there are
/// rows.
fn push_section(
    blocks: &mut Vec<Block>,
    title: &str,
    head: &str,
    noun: &'static str,
    rows: &[&Row],
    format_row: impl Fn(&Row, String) -> String,
    comparison: &Comparison,
) {
    if rows.is_empty() {
        return;
    }
    blocks.push(Block::Text(format!("\n**{title} ({})**\n\n", rows.len())));
    blocks.push(Block::Table(table(
        head, noun, rows, format_row, comparison,
    )));
}

/// Builds a table; `format_row` receives each row with its benchmark cell.
fn table(
    head: &str,
    noun: &'static str,
    rows: &[&Row],
    format_row: impl Fn(&Row, String) -> String,
    comparison: &Comparison,
) -> Table {
    let multiple_environments = comparison.has_multiple_environments();
    let rows = rows
        .iter()
        .map(|row| {
            let cell = benchmark_cell(row, multiple_environments, MAX_NAME_CHARS);
            format_row(row, cell)
        })
        .collect();
    Table {
        head: head.to_owned(),
        rows,
        noun,
    }
}

fn before_text(row: &Row) -> String {
    side_text(&row.before, row.unit.as_deref())
}

fn after_text(row: &Row) -> String {
    side_text(&row.after, row.unit.as_deref())
}

fn failure_status(row: &Row) -> &'static str {
    match row.before.measurement {
        Measurement::Failed => "failed on base too",
        Measurement::Missing => "new benchmark",
        Measurement::Value(_) | Measurement::Skipped => "**new failure**",
    }
}

fn not_comparable_reason(row: &Row) -> &'static str {
    let before_skipped = row.before.measurement == Measurement::Skipped;
    let after_skipped = row.after.measurement == Measurement::Skipped;
    match (before_skipped, after_skipped) {
        (true, true) => "skipped on base and head",
        (false, true) => "skipped on head",
        (true, false) => "skipped on base",
        (false, false) => "benchmark version changed",
    }
}
