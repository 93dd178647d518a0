//! pitot's charts as PNG images, drawn with plotters: the summary of a
//! pull request's comparison ([`SummaryChart`]) and one benchmark's
//! history with the pull request's base and head on it ([`HistoryChart`]).
//!
//! Pure: a chart's input in, PNG bytes out. No I/O, no async runtime, and
//! no system fonts: the text is drawn with DejaVu Sans, compiled into the
//! binary ([`font`]), so a container without fonts renders the same image.
//!
//! Each input has a [`digest`](SummaryChart::digest) over everything the
//! image shows. The server puts it in the chart's URL, so a URL names one
//! image forever, which is what GitHub's image proxy expects: it caches by
//! URL.
//!
//! Both charts use log axes. A value that a log axis cannot show (zero,
//! negative, NaN, infinite, failed or missing) is left out, and the chart
//! states how many were left out in its title.

mod digest;
mod error;
pub mod font;
mod history;
mod noise;
mod png_image;
mod style;
mod summary;

pub use error::ChartError;
pub use history::{HistoryChart, HistoryPoint, HISTORY_HEIGHT, HISTORY_WIDTH};
pub use noise::NoiseBand;
pub use summary::{
    SkippedRows, SummaryChart, SummaryEntry, Verdict, DOT_PLOT_HEIGHT, MAX_LABELLED_ROWS,
    SUMMARY_WIDTH,
};
