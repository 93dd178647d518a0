//! Typed access to JSON fields, with errors that name the field.
//!
//! Field names are passed as closures so the path string is only built when
//! a value has the wrong type.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::json::Value;
use crate::ParseError;

pub(crate) type Members<'v, 'a> = &'v [(Cow<'a, str>, Value<'a>)];

pub(crate) fn wrong_type(field: String, expected: &'static str, found: &Value) -> ParseError {
    ParseError::WrongType {
        field,
        expected,
        found: found.kind(),
    }
}

pub(crate) fn object<'v, 'a>(
    value: &'v Value<'a>,
    field: impl FnOnce() -> String,
) -> Result<Members<'v, 'a>, ParseError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(field(), "an object", value))
}

pub(crate) fn array<'v, 'a>(
    value: &'v Value<'a>,
    field: impl FnOnce() -> String,
) -> Result<&'v [Value<'a>], ParseError> {
    value
        .as_array()
        .ok_or_else(|| wrong_type(field(), "an array", value))
}

pub(crate) fn string<'v>(
    value: &'v Value,
    field: impl FnOnce() -> String,
) -> Result<&'v str, ParseError> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(field(), "a string", value))
}

pub(crate) fn optional_string(
    value: &Value,
    field: impl FnOnce() -> String,
) -> Result<Option<String>, ParseError> {
    match value {
        Value::Null => Ok(None),
        other => string(other, field).map(|text| Some(text.to_string())),
    }
}

pub(crate) fn optional_number(
    value: &Value,
    field: impl FnOnce() -> String,
) -> Result<Option<f64>, ParseError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => Ok(Some(number.value)),
        other => Err(wrong_type(field(), "a number or null", other)),
    }
}

/// Reads a whole number such as a timestamp in milliseconds. A fraction is
/// cut off, because asv writes these as integers and Python would keep them exact.
pub(crate) fn optional_integer(
    value: &Value,
    field: impl FnOnce() -> String,
) -> Result<Option<i64>, ParseError> {
    Ok(optional_number(value, field)?.map(|number| number as i64))
}

/// Reads a list of parameter lists: `[["1", "2"], ["'a'"]]`.
pub(crate) fn string_lists(
    value: &Value,
    field: impl Fn() -> String,
) -> Result<Vec<Vec<String>>, ParseError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    array(value, &field)?
        .iter()
        .enumerate()
        .map(|(index, list)| {
            array(list, || format!("{}[{index}]", field()))?
                .iter()
                .map(|item| {
                    string(item, || format!("{}[{index}][..]", field())).map(str::to_string)
                })
                .collect()
        })
        .collect()
}

/// Reads a list of strings, such as `param_names`.
pub(crate) fn strings(
    value: &Value,
    field: impl Fn() -> String,
) -> Result<Vec<String>, ParseError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    array(value, &field)?
        .iter()
        .enumerate()
        .map(|(index, item)| string(item, || format!("{}[{index}]", field())).map(str::to_string))
        .collect()
}

/// Reads a free-form object into text values: numbers as written, strings
/// without quotes; null members are left out.
pub(crate) fn text_map(
    value: &Value,
    field: impl FnOnce() -> String,
) -> Result<BTreeMap<String, String>, ParseError> {
    Ok(object(value, field)?
        .iter()
        .filter_map(|(key, item)| Some((key.to_string(), item.to_text()?)))
        .collect())
}
