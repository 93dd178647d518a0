//! Reading asv results files, schema 1 (older asv releases) and schema 2.
//!
//! The rules follow asv 0.6.6: `Results.load` for schema 2, and
//! `Results.update_to_2`, the conversion `asv update` runs, for schema 1.
//! A file that asv rejects (invalid JSON, or a key asv looks up that is
//! missing) is rejected here too. A value of the wrong type, which makes asv
//! crash or misprint, is rejected with [`ParseError::WrongType`].

mod direct;
mod v1;
mod v2;

use std::collections::BTreeMap;

use crate::fields::{self, Members};
use crate::json::{self, Syntax, Value};
use crate::{ParseError, ResultsFile};

/// Parses one results file.
///
/// # Errors
///
/// - [`ParseError::Json`] for invalid JSON.
/// - [`ParseError::NotResults`] for valid JSON without `commit_hash`,
///   `results`, `params.machine` or `version`.
/// - [`ParseError::UnsupportedVersion`] for a version other than 1 and 2.
/// - [`ParseError::MissingField`], [`ParseError::WrongType`] or
///   [`ParseError::UnknownColumn`] for a results file that asv would not load either.
pub fn parse_results(bytes: &[u8]) -> Result<ResultsFile, ParseError> {
    match direct::parse_v2(bytes) {
        Some(file) => Ok(file),
        None => parse_tree(bytes),
    }
}

/// Parses one results file through a JSON value tree. This is the reference
/// for every rule and error; `direct::parse_v2` is a faster path for the
/// schema-2 files it can read.
fn parse_tree(bytes: &[u8]) -> Result<ResultsFile, ParseError> {
    let document = json::parse(bytes, Syntax::Python)?;
    if document.as_object().is_none() {
        return Err(not_results(format!(
            "the top level is {}, not an object",
            document.kind()
        )));
    }
    let (mut file, results) = read_header(&document)?;
    let version = read_version(&document)?;
    file.schema_version = version;
    match version {
        1 => v1::read(&document, results, file),
        _ => v2::read(&document, results, file),
    }
}

fn not_results(reason: String) -> ParseError {
    ParseError::NotResults { reason }
}

fn required<'v, 'a>(document: &'v Value<'a>, key: &str) -> Result<&'v Value<'a>, ParseError> {
    document.get(key).ok_or_else(|| ParseError::MissingField {
        field: key.to_string(),
    })
}

fn read_version(document: &Value) -> Result<u32, ParseError> {
    let Some(version) = document.get("version") else {
        return Err(not_results("no `version` field".to_string()));
    };
    match version.as_f64() {
        Some(1.0) => Ok(1),
        Some(2.0) => Ok(2),
        _ => Err(ParseError::UnsupportedVersion {
            found: version.to_string(),
            supported: "1 and 2",
        }),
    }
}

/// Reads the fields both schemas share. Returns the file without benchmarks
/// and env name, and the members of `results`.
fn read_header<'v, 'a>(
    document: &'v Value<'a>,
) -> Result<(ResultsFile, Members<'v, 'a>), ParseError> {
    let commit_hash = document
        .get("commit_hash")
        .ok_or_else(|| not_results("no `commit_hash` field".to_string()))?;
    let results = document
        .get("results")
        .ok_or_else(|| not_results("no `results` field".to_string()))?;
    let params = document
        .get("params")
        .ok_or_else(|| not_results("no `params` field".to_string()))?;
    let machine = params
        .get("machine")
        .ok_or_else(|| not_results("no `params.machine` field".to_string()))?;

    let file = ResultsFile {
        machine: fields::string(machine, || "params.machine".into())?.to_string(),
        commit_hash: fields::string(commit_hash, || "commit_hash".into())?.to_string(),
        date: fields::optional_integer(required(document, "date")?, || "date".into())?,
        python: fields::optional_string(required(document, "python")?, || "python".into())?,
        requirements: fields::text_map(required(document, "requirements")?, || {
            "requirements".into()
        })?,
        env_vars: match document.get("env_vars") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(env_vars) => fields::text_map(env_vars, || "env_vars".into())?,
        },
        machine_params: fields::text_map(params, || "params".into())?,
        ..ResultsFile::default()
    };
    let results = fields::object(results, || "results".into())?;
    Ok((file, results))
}

/// Reads a top-level map of numbers, such as schema 2's `durations`.
fn number_map(value: &Value, field: &str) -> Result<BTreeMap<String, f64>, ParseError> {
    let mut map = BTreeMap::new();
    for (key, item) in fields::object(value, || field.to_string())? {
        if let Some(number) = fields::optional_number(item, || format!("{field}[{key:?}]"))? {
            map.insert(key.to_string(), number);
        }
    }
    Ok(map)
}

/// Returns the members of an object without duplicate keys: the last value
/// of a key stays at the place of its first occurrence, as in a Python `dict`
/// built from the file.
fn unique_members<'v, 'a>(members: Members<'v, 'a>) -> Vec<(&'v str, &'v Value<'a>)> {
    let mut unique: Vec<(&str, &Value)> = Vec::with_capacity(members.len());
    let mut positions = std::collections::HashMap::with_capacity(members.len());
    for (key, value) in members {
        match positions.get(key.as_ref()) {
            Some(&index) => unique[index] = (key.as_ref(), value),
            None => {
                positions.insert(key.as_ref(), unique.len());
                unique.push((key.as_ref(), value));
            }
        }
    }
    unique
}

#[cfg(test)]
mod tests;
