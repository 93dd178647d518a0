//! Fitting a Markdown document made of fixed text and tables under a
//! length limit by dropping table rows from the end.

/// A piece of a document that fits under a limit.
pub(crate) enum Block {
    /// Text that is always kept whole.
    Text(String),
    Table(Table),
}

/// A Markdown table whose rows can be dropped from the end.
pub(crate) struct Table {
    /// The header row and the delimiter row, each ending with a line break.
    pub(crate) head: String,
    /// One line per row, without the line break.
    pub(crate) rows: Vec<String>,
    /// The name of one row in the note on dropped rows, such as
    /// "unchanged benchmark".
    pub(crate) noun: &'static str,
}

/// Joins the blocks into one document whose length, by `measure`, is at
/// most `max_len`.
///
/// Rows are kept in block order, so rows of earlier tables win over rows
/// of later ones. Once a row does not fit, it and every row after it, in
/// this table and the following ones, are dropped, and each table that
/// lost rows ends with a note giving their number. The text blocks, table
/// heads and notes are always kept, so a document whose fixed text alone
/// is longer than `max_len` stays longer.
pub(crate) fn fit(
    blocks: &[Block],
    max_len: usize,
    measure: fn(&str) -> usize,
    dashboard_url: Option<&str>,
) -> String {
    // Reserve room for every note as if each table lost all its rows: a
    // smaller count never makes the note longer.
    let fixed: usize = blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => measure(text),
            Block::Table(table) => {
                measure(&table.head)
                    + measure(&omitted_note(table.rows.len(), table.noun, dashboard_url))
            }
        })
        .sum();
    let mut available = max_len.saturating_sub(fixed);
    let mut full = false;

    let mut output = String::new();
    for block in blocks {
        let table = match block {
            Block::Text(text) => {
                output.push_str(text);
                continue;
            }
            Block::Table(table) => table,
        };

        let mut kept = 0;
        while !full && kept < table.rows.len() {
            let cost = measure(&table.rows[kept]) + 1;
            if cost > available {
                full = true;
            } else {
                available -= cost;
                kept += 1;
            }
        }

        if kept > 0 {
            output.push_str(&table.head);
            for row in &table.rows[..kept] {
                output.push_str(row);
                output.push('\n');
            }
        }
        let omitted = table.rows.len() - kept;
        if omitted > 0 {
            // A blank line ends the table, which would otherwise take the
            // note as one more row.
            if kept > 0 {
                output.push('\n');
            }
            output.push_str(&omitted_note(omitted, table.noun, dashboard_url));
        }
    }
    output
}

/// Returns the line that replaces `count` dropped rows.
fn omitted_note(count: usize, noun: &str, dashboard_url: Option<&str>) -> String {
    let plural = if count == 1 { "" } else { "s" };
    match dashboard_url {
        Some(url) => format!(
            "_{count} more {noun}{plural} not shown because of GitHub's length limit; \
             see [the dashboard]({url})._\n"
        ),
        None => {
            format!("_{count} more {noun}{plural} not shown because of GitHub's length limit._\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[&str]) -> Block {
        Block::Table(Table {
            head: "| a |\n|--|\n".to_owned(),
            rows: rows.iter().map(|row| (*row).to_owned()).collect(),
            noun: "row",
        })
    }

    fn chars(text: &str) -> usize {
        text.chars().count()
    }

    #[test]
    fn fit_keeps_everything_under_the_limit() {
        let blocks = [
            Block::Text("top\n\n".to_owned()),
            table(&["| 1 |", "| 2 |"]),
        ];

        let document = fit(&blocks, 1_000, chars, None);

        assert_eq!(document, "top\n\n| a |\n|--|\n| 1 |\n| 2 |\n");
    }

    #[test]
    fn fit_drops_later_rows_first() {
        let blocks = [
            table(&["| 1 |", "| 2 |"]),
            Block::Text("\n".to_owned()),
            table(&["| 3 |", "| 4 |", "| 5 |"]),
        ];
        let note_len = chars(&omitted_note(3, "row", None));
        let head_len = chars("| a |\n|--|\n");
        // Room for the fixed parts, both notes and three rows of 6 chars.
        let max_len = 2 * head_len + 1 + note_len + chars(&omitted_note(2, "row", None)) + 18;

        let document = fit(&blocks, max_len, chars, None);

        assert!(chars(&document) <= max_len, "{document}");
        assert!(document.contains("| 1 |\n| 2 |\n"), "{document}");
        assert!(
            document.contains("| 3 |\n\n_2 more rows not shown"),
            "{document}"
        );
        assert!(!document.contains("| 4 |"), "{document}");
    }

    #[test]
    fn fit_replaces_full_table_by_note() {
        let blocks = [table(&["| a very long row that cannot fit |"])];

        let document = fit(&blocks, 10, chars, Some("https://pitot.example/run/1"));

        assert_eq!(
            document,
            "_1 more row not shown because of GitHub's length limit; \
             see [the dashboard](https://pitot.example/run/1)._\n"
        );
    }
}
