//! The charts of a job: their inputs from the store, their URLs and the
//! endpoint that serves them.
//!
//! A chart's URL carries a digest of the chart's input:
//! `/charts/jobs/{job_id}/summary-{digest}.png` and
//! `/charts/jobs/{job_id}/history-{row}-{digest}.png`, where `row` is the
//! benchmark's index in the job's comparison without the benchmarks
//! quarantined as ignored (`inputs::Charted`). GitHub's image proxy caches
//! an image by its URL, so new content must get a new URL. The endpoint
//! rebuilds the input and returns 404 when its digest differs from the one
//! requested (a stale URL). Otherwise it serves the PNG as immutable.
//!
//! The history chart shows the benchmark's results on the base branch. The
//! store does not record branches, so the history is the series' results
//! at commits that are not the head of any pull-request job, dated no
//! later than the merge-base, at most [`MAX_HISTORY_POINTS`] of them.
//! Bounding it by the merge-base's date keeps the input, and so the URL,
//! stable when newer commits are imported later.

mod inputs;
mod route;

pub(crate) use inputs::{chart_links, ChartJob};
pub(crate) use route::{chart_png, load_comparison};

/// The maximum number of history points one chart shows, the newest ones.
pub const MAX_HISTORY_POINTS: usize = 500;

/// The maximum number of benchmarks a comment links a history chart for.
pub const MAX_HISTORY_LINKS: usize = 10;
