//! Schema 1: one value or object per benchmark, maps beside `results`.
//!
//! asv 0.6 loads schema-1 files only after `asv update` converts them with
//! `Results.update_to_2`. This module applies that conversion's rules, so a
//! schema-1 file reads as asv shows it after the update.

use std::collections::BTreeMap;

use crate::fields::{self, Members};
use crate::json::{Number, Value};
use crate::{BenchmarkResult, Outcome, ParseError, ResultsFile, Stats};

use super::v2;

/// Maps that schema 1 keeps beside `results`, keyed by benchmark name.
struct SideMaps<'v, 'a> {
    versions: Option<Members<'v, 'a>>,
    started_at: Option<Members<'v, 'a>>,
    durations: Option<Members<'v, 'a>>,
}

pub(super) fn read(
    document: &Value,
    results: Members,
    mut file: ResultsFile,
) -> Result<ResultsFile, ParseError> {
    file.env_name = match document.get("env_name") {
        Some(name) => fields::string(name, || "env_name".into())?.to_string(),
        None => rebuild_env_name(
            file.python.as_deref(),
            super::required(document, "requirements")?,
        )?,
    };
    let side = SideMaps {
        versions: side_map(document.get("benchmark_version"), "benchmark_version")?,
        started_at: side_map(document.get("started_at"), "started_at")?,
        durations: side_map(document.get("duration"), "duration")?,
    };
    // Setup durations such as `<build>` share the `duration` map with the
    // benchmarks; asv moves the keys starting with `<` to `durations`.
    for (key, value) in side.durations.unwrap_or_default() {
        if key.starts_with('<') {
            if let Some(number) = fields::optional_number(value, || format!("duration[{key:?}]"))? {
                file.durations.insert(key.to_string(), number);
            }
        }
    }

    // asv writes the converted rows sorted by name; a BTreeMap also keeps
    // the last of duplicate names, as a Python dict does.
    let entries: BTreeMap<&str, &Value> = results
        .iter()
        .map(|(name, value)| (name.as_ref(), value))
        .collect();
    file.benchmarks = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let mut benchmark = read_entry(name, value)?;
        add_side_values(&mut benchmark, &side)?;
        file.benchmarks.push(benchmark);
    }
    Ok(file)
}

/// Returns the members of an optional map. Early files may hold a number
/// here instead of a map; it names no benchmark, so it is ignored.
fn side_map<'v, 'a>(
    value: Option<&'v Value<'a>>,
    field: &str,
) -> Result<Option<Members<'v, 'a>>, ParseError> {
    match value {
        None | Some(Value::Null | Value::Number(_)) => Ok(None),
        Some(other) => fields::object(other, || field.to_string()).map(Some),
    }
}

fn lookup<'v, 'a>(map: Option<Members<'v, 'a>>, name: &str) -> Option<&'v Value<'a>> {
    map?.iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn add_side_values(benchmark: &mut BenchmarkResult, side: &SideMaps) -> Result<(), ParseError> {
    let name = benchmark.name.as_str();
    if let Some(version) = lookup(side.versions, name) {
        benchmark.version =
            fields::optional_string(version, || format!("benchmark_version[{name:?}]"))?;
    }
    if let Some(started_at) = lookup(side.started_at, name) {
        benchmark.started_at =
            fields::optional_integer(started_at, || format!("started_at[{name:?}]"))?;
    }
    if let Some(duration) = lookup(side.durations, name) {
        benchmark.duration = truncated(duration, || format!("duration[{name:?}]"))?;
    }
    Ok(())
}

/// Reads one entry of `results`, in any of the shapes schema 1 allows.
fn read_entry(name: &str, value: &Value) -> Result<BenchmarkResult, ParseError> {
    let field = |key: &str| format!("results[{name:?}].{key}");
    match value {
        Value::Object(_) => {
            let result = value
                .get("result")
                .ok_or_else(|| ParseError::MissingField {
                    field: field("result"),
                })?;
            let params = match value.get("params") {
                None => Vec::new(),
                Some(params) => fields::string_lists(params, || field("params"))?,
            };
            let mut benchmark = BenchmarkResult {
                name: name.to_string(),
                params,
                ..BenchmarkResult::default()
            };
            let count = v2::combination_count(&benchmark, || field("params"))?;
            benchmark.outcomes = outcomes(result, count, || field("result"))?;
            benchmark.stats = stats(value.get("stats"), count, || field("stats"))?;
            let samples = match value.get("samples") {
                None | Some(Value::Null) => None,
                Some(samples) => Some(fields::array(samples, || field("samples"))?),
            };
            benchmark.samples = v2::samples(samples, count, || field("samples"))?;
            Ok(benchmark)
        }
        // A list here is read as a schema-2 row such as `[[1.0], []]`, the
        // form asv's own compare tests write into converted files. NOTE:
        // asv 0.6.6 itself, given such a list in an unconverted schema-1
        // file, keeps the whole list as one value and prints a broken table.
        Value::Array(cells) => v2::read_row(name, cells, &v2::ASV_COLUMNS),
        scalar => Ok(BenchmarkResult {
            name: name.to_string(),
            outcomes: vec![v2::outcome(scalar, || format!("results[{name:?}]"))?],
            ..BenchmarkResult::default()
        }),
    }
}

/// Reads `result`: a list over the combinations, or one value that asv wraps in a list.
fn outcomes(
    result: &Value,
    count: usize,
    field: impl Fn() -> String,
) -> Result<Vec<Outcome>, ParseError> {
    let values = match result {
        Value::Array(values) => values.as_slice(),
        scalar => std::slice::from_ref(scalar),
    };
    (0..count)
        .map(|index| match values.get(index) {
            None => Ok(Outcome::Failed),
            Some(value) => v2::outcome(value, || format!("{}[{index}]", field())),
        })
        .collect()
}

/// Converts schema-1 `stats` (a list of dicts, or one dict) into the
/// schema-2 statistics asv derives from it. `ci_99` becomes `ci_99_a` and
/// `ci_99_b`, and `q_25`, `q_75`, `number` and `repeat` keep their names.
/// asv drops the other keys (`min`, `max`, `mean`, `std`, ...), and so does this.
fn stats(
    value: Option<&Value>,
    count: usize,
    field: impl Fn() -> String,
) -> Result<Vec<Option<Stats>>, ParseError> {
    let entries = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(entry) => std::slice::from_ref(entry),
    };
    let mut all = Vec::with_capacity(count);
    for index in 0..count {
        let entry = match entries.get(index) {
            None | Some(Value::Null) => None,
            Some(entry) => stats_entry(entry, || format!("{}[{index}]", field()))?,
        };
        all.push(entry);
    }
    if all.iter().all(Option::is_none) {
        all.clear();
    }
    Ok(all)
}

fn stats_entry(entry: &Value, field: impl Fn() -> String) -> Result<Option<Stats>, ParseError> {
    fields::object(entry, &field)?;
    // asv indexes `ci_99` without a default, so a stats dict without it
    // makes asv reject the whole file.
    let ci_99 = entry.get("ci_99").ok_or_else(|| ParseError::MissingField {
        field: format!("{}.ci_99", field()),
    })?;
    let bounds = match ci_99.as_array() {
        Some([low, high, ..]) => (
            truncated(low, || format!("{}.ci_99[0]", field()))?,
            truncated(high, || format!("{}.ci_99[1]", field()))?,
        ),
        _ => {
            return Err(fields::wrong_type(
                format!("{}.ci_99", field()),
                "a list of two numbers",
                ci_99,
            ))
        }
    };
    let optional = |key: &str| match entry.get(key) {
        None => Ok(None),
        Some(value) => truncated(value, || format!("{}.{key}", field())),
    };
    let stats = Stats {
        ci_99: bounds.0.zip(bounds.1),
        q_25: optional("q_25")?,
        q_75: optional("q_75")?,
        number: optional("number")?,
        repeat: optional("repeat")?,
    };
    Ok((stats != Stats::default()).then_some(stats))
}

/// Reads a number the way `asv update` stores it: a float is rounded to 5
/// significant digits (asv's `truncate_float_list`, applied to the stats
/// and duration columns), an integer is kept exact.
fn truncated(value: &Value, field: impl FnOnce() -> String) -> Result<Option<f64>, ParseError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => Ok(Some(round_like_asv_update(number))),
        other => Err(fields::wrong_type(field(), "a number or null", other)),
    }
}

fn round_like_asv_update(number: &Number) -> f64 {
    if number.is_integer() || !number.value.is_finite() {
        return number.value;
    }
    // Python's '{:.4e}' and Rust's `{:.4e}` both round the exact binary
    // value half to even, so this matches `float('{:.4e}'.format(x))`.
    format!("{:.4e}", number.value)
        .parse()
        .unwrap_or(number.value)
}

/// Rebuilds the name asv gives the environment of a schema-1 file without
/// `env_name`, as `asv.environment.get_env_name` does with no tool name and
/// no environment variables. The parts are `py{python}` and then each
/// requirement, sorted by name, as `{name}{version}` (the bare name when the
/// version is null or empty). They are joined with `-`, and characters that
/// are unsafe in file names are replaced.
fn rebuild_env_name(python: Option<&str>, requirements: &Value) -> Result<String, ParseError> {
    let mut sorted: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for (name, version) in requirements.as_object().unwrap_or_default() {
        let version = match version {
            Value::Null => None,
            other => Some(fields::string(other, || format!("requirements[{name:?}]"))?),
        };
        sorted.insert(name, version);
    }

    // Python formats a null `python` as "None".
    let mut parts = vec![format!("py{}", python.unwrap_or("None"))];
    for (name, version) in sorted {
        parts.push(format!("{name}{}", version.unwrap_or_default()));
    }
    Ok(sanitize_file_name(&parts.join("-")))
}

/// Replaces the characters asv's `sanitize_filename` replaces:
/// `< > : " / ^ | ? *` and control characters. (asv also appends `_` to
/// Windows device names such as `CON`, which a name starting with `py`
/// never is.)
fn sanitize_file_name(name: &str) -> String {
    name.chars()
        .map(|character| match character {
            '<' | '>' | ':' | '"' | '/' | '^' | '|' | '?' | '*' | '\u{0}'..='\u{1f}' => '_',
            other => other,
        })
        .collect()
}
