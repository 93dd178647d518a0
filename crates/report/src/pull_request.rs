//! The body of pitot's sticky pull-request comment and the summary of its
//! check run.
//!
//! A comment starts with the caller's hidden marker, which lets the caller
//! find and update the same comment on the next push, and a one-line
//! verdict with counts. Then come the links to both commits, the machine,
//! a link to the dashboard, and one table per section: significant
//! changes (worst first), benchmarks that failed on head, new benchmarks,
//! removed benchmarks, benchmarks that are not comparable and benchmarks
//! quarantined as noisy. Unchanged benchmarks go last, folded in a
//! `<details>` element. Quarantined benchmarks never count towards the
//! verdict (see [`Quarantines`]).
//!
//! Benchmark names, parameters, machine names and error text come from
//! files and programs that the pull request controls. Names go in code
//! spans ([`crate::code_span`]) and error text in fenced code blocks
//! ([`crate::code_block`]), where GitHub renders no HTML, links, mentions
//! or issue references and where they cannot end a table cell.
//!
//! GitHub rejects longer bodies, so each body stays a margin below
//! GitHub's limit: table rows are dropped from the end, unchanged ones
//! first, and a note states how many are missing.

mod base_drift;
mod charts;
mod confirmation;
mod fit;
mod quarantine;
mod sections;
mod verdict;

use pitot_stats::Comparison;

use self::confirmation::{confirmation_sentence, Unconfirmed};
use self::fit::{fit, Block};
use self::quarantine::Split;
use self::sections::{notable_sections, rows_in, unchanged_table};
use self::verdict::{Section, SectionCounts};
use crate::markdown::{code_block, code_span_outside_table, truncate_chars};

pub use self::base_drift::BaseDrift;
pub use self::charts::{ChartLink, CommentCharts};
pub use self::confirmation::{flagged_regressions, Confirmation, ConfirmationRun};
pub use self::quarantine::{QuarantineKind, QuarantineNote, Quarantines};
pub use self::verdict::Verdict;

/// GitHub's maximum length of an issue or pull-request comment, in
/// characters (Unicode code points).
pub const COMMENT_MAX_CHARS: usize = 65_536;

/// GitHub's maximum length of a check run's output summary. The REST
/// reference gives 65,535 characters, but users report that GitHub counts
/// UTF-8 bytes, so pitot counts bytes, which are never fewer than
/// characters.
pub const CHECK_SUMMARY_MAX_BYTES: usize = 65_535;

/// How far below GitHub's limits the bodies stay.
///
/// NOTE: GitHub does not document how it counts. The margin covers small
/// differences such as line-break normalisation. It does not cover a count
/// in UTF-16 units of a body full of emoji.
pub const LENGTH_MARGIN: usize = 1_024;

/// The maximum length of the machine name shown, in characters.
const MAX_MACHINE_CHARS: usize = 200;

/// How many lines of the run log a failure comment shows at most.
pub const LOG_TAIL_LINES: usize = 50;

/// The maximum length of the error text in a failure comment, in
/// characters. A longer error keeps its start.
const MAX_ERROR_CHARS: usize = 20_000;

/// The maximum length of the log tail in a failure comment, in
/// characters. A longer tail keeps its end.
const MAX_LOG_CHARS: usize = 30_000;

/// The facts about a run that a pull-request comment shows besides the
/// comparison.
#[derive(Debug, Clone, Copy)]
pub struct PullRequestContext<'a> {
    /// The repository's full name, `owner/name`.
    pub repository: &'a str,
    /// The GitHub web address, `https://github.com` or a GitHub Enterprise
    /// server. Commit links are `{web_url}/{repository}/commit/{sha}`.
    pub web_url: &'a str,
    /// The full hash of the merge base, the "before" side.
    pub base_sha: &'a str,
    /// The full hash of the pull request's head, the "after" side.
    pub head_sha: &'a str,
    /// The asv machine name, as the results files give it.
    pub machine: &'a str,
    /// The address of this run on pitot's dashboard.
    pub dashboard_url: Option<&'a str>,
    /// The charts to embed and link; the check run summary leaves them out.
    pub charts: Option<&'a CommentCharts>,
    /// A hidden HTML comment, such as `<!-- pitot:sticky owner/name#7 -->`,
    /// written unchanged as the first line of the comment. It must be one
    /// line and come from pitot, not from the pull request.
    pub marker: &'a str,
    /// The repository's active quarantines; their rows never count
    /// towards the verdict.
    pub quarantines: Option<&'a Quarantines>,
    /// The movement of the target branch after the merge-base. The header
    /// warns when the branch moved on.
    pub base_drift: Option<&'a BaseDrift>,
    /// The confirmation of the flagged regressions, when they were
    /// flagged; unconfirmed rows never count towards the verdict.
    pub confirmation: Option<&'a Confirmation>,
}

/// The rows of a comparison sorted for the comment: those the verdict
/// judges, the quarantined ones and the unconfirmed ones.
struct Judged<'a> {
    split: Split<'a>,
    unconfirmed: Unconfirmed,
}

impl<'a> Judged<'a> {
    fn of(comparison: &'a Comparison, context: &PullRequestContext<'a>) -> Self {
        let mut split = Split::of(comparison, context.quarantines);
        let unconfirmed = Unconfirmed::take(&mut split.judged, context.confirmation);
        Judged { split, unconfirmed }
    }

    /// Returns the quarantined and unconfirmed sections.
    fn set_aside_blocks(&self) -> Vec<Block> {
        let mut blocks = self.unconfirmed.blocks(&self.split.judged);
        blocks.extend(self.split.blocks());
        blocks
    }
}

/// Returns the verdict of a comparison as the comment states it: without
/// quarantined rows and without regressions that a confirmation did not
/// confirm. The check run's conclusion follows it.
pub fn pull_request_verdict(comparison: &Comparison, context: &PullRequestContext) -> Verdict {
    Verdict::of(&Judged::of(comparison, context).split.judged)
}

/// Renders the comment for a finished comparison of base (before) and
/// head (after), ending with a line break.
///
/// The comment stays at least [`LENGTH_MARGIN`] characters below
/// [`COMMENT_MAX_CHARS`] unless the marker, commit links and dashboard
/// address alone are longer.
pub fn render_pull_request_comment(
    comparison: &Comparison,
    context: &PullRequestContext,
) -> String {
    let judged = Judged::of(comparison, context);
    let comparison = &judged.split.judged;
    let mut blocks = vec![Block::Text(format!(
        "{}\n{}",
        context.marker,
        header(&judged, context)
    ))];
    if let Some(charts) = context.charts {
        blocks.push(Block::Text(self::charts::summary_image(charts)));
    }
    blocks.extend(notable_sections(comparison));
    blocks.extend(judged.set_aside_blocks());
    if let Some(links) = context.charts.and_then(self::charts::history_links) {
        blocks.push(Block::Text(links));
    }

    let unchanged = rows_in(comparison, &[Section::Unchanged]).len();
    if unchanged > 0 {
        // GitHub renders Markdown inside <details> only after a blank line.
        let plural = if unchanged == 1 { "" } else { "s" };
        blocks.push(Block::Text(format!(
            "\n<details><summary>{unchanged} unchanged benchmark{plural}</summary>\n\n"
        )));
        blocks.push(Block::Table(unchanged_table(comparison)));
        blocks.push(Block::Text("\n</details>\n".to_owned()));
    }

    let dashboard_url = context.dashboard_url.map(link_destination);
    fit(
        &blocks,
        COMMENT_MAX_CHARS - LENGTH_MARGIN,
        count_chars,
        dashboard_url.as_deref(),
    )
}

/// Renders the check run's output summary for a finished comparison,
/// ending with a line break: the comment without its marker and without
/// the table of unchanged benchmarks.
///
/// The summary stays at least [`LENGTH_MARGIN`] bytes below
/// [`CHECK_SUMMARY_MAX_BYTES`] unless the commit links and dashboard
/// address alone are longer.
pub fn render_check_summary(comparison: &Comparison, context: &PullRequestContext) -> String {
    let judged = Judged::of(comparison, context);
    let mut blocks = vec![Block::Text(header(&judged, context))];
    blocks.extend(notable_sections(&judged.split.judged));
    blocks.extend(judged.set_aside_blocks());

    let dashboard_url = context.dashboard_url.map(link_destination);
    fit(
        &blocks,
        CHECK_SUMMARY_MAX_BYTES - LENGTH_MARGIN,
        str::len,
        dashboard_url.as_deref(),
    )
}

/// Renders the comment for a run that failed before it could compare,
/// ending with a line break.
///
/// `error` is shown from its start and `log` from its end, the last
/// [`LOG_TAIL_LINES`] lines at most, each in a fenced code block. Both are
/// cut further when the comment would pass GitHub's length limit.
pub fn render_pull_request_failure(error: &str, log: &str, context: &PullRequestContext) -> String {
    let limit = COMMENT_MAX_CHARS - LENGTH_MARGIN;
    let mut error_chars = MAX_ERROR_CHARS;
    let mut log_chars = MAX_LOG_CHARS;
    loop {
        let body = failure_body(error, log, context, error_chars, log_chars);
        // A backtick run in the text lengthens both fences by as much, so
        // the length is checked on the whole body.
        if count_chars(&body) <= limit || (error_chars == 0 && log_chars == 0) {
            return body;
        }
        error_chars /= 2;
        log_chars /= 2;
    }
}

fn failure_body(
    error: &str,
    log: &str,
    context: &PullRequestContext,
    max_error_chars: usize,
    max_log_chars: usize,
) -> String {
    let mut body = format!(
        "{}\n**{}**: pitot could not compare the head with the base.\n\n{}.\n",
        context.marker,
        Verdict::RunFailed.title(),
        commits_and_machine(context),
    );
    body.push_str(&dashboard_line(context));

    body.push_str("\n**Error**\n\n");
    let error = error.trim_end();
    if error.is_empty() {
        body.push_str("_No error message._\n");
    } else {
        body.push_str(&code_block(&truncate_chars(error, max_error_chars)));
    }
    if count_chars(error) > max_error_chars {
        body.push_str(&format!(
            "\n_The error message is cut after {max_error_chars} characters._\n"
        ));
    }

    let (tail, line_count) = log_tail(log, max_log_chars);
    if !tail.is_empty() {
        let plural = if line_count == 1 { "" } else { "s" };
        body.push_str(&format!(
            "\n<details><summary>Last {line_count} line{plural} of the run log</summary>\n\n"
        ));
        body.push_str(&code_block(&tail));
        body.push_str("\n</details>\n");
    }
    body
}

/// Returns the end of the log: at most [`LOG_TAIL_LINES`] lines and
/// `max_chars` characters, with the number of lines it contains.
fn log_tail(log: &str, max_chars: usize) -> (String, usize) {
    let lines: Vec<&str> = log.trim_end().lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    let tail = lines[start..].join("\n");

    let char_count = count_chars(&tail);
    let tail: String = if char_count > max_chars {
        tail.chars().skip(char_count - max_chars).collect()
    } else {
        tail
    };
    let line_count = if tail.is_empty() {
        0
    } else {
        tail.lines().count()
    };
    (tail, line_count)
}

/// Returns the verdict line, the commit line, the confirmation and the
/// dashboard line. The verdict and the counts before the unconfirmed and
/// quarantined ones are of the judged rows.
fn header(judged: &Judged, context: &PullRequestContext) -> String {
    let split = &judged.split;
    let comparison = &split.judged;
    let counts = SectionCounts::of(comparison);
    let statistics = if comparison.options.use_stats {
        "with statistics"
    } else {
        "without statistics"
    };
    let mut header = format!(
        "**{}**: {}{}{}.\n\n{}, factor {}, {statistics}.\n",
        Verdict::of(comparison).title(),
        counts.phrase(),
        judged.unconfirmed.phrase(),
        split.phrase(),
        commits_and_machine(context),
        crate::pyfmt::fixed(comparison.options.factor, 2),
    );
    if let Some(sentence) = crate::detection_text::rule_sentence(comparison) {
        header.push('\n');
        header.push_str(&sentence);
        header.push('\n');
    }
    if let Some(drift) = context.base_drift {
        let base_link = commit_link(context, context.base_sha);
        if let Some(warning) = self::base_drift::warning(drift, &base_link) {
            header.push_str(&warning);
        }
    }
    if let Some(sentence) = confirmation_sentence(context.confirmation) {
        header.push('\n');
        header.push_str(&sentence);
    }
    header.push_str(&dashboard_line(context));
    header
}

/// Returns "Head [`0123456789`](…) compared with base [`…`](…) on machine
/// `name`", without a final full stop.
fn commits_and_machine(context: &PullRequestContext) -> String {
    format!(
        "Head {} compared with base {} on machine {}",
        commit_link(context, context.head_sha),
        commit_link(context, context.base_sha),
        code_span_outside_table(&truncate_chars(context.machine, MAX_MACHINE_CHARS)),
    )
}

fn commit_link(context: &PullRequestContext, sha: &str) -> String {
    let short: String = sha.chars().take(10).collect();
    let url = format!(
        "{}/{}/commit/{sha}",
        context.web_url.trim_end_matches('/'),
        context.repository,
    );
    format!(
        "[{}]({})",
        code_span_outside_table(&short),
        link_destination(&url)
    )
}

fn dashboard_line(context: &PullRequestContext) -> String {
    match context.dashboard_url {
        Some(url) => format!(
            "\n[Full results on the pitot dashboard]({})\n",
            link_destination(url)
        ),
        None => String::new(),
    }
}

/// Percent-encodes every byte of a URL that could end a Markdown link
/// destination or is not printable ASCII. Characters that URLs use for
/// structure (`/`, `?`, `#`, `%` and the like) are kept.
fn link_destination(url: &str) -> String {
    let mut encoded = String::with_capacity(url.len());
    for byte in url.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~:/?#@!$&'*+,;=%".contains(&byte);
        if keep {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn count_chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_destination_encodes_markdown_syntax() {
        let cases = [
            (
                "https://pitot.example/runs/7?tab=all#top",
                "https://pitot.example/runs/7?tab=all#top",
                "plain URL",
            ),
            ("https://x.example/a b", "https://x.example/a%20b", "space"),
            (
                "https://x.example/a)[y](https://evil.example",
                "https://x.example/a%29%5By%5D%28https://evil.example",
                "brackets",
            ),
            (
                "https://x.example/<b>",
                "https://x.example/%3Cb%3E",
                "angle brackets",
            ),
            (
                "https://x.example/é",
                "https://x.example/%C3%A9",
                "non-ASCII",
            ),
        ];
        for (url, expected, what) in cases {
            assert_eq!(link_destination(url), expected, "{what}");
        }
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let log: String = (1..=120).map(|line| format!("line {line}\n")).collect();

        let (tail, line_count) = log_tail(&log, MAX_LOG_CHARS);

        assert_eq!(line_count, LOG_TAIL_LINES);
        assert!(tail.starts_with("line 71\n"), "{tail}");
        assert!(tail.ends_with("line 120"), "{tail}");
    }

    #[test]
    fn log_tail_keeps_the_last_characters() {
        let (tail, line_count) = log_tail("abcdef\nghij", 6);

        assert_eq!(tail, "f\nghij");
        assert_eq!(line_count, 2);
    }
}
