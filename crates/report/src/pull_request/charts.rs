//! The chart image and the history links of a pull-request comment.

use crate::markdown::{code_span_outside_table, truncate_chars};

/// The maximum length of a benchmark name in a history link, in characters.
const MAX_LINK_NAME_CHARS: usize = 200;

/// The charts pitot serves for a comparison, as absolute URLs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommentCharts {
    /// The PNG of every benchmark's head/base ratio.
    pub summary_url: String,
    /// The history charts of the benchmarks that changed significantly,
    /// in the order the comment lists them.
    pub histories: Vec<ChartLink>,
    /// How many more benchmarks changed significantly but get no link,
    /// because the comment links only the first few.
    pub histories_omitted: usize,
}

/// A link to one benchmark's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartLink {
    /// The benchmark's name as the comment shows it; it comes from the pull
    /// request, so it is rendered in a code span.
    pub name: String,
    pub url: String,
}

/// Returns the image of the summary chart as a paragraph.
pub(crate) fn summary_image(charts: &CommentCharts) -> String {
    format!(
        "\n![Head/base ratio of each benchmark, log scale]({})\n",
        super::link_destination(&charts.summary_url)
    )
}

/// Returns the list of history links, or `None` when there is none.
pub(crate) fn history_links(charts: &CommentCharts) -> Option<String> {
    if charts.histories.is_empty() {
        return None;
    }
    let mut text = String::from(
        "\n**History charts**: each benchmark on the base branch, with this pull request's base and head\n\n",
    );
    for link in &charts.histories {
        text.push_str(&format!(
            "- [{}]({})\n",
            code_span_outside_table(&truncate_chars(&link.name, MAX_LINK_NAME_CHARS)),
            super::link_destination(&link.url)
        ));
    }
    if charts.histories_omitted > 0 {
        let plural = if charts.histories_omitted == 1 {
            ""
        } else {
            "s"
        };
        text.push_str(&format!(
            "\n_{} more changed benchmark{plural} without a link here._\n",
            charts.histories_omitted
        ));
    }
    Some(text)
}
