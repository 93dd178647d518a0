//! Renders a [`pitot_stats::Comparison`] as text: exactly what `asv compare`
//! prints ([`render_asv`]), pitot's Markdown report for pull requests
//! ([`render_markdown`]) and pitot's JSON report ([`render_json`]).
//! [`pull_request`] renders the sticky pull-request comment and the check
//! run summary.
//!
//! Pure: no I/O and no async runtime. The asv format reproduces asv 0.6.6
//! with the `tabulate` package's `github` table format (0.9 and 0.10 agree);
//! [`pyfmt`] and [`human`] carry the Python number formatting it relies on.

mod asv_text;
mod detection_text;
pub mod human;
mod json;
mod markdown;
mod options;
pub mod pull_request;
pub mod pyfmt;
mod summary;
mod tabulate;

pub use asv_text::render_asv;
pub use json::{render_json, JSON_VERSION};
pub use markdown::{code_block, code_span, render_markdown};
pub use options::{CommitLabel, RenderOptions, SortOrder};
pub use pull_request::{
    flagged_regressions, pull_request_verdict, render_check_summary, render_pull_request_comment,
    render_pull_request_failure, BaseDrift, ChartLink, CommentCharts, Confirmation,
    ConfirmationRun, PullRequestContext, QuarantineKind, QuarantineNote, Quarantines, Verdict,
};
pub use summary::{selected_rows, Change, Summary};
pub use tabulate::github_table;
