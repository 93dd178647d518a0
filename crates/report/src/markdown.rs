//! pitot's Markdown report: a one-line verdict, then a GitHub-flavoured
//! table, safe to post as a pull-request comment.
//!
//! Benchmark names, parameters, machine and environment names and commit
//! names come from results files that anyone can write, so each is put in a
//! code span (see [`code_span`]): there GitHub renders no HTML, links,
//! mentions, issue references or emphasis. The other cells are produced by
//! pitot and contain only digits, units and fixed words.

use std::borrow::Cow;

use pitot_stats::{Comparison, Row};

use crate::asv_text::{ratio_text, side_text};
use crate::detection_text::{ratio_with_interval, rule_sentence, threshold_text};
use crate::options::{CommitLabel, RenderOptions};
use crate::summary::{selected_rows, Change, Summary};

/// Renders the verdict and the table, ending with a line break.
pub fn render_markdown(comparison: &Comparison, options: &RenderOptions) -> String {
    let summary = Summary::of(comparison);
    let mut output = verdict_line(&summary, comparison, options);
    output.push('\n');
    if let Some(sentence) = rule_sentence(comparison) {
        output.push('\n');
        output.push_str(&sentence);
        output.push('\n');
    }

    let rows = selected_rows(comparison, options);
    if options.split {
        for (change, title) in [
            (Change::Worse, "Got worse"),
            (Change::Better, "Improved"),
            (Change::NotComparable, "Not comparable"),
            (Change::Unchanged, "Unchanged"),
        ] {
            let section: Vec<&Row> = rows
                .iter()
                .copied()
                .filter(|row| Change::of(row) == change)
                .collect();
            if !section.is_empty() {
                output.push_str(&format!("\n**{title}**\n\n"));
                output.push_str(&table(&section, comparison));
            }
        }
    } else if !rows.is_empty() {
        output.push('\n');
        output.push_str(&table(&rows, comparison));
    }
    output
}

fn verdict_line(summary: &Summary, comparison: &Comparison, options: &RenderOptions) -> String {
    let headline = match (summary.worse, summary.better) {
        (0, 0) => "**No significant change**".to_owned(),
        (0, _) => "**No benchmark got worse**".to_owned(),
        (worse, _) => format!("**{} got worse**", benchmarks(worse)),
    };
    let mut details = Vec::new();
    if summary.better > 0 {
        details.push(format!("{} improved", summary.better));
    }
    if summary.not_comparable > 0 {
        details.push(format!("{} not comparable", summary.not_comparable));
    }
    details.push(format!("{} unchanged", summary.unchanged));

    let statistics = if comparison.options.use_stats {
        "with statistics"
    } else {
        "without statistics"
    };
    format!(
        "{headline}: {} (after {} against before {}, factor {}, {statistics}).",
        details.join(", "),
        commit(&options.after),
        commit(&options.before),
        crate::pyfmt::fixed(comparison.options.factor, 2),
    )
}

fn benchmarks(count: usize) -> String {
    if count == 1 {
        "1 benchmark".to_owned()
    } else {
        format!("{count} benchmarks")
    }
}

fn commit(label: &CommitLabel) -> String {
    let hash = code_span(&label.short_hash());
    match &label.name {
        Some(name) => format!("{hash} ({})", code_span(name)),
        None => hash,
    }
}

/// Renders the table; an assessed comparison gets the ratio's interval
/// and a threshold column.
fn table(rows: &[&Row], comparison: &Comparison) -> String {
    let multiple_environments = comparison.has_multiple_environments();
    let assessed = comparison.detection.is_some();
    let mut lines = if assessed {
        vec![
            "| Change | Before | After | Ratio [interval] | Threshold | Benchmark |".to_owned(),
            "|:--|--:|--:|--:|--:|:--|".to_owned(),
        ]
    } else {
        vec![
            "| Change | Before | After | Ratio | Benchmark |".to_owned(),
            "|:--|--:|--:|--:|:--|".to_owned(),
        ]
    };
    for row in rows {
        let before = side_text(&row.before, row.unit.as_deref());
        let after = side_text(&row.after, row.unit.as_deref());
        let benchmark = benchmark_cell(row, multiple_environments, usize::MAX);
        lines.push(if assessed {
            format!(
                "| {} | {before} | {after} | {} | {} | {benchmark} |",
                change_text(row),
                ratio_with_interval(row),
                threshold_text(row),
            )
        } else {
            format!(
                "| {} | {before} | {after} | {} | {benchmark} |",
                change_text(row),
                ratio_text(row),
            )
        });
    }
    let mut table = lines.join("\n");
    table.push('\n');
    table
}

/// Returns the benchmark column of a table row: the name with its
/// parameters, cut to `max_name_chars` characters, and, when the comparison
/// spans several machines or environments, `machine/env`, each in a code
/// span.
pub(crate) fn benchmark_cell(
    row: &Row,
    multiple_environments: bool,
    max_name_chars: usize,
) -> String {
    let mut cell = code_span(&truncate_chars(&row.name, max_name_chars));
    if multiple_environments {
        cell.push(' ');
        cell.push_str(&code_span(&row.environment()));
    }
    cell
}

pub(crate) fn change_text(row: &Row) -> &'static str {
    use pitot_stats::Mark;
    match (Change::of(row), row.mark) {
        (Change::Worse, Mark::NewFailure) => "**new failure**",
        (Change::Worse, _) => "**worse**",
        (Change::Better, Mark::FixedFailure) => "fixed",
        (Change::Better, _) => "better",
        (Change::NotComparable, _) => "not comparable",
        (Change::Unchanged, _) => "",
    }
}

/// Puts untrusted text in a Markdown code span that cannot break out of a
/// GitHub table cell.
///
/// - Line breaks and other control characters become spaces, because a
///   line break would end the table row.
/// - `|` is escaped as `\|`, which GFM tables need even inside code spans.
///   A backslash already before the pipe would pair with the escape and
///   free the pipe, so a zero-width space (U+200B) goes between them.
/// - The fence is one backtick longer than the longest backtick run in
///   the text, with a space on each side when the text starts or ends with
///   a backtick or a space (CommonMark strips one such space again).
pub fn code_span(text: &str) -> String {
    code_span_with(text, true)
}

/// Puts untrusted text in a Markdown code span for use outside a table,
/// where an escaped pipe would show its backslash. Otherwise the same as
/// [`code_span`].
pub(crate) fn code_span_outside_table(text: &str) -> String {
    code_span_with(text, false)
}

fn code_span_with(text: &str, escape_pipes: bool) -> String {
    let mut body = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '|' if escape_pipes => {
                if body.ends_with('\\') {
                    body.push('\u{200B}');
                }
                body.push_str("\\|");
            }
            c if c.is_control() => body.push(' '),
            c => body.push(c),
        }
    }
    if body.is_empty() {
        return String::new();
    }

    let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let needs_padding = body.starts_with(['`', ' ']) || body.ends_with(['`', ' ']);
    if needs_padding {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}

/// Returns the text cut to at most `max_chars` characters, the last of
/// them an ellipsis when anything was cut.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> Cow<'_, str> {
    if text.chars().count() <= max_chars {
        return Cow::Borrowed(text);
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    if max_chars > 0 {
        cut.push('…');
    }
    Cow::Owned(cut)
}

/// Puts untrusted text in a fenced code block that the text cannot close,
/// ending with a line break.
///
/// GitHub renders no HTML, links, mentions or issue references inside the
/// block. The fence is a run of backticks longer than any backtick run in
/// the text (at least three), because only a backtick fence at least as
/// long as the opening one closes the block. `\r\n` and lone `\r` become
/// line breaks, and other control characters except tabs become spaces.
pub fn code_block(text: &str) -> String {
    let mut body = String::with_capacity(text.len() + 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    body.push('\n');
                }
            }
            '\n' | '\t' => body.push(c),
            c if c.is_control() => body.push(' '),
            c => body.push(c),
        }
    }
    if !body.is_empty() && !body.ends_with('\n') {
        body.push('\n');
    }

    let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest_run + 1).max(3));
    format!("{fence}text\n{body}{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_span_escapes_hostile_names() {
        let cases = [
            ("time_plain", "`time_plain`", "plain name"),
            ("a|b", "`a\\|b`", "pipe"),
            ("a\\|b", "`a\\\u{200B}\\|b`", "backslash before pipe"),
            ("a`b", "``a`b``", "backtick"),
            ("``x", "``` ``x ```", "leading backticks"),
            ("x`", "`` x` ``", "trailing backtick"),
            (
                "line\nbreak\r",
                "` line break  `",
                "line breaks and a trailing space",
            ),
            ("@octocat", "`@octocat`", "mention"),
            (
                "<img src=x onerror=alert(1)>",
                "`<img src=x onerror=alert(1)>`",
                "HTML",
            ),
            (
                "[x](https://evil.example)",
                "`[x](https://evil.example)`",
                "link",
            ),
            ("", "", "empty"),
        ];
        for (text, expected, what) in cases {
            assert_eq!(code_span(text), expected, "{what}");
        }
    }

    #[test]
    fn code_span_outside_table_keeps_pipes() {
        assert_eq!(code_span_outside_table("a|b`c"), "``a|b`c``");
    }

    #[test]
    fn code_block_survives_backtick_fences() {
        let cases = [
            ("plain", "```text\nplain\n```\n", "plain text"),
            ("", "```text\n```\n", "empty"),
            ("a\n", "```text\na\n```\n", "trailing line break kept once"),
            (
                "```\n@octocat",
                "````text\n```\n@octocat\n````\n",
                "fence in the text",
            ),
            (
                "x`````y",
                "``````text\nx`````y\n``````\n",
                "long backtick run",
            ),
            ("a\r\nb\rc", "```text\na\nb\nc\n```\n", "carriage returns"),
            (
                "a\u{1b}[31mb\tc",
                "```text\na [31mb\tc\n```\n",
                "escape sequence",
            ),
        ];
        for (text, expected, what) in cases {
            assert_eq!(code_block(text), expected, "{what}");
        }
    }
}
