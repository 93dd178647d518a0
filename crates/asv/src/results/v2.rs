//! Schema 2: one positional row per benchmark over `result_columns`.

use crate::fields::{self, Members};
use crate::json::Value;
use crate::{BenchmarkResult, Outcome, ParseError, ResultsFile, Stats};

/// The columns asv 0.6 writes, in its order. Rows end early when their
/// trailing cells would all be null, so rows of 4, 5, 11 and 12 cells occur.
pub(super) const ASV_COLUMNS: [Column; 13] = [
    Column::Result,
    Column::Params,
    Column::Version,
    Column::StartedAt,
    Column::Duration,
    Column::Stat(StatField::Ci99A),
    Column::Stat(StatField::Ci99B),
    Column::Stat(StatField::Q25),
    Column::Stat(StatField::Q75),
    Column::Stat(StatField::Number),
    Column::Stat(StatField::Repeat),
    Column::Samples,
    Column::Profile,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Result,
    Params,
    Version,
    StartedAt,
    Duration,
    Stat(StatField),
    /// A `stats_*` column asv does not write; asv loads such a column without
    /// complaint, so it is accepted and ignored.
    OtherStat,
    Samples,
    /// cProfile output, base64-encoded and compressed. Skipped on purpose:
    /// pitot does not store profiles, and they are the largest cells in a file.
    Profile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatField {
    Ci99A,
    Ci99B,
    Q25,
    Q75,
    Number,
    Repeat,
}

impl Column {
    fn from_name(name: &str) -> Option<Column> {
        let column = match name {
            "result" => Column::Result,
            "params" => Column::Params,
            "version" => Column::Version,
            "started_at" => Column::StartedAt,
            "duration" => Column::Duration,
            "stats_ci_99_a" => Column::Stat(StatField::Ci99A),
            "stats_ci_99_b" => Column::Stat(StatField::Ci99B),
            "stats_q_25" => Column::Stat(StatField::Q25),
            "stats_q_75" => Column::Stat(StatField::Q75),
            "stats_number" => Column::Stat(StatField::Number),
            "stats_repeat" => Column::Stat(StatField::Repeat),
            "samples" => Column::Samples,
            "profile" => Column::Profile,
            other if other.starts_with("stats_") => Column::OtherStat,
            _ => return None,
        };
        Some(column)
    }

    fn name(self) -> &'static str {
        match self {
            Column::Result => "result",
            Column::Params => "params",
            Column::Version => "version",
            Column::StartedAt => "started_at",
            Column::Duration => "duration",
            Column::Stat(StatField::Ci99A) => "stats_ci_99_a",
            Column::Stat(StatField::Ci99B) => "stats_ci_99_b",
            Column::Stat(StatField::Q25) => "stats_q_25",
            Column::Stat(StatField::Q75) => "stats_q_75",
            Column::Stat(StatField::Number) => "stats_number",
            Column::Stat(StatField::Repeat) => "stats_repeat",
            Column::OtherStat => "stats_*",
            Column::Samples => "samples",
            Column::Profile => "profile",
        }
    }
}

pub(super) fn read(
    document: &Value,
    results: Members,
    mut file: ResultsFile,
) -> Result<ResultsFile, ParseError> {
    // asv loads a null `env_name` as Python's `None`, and its tables then
    // name the environment `None`.
    let env_name = super::required(document, "env_name")?;
    file.env_name = if env_name.is_null() {
        "None".to_string()
    } else {
        fields::string(env_name, || "env_name".into())?.to_string()
    };
    let columns = read_columns(super::required(document, "result_columns")?)?;
    if let Some(durations) = document.get("durations") {
        file.durations = super::number_map(durations, "durations")?;
    }

    let members = super::unique_members(results);
    file.benchmarks = Vec::with_capacity(members.len());
    for (name, row) in members {
        let cells = fields::array(row, || format!("results[{name:?}]"))?;
        file.benchmarks.push(read_row(name, cells, &columns)?);
    }
    Ok(file)
}

pub(super) fn read_columns(value: &Value) -> Result<Vec<Column>, ParseError> {
    fields::array(value, || "result_columns".into())?
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let name = fields::string(item, || format!("result_columns[{index}]"))?;
            Column::from_name(name).ok_or_else(|| ParseError::UnknownColumn {
                column: name.to_string(),
            })
        })
        .collect()
}

/// The cells of one row, by column. Missing trailing cells stay `None`.
#[derive(Default)]
struct Cells<'v, 'a> {
    result: Option<&'v [Value<'a>]>,
    stats: [Option<&'v [Value<'a>]>; 6],
    samples: Option<&'v [Value<'a>]>,
}

/// Reads one schema-2 row. Also used for the schema-2 style value that
/// can stand in a schema-1 file.
pub(super) fn read_row(
    name: &str,
    cells: &[Value],
    columns: &[Column],
) -> Result<BenchmarkResult, ParseError> {
    let field = |column: Column| format!("results[{name:?}].{}", column.name());
    let mut benchmark = BenchmarkResult {
        name: name.to_string(),
        ..BenchmarkResult::default()
    };
    let mut row = Cells::default();
    // `zip` stops at the shorter side, as asv's loader does.
    for (&column, cell) in columns.iter().zip(cells) {
        match column {
            Column::Result => row.result = optional_array(cell, || field(column))?,
            Column::Params => benchmark.params = fields::string_lists(cell, || field(column))?,
            Column::Version => benchmark.version = fields::optional_string(cell, || field(column))?,
            Column::StartedAt => {
                benchmark.started_at = fields::optional_integer(cell, || field(column))?;
            }
            Column::Duration => {
                benchmark.duration = fields::optional_number(cell, || field(column))?;
            }
            Column::Stat(stat) => {
                row.stats[stat as usize] = optional_array(cell, || field(column))?
            }
            Column::Samples => row.samples = optional_array(cell, || field(column))?,
            Column::OtherStat | Column::Profile => {}
        }
    }

    let count = combination_count(&benchmark, || field(Column::Params))?;
    benchmark.outcomes = outcomes(row.result, count, || field(Column::Result))?;
    benchmark.stats = stats(&row.stats, count, |stat| field(Column::Stat(stat)))?;
    benchmark.samples = samples(row.samples, count, || field(Column::Samples))?;
    Ok(benchmark)
}

/// Returns the benchmark's number of parameter combinations, or an error
/// naming `field` when it is above [`crate::MAX_COMBINATIONS`].
pub(super) fn combination_count(benchmark: &BenchmarkResult, field: impl FnOnce() -> String) -> Result<usize, ParseError> {
    benchmark
        .checked_combination_count()
        .ok_or_else(|| ParseError::TooManyCombinations {
            field: field(),
            limit: crate::MAX_COMBINATIONS,
        })
}

fn optional_array<'v, 'a>(
    value: &'v Value<'a>,
    field: impl FnOnce() -> String,
) -> Result<Option<&'v [Value<'a>]>, ParseError> {
    match value {
        Value::Null => Ok(None),
        other => fields::array(other, field).map(Some),
    }
}

/// Reads one outcome: a number, `NaN` (skipped) or null (failed).
pub(super) fn outcome(
    value: &Value,
    field: impl FnOnce() -> String,
) -> Result<Outcome, ParseError> {
    match value {
        Value::Null => Ok(Outcome::Failed),
        Value::Number(number) if number.value.is_nan() => Ok(Outcome::Skipped),
        Value::Number(number) => Ok(Outcome::Value(number.value)),
        other => Err(fields::wrong_type(field(), "a number, NaN or null", other)),
    }
}

/// Lines the results up with the `count` parameter combinations. A null
/// `result` means every combination failed, and combinations past the end
/// of the list failed too, as asv's `_compatible_results` reads them.
fn outcomes(
    result: Option<&[Value]>,
    count: usize,
    field: impl Fn() -> String,
) -> Result<Vec<Outcome>, ParseError> {
    (0..count)
        .map(|index| match result.and_then(|values| values.get(index)) {
            None => Ok(Outcome::Failed),
            Some(value) => outcome(value, || format!("{}[{index}]", field())),
        })
        .collect()
}

/// Builds one `Stats` per combination from the `stats_*` columns. Returns an
/// empty list when no combination has any statistic.
fn stats(
    columns: &[Option<&[Value]>; 6],
    count: usize,
    field: impl Fn(StatField) -> String,
) -> Result<Vec<Option<Stats>>, ParseError> {
    if columns.iter().all(Option::is_none) {
        return Ok(Vec::new());
    }
    let cell = |stat: StatField, index: usize| -> Result<Option<f64>, ParseError> {
        match columns[stat as usize].and_then(|values| values.get(index)) {
            None => Ok(None),
            Some(value) => fields::optional_number(value, || format!("{}[{index}]", field(stat))),
        }
    };
    let mut all = Vec::with_capacity(count);
    for index in 0..count {
        let ci_99_a = cell(StatField::Ci99A, index)?;
        let ci_99_b = cell(StatField::Ci99B, index)?;
        let entry = Stats {
            ci_99: ci_99_a.zip(ci_99_b),
            q_25: cell(StatField::Q25, index)?,
            q_75: cell(StatField::Q75, index)?,
            number: cell(StatField::Number, index)?,
            repeat: cell(StatField::Repeat, index)?,
        };
        all.push((entry != Stats::default()).then_some(entry));
    }
    if all.iter().all(Option::is_none) {
        all.clear();
    }
    Ok(all)
}

/// Reads the per-combination sample lists. Returns an empty list when no
/// combination has samples.
pub(super) fn samples(
    column: Option<&[Value]>,
    count: usize,
    field: impl Fn() -> String,
) -> Result<Vec<Option<Vec<f64>>>, ParseError> {
    let Some(values) = column else {
        return Ok(Vec::new());
    };
    let mut all = Vec::with_capacity(count);
    for index in 0..count {
        let entry = match values.get(index) {
            None | Some(Value::Null) => None,
            Some(list) => Some(numbers(list, || format!("{}[{index}]", field()))?),
        };
        all.push(entry);
    }
    if all.iter().all(Option::is_none) {
        all.clear();
    }
    Ok(all)
}

fn numbers(value: &Value, field: impl Fn() -> String) -> Result<Vec<f64>, ParseError> {
    fields::array(value, &field)?
        .iter()
        .map(|item| {
            item.as_f64()
                .ok_or_else(|| fields::wrong_type(field(), "a list of numbers", item))
        })
        .collect()
}
