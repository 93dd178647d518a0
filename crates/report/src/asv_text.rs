//! The text `asv compare` prints (asv 0.6.6), byte for byte.

use pitot_stats::{Comparison, Mark, Row, Side};

use crate::human::human_value;
use crate::options::{RenderOptions, SortOrder};
use crate::pyfmt;
use crate::tabulate::github_table;

/// asv's sections, in the order `--split` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Improved,
    Unchanged,
    Worse,
    NotComparable,
}

impl Section {
    const ORDER: [Section; 4] = [
        Section::Improved,
        Section::Unchanged,
        Section::Worse,
        Section::NotComparable,
    ];

    fn of(mark: Mark) -> Self {
        match mark {
            Mark::Decreased | Mark::FixedFailure => Section::Improved,
            Mark::Increased | Mark::NewFailure => Section::Worse,
            Mark::NotComparable => Section::NotComparable,
            Mark::Unchanged => Section::Unchanged,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Section::Improved => "Benchmarks that have improved:",
            Section::Unchanged => "Benchmarks that have stayed the same:",
            Section::Worse => "Benchmarks that have got worse:",
            Section::NotComparable => "Benchmarks that are not comparable:",
        }
    }
}

/// Returns the asv cells of a row: change, before, after, ratio, name.
type Cells = [String; 5];

/// Renders the comparison as `asv compare` prints it, including the final
/// line break; empty when `only_changed` leaves no row.
///
/// asv's sort orders have two quirks that are kept: `ratio` sorts the
/// printed ratio text in reverse (so `n/a` and `~` ratios come first and
/// `115.90` after `30.42`), and `name` sorts by the printed "after" value.
pub fn render_asv(comparison: &Comparison, options: &RenderOptions) -> String {
    let mut sections: Vec<(Option<Section>, Vec<Cells>)> = if options.split {
        Section::ORDER
            .iter()
            .map(|section| (Some(*section), Vec::new()))
            .collect()
    } else {
        vec![(None, Vec::new())]
    };
    for row in &comparison.rows {
        if options.only_changed
            && matches!(
                row.mark,
                Mark::Unchanged | Mark::NotComparable | Mark::FixedFailure
            )
        {
            continue;
        }
        let cells = row_cells(row, comparison.has_multiple_environments());
        let section = Section::of(row.mark);
        if let Some((_, rows)) = sections
            .iter_mut()
            .find(|(candidate, _)| candidate.is_none_or(|candidate| candidate == section))
        {
            rows.push(cells);
        }
    }

    let headers = [
        "Change".to_owned(),
        header("Before", &options.before),
        header("After", &options.after),
        "Ratio".to_owned(),
        "Benchmark (Parameter)".to_owned(),
    ];
    let mut output = String::new();
    for (section, mut rows) in sections {
        if rows.is_empty() {
            continue;
        }
        if !options.only_changed {
            let title = section.map_or("All benchmarks:", Section::title);
            output.push_str(&format!("\n{title}\n\n"));
        }
        sort_asv_rows(&mut rows, options.sort);
        let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
        output.push_str(&github_table(&headers, &rows));
        output.push('\n');
    }
    output
}

fn header(label: &str, commit: &crate::options::CommitLabel) -> String {
    let name = commit
        .name
        .as_ref()
        .map_or(String::new(), |name| format!("<{name}>"));
    // asv always puts a space before the name, even an empty one.
    format!("{label} [{}] {name}", commit.short_hash())
}

fn sort_asv_rows(rows: &mut [Cells], sort: SortOrder) {
    match sort {
        SortOrder::Default => {}
        // Stable, so equal keys keep asv's order, as Python's sort does.
        SortOrder::Ratio => rows.sort_by(|a, b| b[3].cmp(&a[3])),
        SortOrder::Name => rows.sort_by(|a, b| a[2].cmp(&b[2])),
    }
}

fn row_cells(row: &Row, multiple_environments: bool) -> Cells {
    let name = if multiple_environments {
        format!("{} [{}]", row.name, row.environment())
    } else {
        row.name.clone()
    };
    [
        row.mark.symbol().to_string(),
        side_text(&row.before, row.unit.as_deref()),
        side_text(&row.after, row.unit.as_deref()),
        ratio_text(row),
        name,
    ]
}

/// Formats one side as asv does: with `±` half the interquartile range
/// when statistics are stored.
pub(crate) fn side_text(side: &Side, unit: Option<&str>) -> String {
    human_value(side.measurement, unit, side.error())
}

/// Formats the ratio as asv does: two decimals, `n/a` without a ratio, and
/// a `~` prefix when the statistics vetoed a change.
pub(crate) fn ratio_text(row: &Row) -> String {
    let text = row
        .ratio
        .map_or_else(|| "n/a".to_owned(), |ratio| pyfmt::fixed(ratio, 2));
    if row.insignificant {
        format!("~{text}")
    } else {
        text
    }
}
