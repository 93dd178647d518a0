//! Reading a schema-2 file's `results` straight into the model.
//!
//! Nearly all of a results file is its `results` object: one row per
//! benchmark with the samples of every combination. Building a JSON value
//! tree for it and then converting the tree took most of the parser's time,
//! so this path reads the header as a tree, as [`super::parse_results`]
//! does, and the rows with a [`Reader`].
//!
//! It only reads files that it can read to the end without a question:
//! any value of a kind it does not expect, any syntax error and any schema-1
//! file make it return `None`, and the caller parses the file again with
//! the tree. So every error message, and every rule for an unusual file,
//! comes from one place, the tree path. The rules below must give the same
//! model as `v2::read_row` for every file they accept; the tests compare
//! both on every file of the corpora.

use std::collections::HashMap;
use std::ops::Range;

use super::v2::{self, Column};
use crate::json::{self, Reader};
use crate::{BenchmarkResult, Outcome, ResultsFile, Stats};

/// A list of numbers in which `null` is allowed, such as `result` or a
/// `stats_*` cell.
type NullableNumbers = Vec<Option<f64>>;

/// Parses a schema-2 file, or returns `None` when the tree path must.
pub(super) fn parse_v2(bytes: &[u8]) -> Option<ResultsFile> {
    let skimmed = json::parse_skipping(bytes, "results").ok()?;
    let document = &skimmed.document;
    document.as_object()?;
    let (header, _) = super::read_header(document).ok()?;
    if super::read_version(document).ok()? != 2 {
        return None;
    }
    // With the placeholder for `results`, this reads everything but the rows.
    let mut file = v2::read(document, &[], ResultsFile { schema_version: 2, ..header }).ok()?;
    let columns = v2::read_columns(super::required(document, "result_columns").ok()?).ok()?;
    file.benchmarks = read_rows(skimmed.text, skimmed.skipped?, &columns)?;
    Some(file)
}

/// Reads the `results` object at `range` of `text`. A name listed twice
/// keeps the place of its first row and the contents of its last, like a
/// Python `dict` built from the file.
fn read_rows(text: &str, range: Range<usize>, columns: &[Column]) -> Option<Vec<BenchmarkResult>> {
    let mut reader = Reader::new(text, range.start);
    if !reader.begin_object().ok()? {
        return None;
    }
    let mut benchmarks: Vec<BenchmarkResult> = Vec::new();
    let mut positions: HashMap<String, usize> = HashMap::new();
    let mut first = true;
    while let Some(name) = reader.next_key(first).ok()? {
        first = false;
        let benchmark = read_row(&mut reader, &name, columns)?;
        match positions.get(name.as_ref()) {
            Some(&index) => benchmarks[index] = benchmark,
            None => {
                positions.insert(name.into_owned(), benchmarks.len());
                benchmarks.push(benchmark);
            }
        }
    }
    (reader.position() == range.end).then_some(benchmarks)
}

/// The cells of one row that need the combination count before they can
/// become the model's lists.
#[derive(Default)]
struct Cells {
    result: Option<NullableNumbers>,
    stats: [Option<NullableNumbers>; 6],
    samples: Option<Vec<Option<Vec<f64>>>>,
}

/// Reads one row, positional over `columns` like `v2::read_row`.
fn read_row(reader: &mut Reader<'_>, name: &str, columns: &[Column]) -> Option<BenchmarkResult> {
    if !reader.begin_array().ok()? {
        return None;
    }
    let mut benchmark = BenchmarkResult {
        name: name.to_string(),
        ..BenchmarkResult::default()
    };
    let mut cells = Cells::default();
    let mut index = 0;
    while reader.next_element(index == 0).ok()? {
        // Cells past the last column are ignored, as asv's loader does.
        match columns.get(index) {
            Some(Column::Result) => cells.result = optional(reader, nullable_numbers)?,
            Some(Column::Params) => benchmark.params = optional(reader, string_lists)?.unwrap_or_default(),
            Some(Column::Version) => {
                benchmark.version = optional(reader, |reader| reader.string().ok()?.map(String::from))?;
            }
            Some(Column::StartedAt) => {
                // Truncated like `fields::optional_integer`.
                benchmark.started_at = optional(reader, number)?.map(|number| number as i64);
            }
            Some(Column::Duration) => benchmark.duration = optional(reader, number)?,
            Some(Column::Stat(stat)) => cells.stats[*stat as usize] = optional(reader, nullable_numbers)?,
            Some(Column::Samples) => cells.samples = optional(reader, sample_lists)?,
            Some(Column::OtherStat | Column::Profile) | None => {
                reader.value().ok()?;
            }
        }
        index += 1;
    }

    // An oversized grid is left to the tree parser, which names it.
    let count = benchmark.checked_combination_count()?;
    benchmark.outcomes = outcomes(cells.result.as_deref(), count);
    benchmark.stats = stats(&cells.stats, count);
    benchmark.samples = samples(cells.samples, count);
    Some(benchmark)
}

/// Reads `null` as `Some(None)`, or a value with `read`. Returns `None`
/// when `read` cannot.
fn optional<'a, T>(reader: &mut Reader<'a>, read: impl FnOnce(&mut Reader<'a>) -> Option<T>) -> Option<Option<T>> {
    if reader.null().ok()? {
        return Some(None);
    }
    read(reader).map(Some)
}

fn number(reader: &mut Reader<'_>) -> Option<f64> {
    reader.number().ok()?
}

fn nullable_numbers(reader: &mut Reader<'_>) -> Option<NullableNumbers> {
    list(reader, |reader| optional(reader, number))
}

fn sample_lists(reader: &mut Reader<'_>) -> Option<Vec<Option<Vec<f64>>>> {
    list(reader, |reader| optional(reader, |reader| list(reader, number)))
}

fn string_lists(reader: &mut Reader<'_>) -> Option<Vec<Vec<String>>> {
    list(reader, |reader| list(reader, |reader| reader.string().ok()?.map(String::from)))
}

/// Reads an array whose elements `read` reads.
fn list<'a, T>(reader: &mut Reader<'a>, mut read: impl FnMut(&mut Reader<'a>) -> Option<T>) -> Option<Vec<T>> {
    if !reader.begin_array().ok()? {
        return None;
    }
    let mut items = Vec::new();
    while reader.next_element(items.is_empty()).ok()? {
        items.push(read(reader)?);
    }
    Some(items)
}

/// Lines the results up with the combinations, as `v2::outcomes` does.
fn outcomes(result: Option<&[Option<f64>]>, count: usize) -> Vec<Outcome> {
    (0..count)
        .map(|index| match result.and_then(|values| values.get(index)).copied().flatten() {
            None => Outcome::Failed,
            Some(value) if value.is_nan() => Outcome::Skipped,
            Some(value) => Outcome::Value(value),
        })
        .collect()
}

/// Builds one `Stats` per combination, as `v2::stats` does.
fn stats(columns: &[Option<NullableNumbers>; 6], count: usize) -> Vec<Option<Stats>> {
    if columns.iter().all(Option::is_none) {
        return Vec::new();
    }
    let cell = |stat: v2::StatField, index: usize| -> Option<f64> {
        columns[stat as usize].as_ref().and_then(|values| values.get(index)).copied().flatten()
    };
    let mut all = Vec::with_capacity(count);
    for index in 0..count {
        let entry = Stats {
            ci_99: cell(v2::StatField::Ci99A, index).zip(cell(v2::StatField::Ci99B, index)),
            q_25: cell(v2::StatField::Q25, index),
            q_75: cell(v2::StatField::Q75, index),
            number: cell(v2::StatField::Number, index),
            repeat: cell(v2::StatField::Repeat, index),
        };
        all.push((entry != Stats::default()).then_some(entry));
    }
    if all.iter().all(Option::is_none) {
        all.clear();
    }
    all
}

/// Takes the sample lists of the combinations, as `v2::samples` does.
fn samples(column: Option<Vec<Option<Vec<f64>>>>, count: usize) -> Vec<Option<Vec<f64>>> {
    let Some(values) = column else {
        return Vec::new();
    };
    let mut all: Vec<Option<Vec<f64>>> = values.into_iter().take(count).collect();
    all.resize(count, None);
    if all.iter().all(Option::is_none) {
        all.clear();
    }
    all
}
