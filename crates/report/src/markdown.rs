//! pitot's Markdown report: a one-line verdict, then a GitHub-flavoured
//! table, safe to post as a pull-request comment.
//!
//! Benchmark names, parameters, machine and environment names and commit
//! names come from results files that anyone can write, so each is put in a
//! code span (see [`code_span`]): there GitHub renders no HTML, links,
//! mentions, issue references or emphasis. The other cells are produced by
//! pitot and contain only digits, units and fixed words.

use pitot_stats::{Comparison, Row};

use crate::asv_text::{ratio_text, side_text};
use crate::options::{CommitLabel, RenderOptions};
use crate::summary::{selected_rows, Change, Summary};

/// Renders the verdict and the table, ending with a line break.
pub fn render_markdown(comparison: &Comparison, options: &RenderOptions) -> String {
    let summary = Summary::of(comparison);
    let mut output = verdict_line(&summary, comparison, options);
    output.push('\n');

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
                output.push_str(&table(&section, comparison.has_multiple_environments()));
            }
        }
    } else if !rows.is_empty() {
        output.push('\n');
        output.push_str(&table(&rows, comparison.has_multiple_environments()));
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

fn table(rows: &[&Row], multiple_environments: bool) -> String {
    let mut lines = vec![
        "| Change | Before | After | Ratio | Benchmark |".to_owned(),
        "|:--|--:|--:|--:|:--|".to_owned(),
    ];
    for row in rows {
        let mut name = code_span(&row.name);
        if multiple_environments {
            name.push(' ');
            name.push_str(&code_span(&row.environment()));
        }
        lines.push(format!(
            "| {} | {} | {} | {} | {} |",
            change_text(row),
            side_text(&row.before, row.unit.as_deref()),
            side_text(&row.after, row.unit.as_deref()),
            ratio_text(row),
            name,
        ));
    }
    let mut table = lines.join("\n");
    table.push('\n');
    table
}

fn change_text(row: &Row) -> &'static str {
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
    let mut body = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '|' => {
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
}
