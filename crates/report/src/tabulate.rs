//! A table in the `github` format of Python's `tabulate` package (0.9 and
//! 0.10 behave alike here), which `asv compare` prints.
//!
//! What matters for asv's tables:
//! - A column whose cells all read as numbers is numeric: its cells are
//!   right-aligned on the decimal point, and float columns are reprinted
//!   with Python's `"g"` format (`3.00` becomes `3`, `115.90` becomes
//!   `115.9`). Other columns are left-aligned with surrounding whitespace
//!   stripped.
//! - A column is as wide as its widest cell or its header plus 2.
//! - Headers take the alignment of their column.
//!
//! Widths count Unicode code points, as tabulate does when the optional
//! `wcwidth` package is absent (asv does not install it).
//! NOTE: tabulate measures cells with ANSI escape codes and splits cells
//! with line breaks, which this module does not. asv's cells never contain
//! them, because parameters are Python `repr` strings.

use crate::pyfmt;

/// The type tabulate infers for a cell, from least to most generic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CellType {
    Empty,
    Bool,
    Int,
    Float,
    Text,
}

/// Renders `rows` under `headers`; every row must have as many cells as
/// there are headers. Returns the lines joined by `\n`, without a final
/// line break.
pub fn github_table(headers: &[String], rows: &[Vec<String>]) -> String {
    let columns: Vec<Vec<String>> = (0..headers.len())
        .map(|index| rows.iter().map(|row| row[index].clone()).collect())
        .collect();

    let mut aligned_columns = Vec::new();
    let mut aligned_headers = Vec::new();
    let mut widths = Vec::new();
    for (header, cells) in headers.iter().zip(columns) {
        let column_type = cells
            .iter()
            .map(|cell| cell_type(cell))
            .fold(CellType::Bool, Ord::max);
        let numeric = matches!(column_type, CellType::Int | CellType::Float);
        let formatted: Vec<String> = cells
            .iter()
            .map(|cell| format_cell(cell, column_type))
            .collect();

        let min_width = width(header) + 2;
        let cells = if numeric {
            align_decimal(formatted, min_width)
        } else {
            align_left(formatted, min_width)
        };
        let column_width = cells
            .iter()
            .map(|cell| width(cell))
            .max()
            .unwrap_or(0)
            .max(min_width);
        let header = if numeric {
            pad_left(header, column_width)
        } else {
            pad_right(header, column_width)
        };
        aligned_columns.push(cells);
        aligned_headers.push(header);
        widths.push(column_width);
    }

    let mut lines = vec![table_row(&aligned_headers), separator(&widths)];
    for index in 0..rows.len() {
        let cells: Vec<String> = aligned_columns
            .iter()
            .map(|column| column[index].clone())
            .collect();
        lines.push(table_row(&cells));
    }
    lines.join("\n")
}

fn table_row(cells: &[String]) -> String {
    let padded: Vec<String> = cells.iter().map(|cell| format!(" {cell} ")).collect();
    let line = format!("|{}|", padded.join("|"));
    python_rstrip(&line).to_owned()
}

fn separator(widths: &[usize]) -> String {
    let dashes: Vec<String> = widths.iter().map(|width| "-".repeat(width + 2)).collect();
    format!("|{}|", dashes.join("|"))
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad_left(text: &str, column_width: usize) -> String {
    let padding = column_width.saturating_sub(width(text));
    format!("{}{text}", " ".repeat(padding))
}

fn pad_right(text: &str, column_width: usize) -> String {
    let padding = column_width.saturating_sub(width(text));
    format!("{text}{}", " ".repeat(padding))
}

fn align_left(cells: Vec<String>, min_width: usize) -> Vec<String> {
    let stripped: Vec<&str> = cells.iter().map(|cell| python_strip(cell)).collect();
    let column_width = stripped
        .iter()
        .map(|cell| width(cell))
        .max()
        .unwrap_or(0)
        .max(min_width);
    stripped
        .iter()
        .map(|cell| pad_right(cell, column_width))
        .collect()
}

/// Pads each number on the right so the decimal points line up, then
/// right-aligns the column.
fn align_decimal(cells: Vec<String>, min_width: usize) -> Vec<String> {
    let decimals: Vec<i64> = cells.iter().map(|cell| digits_after_point(cell)).collect();
    let max_decimals = decimals.iter().copied().max().unwrap_or(-1);
    let padded: Vec<String> = cells
        .iter()
        .zip(&decimals)
        .map(|(cell, decimals)| format!("{cell}{}", " ".repeat((max_decimals - decimals) as usize)))
        .collect();
    let column_width = padded
        .iter()
        .map(|cell| width(cell))
        .max()
        .unwrap_or(0)
        .max(min_width);
    padded
        .iter()
        .map(|cell| pad_left(cell, column_width))
        .collect()
}

/// Returns how many characters follow the decimal point (or the exponent
/// marker when there is no point), or -1 for an integer or a non-number,
/// as tabulate's `_afterpoint`.
fn digits_after_point(cell: &str) -> i64 {
    if !(is_number(cell) || has_thousands_separators(cell)) || is_int(cell) {
        return -1;
    }
    let chars: Vec<char> = cell.chars().collect();
    let position = chars
        .iter()
        .rposition(|&c| c == '.')
        .or_else(|| chars.iter().rposition(|&c| c == 'e' || c == 'E'));
    match position {
        Some(position) => (chars.len() - position - 1) as i64,
        None => -1,
    }
}

/// Reprints a cell for its column's type: float columns through Python's
/// `"g"` format, everything else unchanged.
fn format_cell(cell: &str, column_type: CellType) -> String {
    if cell.is_empty() || column_type != CellType::Float {
        return cell.to_owned();
    }
    match parse_python_float(&cell.replace(',', "")) {
        Some(value) => pyfmt::general(value, 6),
        None => cell.to_owned(),
    }
}

fn cell_type(cell: &str) -> CellType {
    if cell.is_empty() {
        CellType::Empty
    } else if cell == "True" || cell == "False" {
        CellType::Bool
    } else if is_int(cell) || (has_thousands_separators(cell) && !cell.contains('.')) {
        CellType::Int
    } else if is_number(cell) || has_thousands_separators(cell) {
        CellType::Float
    } else {
        CellType::Text
    }
}

/// Returns whether Python's `int(cell)` accepts the text.
fn is_int(cell: &str) -> bool {
    let text = python_strip(cell);
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    is_digit_part(digits)
}

/// Returns whether tabulate's `_isnumber` accepts the text: Python's
/// `float(cell)` parses it, and it is finite unless spelled exactly `inf`,
/// `-inf` or `nan` in any case.
fn is_number(cell: &str) -> bool {
    match parse_python_float(cell) {
        Some(value) if value.is_finite() => true,
        Some(_) => matches!(cell.to_lowercase().as_str(), "inf" | "-inf" | "nan"),
        None => false,
    }
}

/// Parses text as Python's `float()` does, or returns `None` where it
/// raises `ValueError`.
fn parse_python_float(cell: &str) -> Option<f64> {
    let text = python_strip(cell);
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return text.parse().ok();
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(position) => (&unsigned[..position], Some(&unsigned[position + 1..])),
        None => (unsigned, None),
    };
    let mantissa_valid = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() || is_digit_part(whole))
                && (fraction.is_empty() || is_digit_part(fraction))
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => is_digit_part(mantissa),
    };
    let exponent_valid = exponent.is_none_or(|exponent| {
        is_digit_part(exponent.strip_prefix(['+', '-']).unwrap_or(exponent))
    });
    if !(mantissa_valid && exponent_valid) {
        return None;
    }
    text.replace('_', "").parse().ok()
}

/// Returns whether the text is ASCII digits with single underscores
/// between them, as Python's number literals allow.
fn is_digit_part(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('_')
        && !text.ends_with('_')
        && !text.contains("__")
        && text.chars().all(|c| c.is_ascii_digit() || c == '_')
}

/// Returns whether the text is a number with thousands separators, such as
/// `1,000` or `-1,234.5`, as tabulate's pattern
/// `^(([+-]?[0-9]{1,3})(?:,([0-9]{3}))*)?(?(1)\.[0-9]*|\.[0-9]+)?$`.
fn has_thousands_separators(cell: &str) -> bool {
    let (integer, fraction) = match cell.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (cell, None),
    };
    let all_digits = |text: &str| text.chars().all(|c| c.is_ascii_digit());
    if let Some(fraction) = fraction {
        if !all_digits(fraction) || (integer.is_empty() && fraction.is_empty()) {
            return false;
        }
    }
    if integer.is_empty() {
        return true;
    }
    let unsigned = integer.strip_prefix(['+', '-']).unwrap_or(integer);
    let mut groups = unsigned.split(',');
    let first_valid = groups
        .next()
        .is_some_and(|first| (1..=3).contains(&first.len()) && all_digits(first));
    first_valid && groups.all(|group| group.len() == 3 && all_digits(group))
}

/// Returns whether Python's `str.isspace` holds for the character: Unicode
/// whitespace plus the four ASCII separators U+001C to U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn python_strip(text: &str) -> &str {
    text.trim_matches(is_python_space)
}

fn python_rstrip(text: &str) -> &str {
    text.trim_end_matches(is_python_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| (*cell).to_owned()).collect()
    }

    // Expected types and tables: tabulate 0.10.0 `_type` and `tabulate(...,
    // tablefmt="github")` under Python 3.11.

    #[test]
    fn cell_type_matches_tabulate() {
        let cases = [
            ("", CellType::Empty, "empty"),
            ("True", CellType::Bool, "bool"),
            ("42", CellType::Int, "int"),
            ("-7", CellType::Int, "negative int"),
            ("1_000", CellType::Int, "underscore int"),
            ("1,000", CellType::Int, "thousands int"),
            ("3.00", CellType::Float, "float"),
            ("1e+16", CellType::Float, "exponent"),
            (".5", CellType::Float, "leading point"),
            ("inf", CellType::Float, "inf"),
            ("NaN", CellType::Float, "nan any case"),
            ("Infinity", CellType::Text, "json infinity"),
            ("1e999", CellType::Text, "overflow"),
            ("1,000.5", CellType::Float, "thousands float"),
            ("~3.00", CellType::Text, "insignificant ratio"),
            ("n/a", CellType::Text, "n/a"),
            ("1.00±1s", CellType::Text, "value with unit"),
            (" ", CellType::Text, "blank mark"),
            ("-", CellType::Text, "minus mark"),
            ("1__0", CellType::Text, "double underscore"),
            (".", CellType::Text, "lone point"),
            ("+inf", CellType::Text, "signed inf"),
            (" 5", CellType::Int, "int with space"),
            ("1.", CellType::Float, "trailing point"),
            ("1e5_0", CellType::Float, "underscore exponent"),
            ("0x10", CellType::Text, "hexadecimal"),
            ("1._5", CellType::Text, "underscore after point"),
        ];
        for (cell, expected, what) in cases {
            assert_eq!(cell_type(cell), expected, "{what}: {cell:?}");
        }
    }

    #[test]
    fn github_table_numeric_column() {
        let headers = strings(&["Name", "Ratio"]);
        let rows = vec![
            strings(&["a", "0.27"]),
            strings(&["bb", "115.90"]),
            strings(&["c", "3.00"]),
        ];

        let table = github_table(&headers, &rows);

        let expected = "\
| Name   |   Ratio |
|--------|---------|
| a      |    0.27 |
| bb     |  115.9  |
| c      |    3    |";
        assert_eq!(table, expected);
    }

    #[test]
    fn github_table_text_column_strips() {
        let headers = strings(&["Change", "Ratio"]);
        let rows = vec![strings(&[" ", "~3.00"]), strings(&["+", "3.00"])];

        let table = github_table(&headers, &rows);

        let expected = "\
| Change   | Ratio   |
|----------|---------|
|          | ~3.00   |
| +        | 3.00    |";
        assert_eq!(table, expected);
    }

    #[test]
    fn github_table_counts_code_points() {
        let headers = strings(&["V"]);
        let rows = vec![strings(&["454μs"]), strings(&["1.00±1s"])];

        let table = github_table(&headers, &rows);

        assert_eq!(table, "| V       |\n|---------|\n| 454μs   |\n| 1.00±1s |");
    }
}
