//! A JSON parser for the dialects asv writes and reads.
//!
//! asv writes results with Python's `json` module, which emits the bare
//! tokens `NaN`, `Infinity` and `-Infinity` that strict JSON forbids. They are
//! recognised here as tokens, so a string such as `"Infinity"` inside a
//! parameter repr stays a string. `asv.conf.json` is read by asv 0.6 with the
//! `json5` package; [`Syntax::Config`] accepts the parts of JSON5 that config
//! files use in practice: `//` and `/* */` comments and trailing commas.
//!
//! Strings without escapes and number texts borrow from the input, so parsing
//! allocates only for arrays, objects and escaped strings. For the large
//! part of a document, [`parse_skipping`] leaves one top-level member
//! unbuilt, and a [`Reader`] then reads it token by token into typed values.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

mod reader;

pub(crate) use reader::Reader;

/// Nesting depth past which parsing stops, so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 512;

/// The set of JSON extensions the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// JSON plus `NaN`, `Infinity` and `-Infinity`, as Python's `json.loads` reads it.
    Python,
    /// [`Syntax::Python`] plus `//` and `/* */` comments, trailing commas and a
    /// leading byte order mark.
    Config,
}

/// A parsed JSON value. Objects keep their keys in file order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(Number<'a>),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// A JSON number: its value and the text it was written as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number<'a> {
    pub value: f64,
    /// The token as written, such as `344`, `1.5e-05` or `-Infinity`.
    pub text: &'a str,
}

impl Number<'_> {
    /// Returns whether Python's `json` module reads this number as an `int`:
    /// no fraction, no exponent, and not `NaN` or `Infinity`.
    pub fn is_integer(&self) -> bool {
        !self
            .text
            .bytes()
            .any(|byte| matches!(byte, b'.' | b'e' | b'E' | b'N' | b'I'))
    }
}

impl<'a> Value<'a> {
    /// Looks up `key` in an object. Like Python's `dict`, the last of
    /// duplicate keys wins. Returns `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(entries) => entries
                .iter()
                .rev()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(number) => Some(number.value),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Value<'a>)]> {
        match self {
            Value::Object(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Names the kind of value for error messages, with its article.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// Renders a scalar as plain text: a string without quotes, a number as
    /// written, a boolean as `true`/`false`; arrays and objects as compact JSON.
    /// Returns `None` for null.
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::String(text) => Some(text.to_string()),
            other => Some(other.to_string()),
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Writes the value as compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(flag) => write!(f, "{flag}"),
            Value::Number(number) => f.write_str(number.text),
            Value::String(text) => write_quoted(f, text),
            Value::Array(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Object(entries) => {
                f.write_str("{")?;
                for (index, (key, item)) in entries.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write_quoted(f, key)?;
                    write!(f, ": {item}")?;
                }
                f.write_str("}")
            }
        }
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for character in text.chars() {
        match character {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A syntax error, with the 1-based line and column (in characters) where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses one JSON document. Text after the value other than whitespace
/// (and comments, with [`Syntax::Config`]) is an error.
pub fn parse(bytes: &[u8], syntax: Syntax) -> Result<Value<'_>, JsonError> {
    let text = utf8(bytes)?;
    let mut parser = Parser::new(text, syntax);
    parser.parse_document()
}

/// A document parsed by [`parse_skipping`].
pub(crate) struct Skimmed<'a> {
    pub text: &'a str,
    /// The document, with an empty object in place of the skipped member's value.
    pub document: Value<'a>,
    /// Where the skipped value is in `text`, for the last member with that
    /// key, as [`Value::get`] would pick it. `None` when there is none.
    pub skipped: Option<Range<usize>>,
}

/// Parses a Python-dialect document whose top level is an object, without
/// building the value of its member `key`, which the caller reads with a
/// [`Reader`]. The skipped value must be an array or an object. It is only
/// matched up by brackets here, so it is checked when the caller reads it.
pub(crate) fn parse_skipping<'a>(bytes: &'a [u8], key: &'static str) -> Result<Skimmed<'a>, JsonError> {
    let text = utf8(bytes)?;
    let mut parser = Parser::new(text, Syntax::Python);
    parser.skip_key = Some(key);
    let document = parser.parse_document()?;
    Ok(Skimmed {
        text,
        document,
        skipped: parser.skipped,
    })
}

fn utf8(bytes: &[u8]) -> Result<&str, JsonError> {
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        // The prefix is valid UTF-8 by construction.
        let prefix = std::str::from_utf8(valid).unwrap_or_default();
        error_at(prefix, prefix.len(), "invalid UTF-8".to_string())
    })
}

fn error_at(text: &str, pos: usize, message: String) -> JsonError {
    let before = &text[..pos];
    let line = before.bytes().filter(|&byte| byte == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    JsonError {
        line,
        column,
        message,
    }
}

/// Exact powers of ten: every one up to 1e22 is representable in an `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The decimal digits of a number, gathered while its grammar is checked.
#[derive(Default)]
struct Digits {
    mantissa: u64,
    /// Digits in `mantissa`, from the first non-zero one.
    significant: u32,
    /// Digits after the decimal point.
    fraction: i64,
}

impl Digits {
    fn push(&mut self, digit: u8, fraction: bool) {
        if self.significant < 19 {
            self.mantissa = self.mantissa * 10 + u64::from(digit);
            if self.mantissa != 0 {
                self.significant += 1;
            }
        } else {
            // Too many digits for a u64: mark the fast path as unusable.
            self.significant = u32::MAX;
        }
        if fraction {
            self.fraction += 1;
        }
    }

    /// Returns the value when one exact multiplication or division gives it,
    /// which IEEE 754 then rounds correctly (Clinger's fast path): a
    /// mantissa below 2^53 and a power of ten up to 1e22. Other numbers go
    /// through `f64::from_str`.
    fn fast_value(&self, exponent: i64) -> Option<f64> {
        if self.significant > 19 || self.mantissa > 1 << 53 {
            return None;
        }
        let power = exponent - self.fraction;
        let mantissa = self.mantissa as f64;
        let scale = *POWERS_OF_TEN.get(usize::try_from(power.unsigned_abs()).ok()?)?;
        Some(if power < 0 {
            mantissa / scale
        } else {
            mantissa * scale
        })
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    syntax: Syntax,
    depth: usize,
    /// Elements of the arrays being parsed, innermost last. Each array is
    /// moved out into a vector of exactly its length when it closes, so an
    /// array costs one allocation however long it grows.
    items: Vec<Value<'a>>,
    /// The same for the members of the objects being parsed.
    members: Vec<(Cow<'a, str>, Value<'a>)>,
    /// The key of the top-level member whose value `parse_skipping` skips.
    skip_key: Option<&'static str>,
    /// Where the last skipped value is.
    skipped: Option<Range<usize>>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, syntax: Syntax) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            syntax,
            depth: 0,
            items: Vec::new(),
            members: Vec::new(),
            skip_key: None,
            skipped: None,
        }
    }

    /// Parses the whole text as one value. Text after the value other than
    /// whitespace (and comments, with [`Syntax::Config`]) is an error.
    fn parse_document(&mut self) -> Result<Value<'a>, JsonError> {
        if self.text.starts_with('\u{feff}') {
            if self.syntax == Syntax::Python {
                return Err(self.error("unexpected byte order mark (BOM) before the JSON value"));
            }
            self.pos = '\u{feff}'.len_utf8();
        }
        let value = self.parse_value()?;
        self.skip_whitespace()?;
        if self.pos < self.bytes.len() {
            return Err(self.error("unexpected text after the JSON value"));
        }
        Ok(value)
    }

    fn error(&self, message: impl Into<String>) -> JsonError {
        // Errors are raised at character boundaries, but stay safe if not.
        let mut pos = self.pos.min(self.text.len());
        while !self.text.is_char_boundary(pos) {
            pos -= 1;
        }
        error_at(self.text, pos, message.into())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Describes the next character for "expected X, found Y" messages.
    fn found(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "the end of the input".to_string(),
            Some(character) => format!("{character:?}"),
        }
    }

    fn skip_whitespace(&mut self) -> Result<(), JsonError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.syntax == Syntax::Config => self.skip_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_comment(&mut self) -> Result<(), JsonError> {
        match self.bytes.get(self.pos + 1) {
            Some(b'/') => {
                let rest = &self.bytes[self.pos..];
                self.pos += rest
                    .iter()
                    .position(|&byte| byte == b'\n')
                    .unwrap_or(rest.len());
                Ok(())
            }
            Some(b'*') => match self.text[self.pos + 2..].find("*/") {
                Some(end) => {
                    self.pos += 2 + end + 2;
                    Ok(())
                }
                None => Err(self.error("unterminated /* comment")),
            },
            _ => Err(self.error("expected a value, found '/'")),
        }
    }

    fn parse_value(&mut self) -> Result<Value<'a>, JsonError> {
        self.skip_whitespace()?;
        match self.peek() {
            Some(b'{') => self.nested(Self::parse_object),
            Some(b'[') => self.nested(Self::parse_array),
            Some(b'"') => self.parse_string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            Some(b'N') => self.parse_special_number("NaN", f64::NAN),
            Some(b'I') => self.parse_special_number("Infinity", f64::INFINITY),
            Some(b't') => self.parse_keyword("true", Value::Bool(true)),
            Some(b'f') => self.parse_keyword("false", Value::Bool(false)),
            Some(b'n') => self.parse_keyword("null", Value::Null),
            _ => Err(self.error(format!("expected a value, found {}", self.found()))),
        }
    }

    fn nested(
        &mut self,
        parse: fn(&mut Self) -> Result<Value<'a>, JsonError>,
    ) -> Result<Value<'a>, JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!(
                "arrays and objects nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth += 1;
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn parse_keyword(&mut self, word: &str, value: Value<'a>) -> Result<Value<'a>, JsonError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(format!("expected a value, found {}", self.found())))
        }
    }

    fn parse_special_number(&mut self, word: &str, value: f64) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        self.parse_keyword(word, Value::Null)?;
        Ok(Value::Number(Number {
            value,
            text: &self.text[start..self.pos],
        }))
    }

    fn parse_array(&mut self) -> Result<Value<'a>, JsonError> {
        self.pos += 1; // '['
        let start = self.items.len();
        self.skip_whitespace()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(Vec::new()));
        }
        loop {
            let item = self.parse_value()?;
            self.items.push(item);
            self.skip_whitespace()?;
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if self.syntax == Syntax::Config {
                        self.skip_whitespace()?;
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            break;
                        }
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or ']' after an array element, found {}",
                        self.found()
                    )))
                }
            }
        }
        Ok(Value::Array(self.items.split_off(start)))
    }

    fn parse_object(&mut self) -> Result<Value<'a>, JsonError> {
        self.pos += 1; // '{'
        let start = self.members.len();
        self.skip_whitespace()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(Vec::new()));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error(format!(
                    "expected a key in double quotes, found {}",
                    self.found()
                )));
            }
            let key = self.parse_string()?;
            self.skip_whitespace()?;
            if self.peek() != Some(b':') {
                return Err(self.error(format!(
                    "expected ':' after an object key, found {}",
                    self.found()
                )));
            }
            self.pos += 1;
            // Depth 1 is the top-level object.
            let value = match self.skip_key {
                Some(skip) if self.depth == 1 && key == skip => self.skip_nested_value()?,
                _ => self.parse_value()?,
            };
            self.members.push((key, value));
            self.skip_whitespace()?;
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace()?;
                    if self.syntax == Syntax::Config && self.peek() == Some(b'}') {
                        self.pos += 1;
                        break;
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.error(format!(
                        "expected ',' or '}}' after an object member, found {}",
                        self.found()
                    )))
                }
            }
        }
        Ok(Value::Object(self.members.split_off(start)))
    }

    /// Moves past an array or object by matching its brackets, checking
    /// only its strings, and records where it is in `skipped`. Returns the
    /// placeholder that stands for it in the document.
    fn skip_nested_value(&mut self) -> Result<Value<'a>, JsonError> {
        self.skip_whitespace()?;
        let start = self.pos;
        if !matches!(self.peek(), Some(b'[' | b'{')) {
            return Err(self.error(format!("expected an array or an object, found {}", self.found())));
        }
        let mut open = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated array or object")),
                Some(b'"') => {
                    self.parse_string()?;
                    continue;
                }
                Some(b'[' | b'{') => open += 1,
                Some(b']' | b'}') => open -= 1,
                Some(_) => {}
            }
            self.pos += 1;
            if open == 0 {
                break;
            }
        }
        self.skipped = Some(start..self.pos);
        Ok(Value::Object(Vec::new()))
    }

    /// Parses the grammar `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`,
    /// or `-Infinity`.
    fn parse_number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
            if self.peek() == Some(b'I') {
                self.parse_keyword("Infinity", Value::Null)?;
                return Ok(Value::Number(Number {
                    value: f64::NEG_INFINITY,
                    text: &self.text[start..self.pos],
                }));
            }
        }
        let mut digits = Digits::default();
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.scan_digits(&mut digits, false),
            _ => return Err(self.error("invalid number: expected a digit after '-'")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: expected a digit after '.'"));
            }
            self.scan_digits(&mut digits, true);
        }
        let mut exponent: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            let exponent_negative = self.peek() == Some(b'-');
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: expected a digit in the exponent"));
            }
            while let Some(digit @ b'0'..=b'9') = self.peek() {
                exponent = (exponent * 10 + i64::from(digit - b'0')).min(1_000_000);
                self.pos += 1;
            }
            if exponent_negative {
                exponent = -exponent;
            }
        }
        let text = &self.text[start..self.pos];
        let value = match digits.fast_value(exponent) {
            Some(magnitude) if negative => -magnitude,
            Some(magnitude) => magnitude,
            // The grammar above only lets through texts that `f64::from_str` accepts.
            None => text
                .parse::<f64>()
                .map_err(|_| self.error(format!("invalid number {text:?}")))?,
        };
        Ok(Value::Number(Number { value, text }))
    }

    /// Scans a run of digits into `digits`.
    fn scan_digits(&mut self, digits: &mut Digits, fraction: bool) {
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            digits.push(digit - b'0', fraction);
            self.pos += 1;
        }
    }

    fn parse_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1; // '"'
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    let text = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(text));
                }
                Some(b'\\') => return self.parse_escaped_string(start).map(Cow::Owned),
                Some(byte) if byte < 0x20 => {
                    return Err(self.error("control character in a string: escape it"))
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Continues a string from its first backslash, building an owned copy.
    fn parse_escaped_string(&mut self, start: usize) -> Result<String, JsonError> {
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        loop {
            let run_start = self.pos;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.parse_escape(&mut out)?;
                }
                Some(_) => return Err(self.error("control character in a string: escape it")),
            }
        }
    }

    fn parse_escape(&mut self, out: &mut String) -> Result<(), JsonError> {
        let escaped = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                out.push(self.parse_unicode_escape()?);
                return Ok(());
            }
            _ => {
                return Err(self.error(format!(
                    "invalid escape sequence: backslash followed by {}",
                    self.found()
                )))
            }
        };
        self.pos += 1;
        out.push(escaped);
        Ok(())
    }

    /// Parses the hex digits of `\uXXXX`, joining a surrogate pair when one
    /// follows. A lone surrogate, which Python keeps but Rust strings cannot
    /// hold, becomes U+FFFD.
    fn parse_unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.parse_hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.bytes[self.pos..].starts_with(b"\\u") {
            let saved = self.pos;
            self.pos += 2;
            let second = self.parse_hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = saved;
        }
        Ok(char::from_u32(first).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    fn parse_hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|digits| digits.bytes().all(|byte| byte.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape: expected 4 hex digits"))?;
        let code = u32::from_str_radix(digits, 16)
            .map_err(|_| self.error("invalid \\u escape: expected 4 hex digits"))?;
        self.pos += 4;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn parse_ok(text: &str, syntax: Syntax) -> Value<'_> {
        match parse(text.as_bytes(), syntax) {
            Ok(value) => value,
            Err(error) => panic!("{text:?} should parse: {error}"),
        }
    }

    #[test]
    fn python_tokens_are_numbers() {
        let value = parse_ok("[NaN, Infinity, -Infinity, 1]", Syntax::Python);

        let items = value.as_array().expect("an array");
        assert!(items[0].as_f64().expect("a number").is_nan());
        assert_eq!(items[1].as_f64(), Some(f64::INFINITY));
        assert_eq!(items[2].as_f64(), Some(f64::NEG_INFINITY));
        assert_eq!(items[3].as_f64(), Some(1.0));
    }

    #[test]
    fn python_token_names_inside_strings_stay_strings() {
        let value = parse_ok(
            r#"["Infinity", "'Infinity'", "NaN", "-Infinity"]"#,
            Syntax::Python,
        );

        let texts: Vec<_> = value
            .as_array()
            .expect("an array")
            .iter()
            .map(|item| item.as_str().expect("a string"))
            .collect();
        assert_eq!(texts, ["Infinity", "'Infinity'", "NaN", "-Infinity"]);
    }

    #[test]
    fn object_keeps_key_order_and_last_duplicate_wins() {
        let value = parse_ok(r#"{"b": 1, "a": 2, "b": 3}"#, Syntax::Python);

        let keys: Vec<_> = value
            .as_object()
            .expect("an object")
            .iter()
            .map(|(key, _)| key.as_ref())
            .collect();
        assert_eq!(keys, ["b", "a", "b"]);
        assert_eq!(value.get("b").and_then(Value::as_f64), Some(3.0));
    }

    #[test]
    fn escapes_decode() {
        let value = parse_ok(r#""a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800""#, Syntax::Python);

        assert_eq!(value.as_str(), Some("a\"b\\c/d\né😀\u{fffd}"));
    }

    #[test]
    fn number_keeps_its_text() {
        let value = parse_ok("[344, 1.5e-05, 8589934592, -0.0]", Syntax::Python);

        let items = value.as_array().expect("an array");
        let Value::Number(first) = items[0] else {
            panic!("a number")
        };
        let Value::Number(second) = items[1] else {
            panic!("a number")
        };
        assert_eq!(first.text, "344");
        assert!(first.is_integer());
        assert_eq!(second.text, "1.5e-05");
        assert!(!second.is_integer());
        assert_eq!(items[2].to_text().as_deref(), Some("8589934592"));
    }

    #[test]
    fn numbers_match_the_standard_library() {
        // A fixed pseudo-random walk over mantissas and exponents, so the
        // fast path and the fallback are both compared with `f64::from_str`.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut texts = vec![
            "0".to_string(),
            "-0".to_string(),
            "9007199254740993".to_string(),
            "0.1".to_string(),
            "1e22".to_string(),
            "1e23".to_string(),
            "123456789012345678901234567890".to_string(),
            "2.2250738585072014e-308".to_string(),
            "1e-400".to_string(),
            "1e400".to_string(),
        ];
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let mantissa = state >> (state % 40);
            let exponent = (state >> 50) as i64 % 60 - 30;
            let point = (state >> 8) % 20;
            let digits = mantissa.to_string();
            let split = (point as usize).min(digits.len() - 1);
            texts.push(format!(
                "{}.{}0e{exponent}",
                &digits[..=split],
                &digits[split + 1..]
            ));
            texts.push(format!("-{digits}"));
        }

        for text in &texts {
            let parsed = parse_ok(text, Syntax::Python).as_f64().expect("a number");

            let expected: f64 = text.parse().expect("valid for from_str");
            assert_eq!(parsed.to_bits(), expected.to_bits(), "value of {text}");
        }
    }

    #[test]
    fn config_accepts_comments_and_trailing_commas() {
        let text = "\u{feff}{\n  // a comment with \"quotes\"\n  \"a\": [1, 2,], /* block */\n  \"url\": \"http://x//y\", // after a value\n}\n// end";

        let value = parse_ok(text, Syntax::Config);

        assert_eq!(
            value.get("a").and_then(Value::as_array).map(<[_]>::len),
            Some(2)
        );
        assert_eq!(
            value.get("url").and_then(Value::as_str),
            Some("http://x//y")
        );
    }

    #[test]
    fn bad_input_reports_line_and_column() {
        let cases: &[(&str, Syntax, usize, usize, &str)] = &[
            (
                "{\n    This file",
                Syntax::Python,
                2,
                5,
                "a key in double quotes",
            ),
            ("[1, 2", Syntax::Python, 1, 6, "the end of the input"),
            ("[1, 2,]", Syntax::Python, 1, 7, "expected a value"),
            (
                "{\"a\": 1,}",
                Syntax::Python,
                1,
                9,
                "a key in double quotes",
            ),
            ("// comment\n{}", Syntax::Python, 1, 1, "expected a value"),
            ("nan", Syntax::Python, 1, 1, "expected a value"),
            ("-NaN", Syntax::Python, 1, 2, "digit after '-'"),
            ("01", Syntax::Python, 1, 2, "after the JSON value"),
            ("1.", Syntax::Python, 1, 3, "digit after '.'"),
            ("1e+", Syntax::Python, 1, 4, "exponent"),
            ("\"tab\there\"", Syntax::Python, 1, 5, "control character"),
            ("\"\\x\"", Syntax::Python, 1, 3, "invalid escape"),
            ("\"\\u12\"", Syntax::Python, 1, 4, "4 hex digits"),
            ("\"é", Syntax::Python, 1, 3, "unterminated string"),
            ("{\"a\" 1}", Syntax::Python, 1, 6, "expected ':'"),
            ("[1 2]", Syntax::Python, 1, 4, "expected ',' or ']'"),
            ("{} {}", Syntax::Python, 1, 4, "after the JSON value"),
            ("\u{feff}{}", Syntax::Python, 1, 1, "byte order mark"),
            ("{/* open", Syntax::Config, 1, 2, "unterminated /* comment"),
            ("", Syntax::Python, 1, 1, "the end of the input"),
        ];

        for &(text, syntax, line, column, message) in cases {
            let error =
                parse(text.as_bytes(), syntax).expect_err(&format!("{text:?} should be rejected"));

            assert_eq!(
                (error.line, error.column),
                (line, column),
                "position for {text:?}: {error}"
            );
            assert!(
                error.message.contains(message),
                "message for {text:?}: {error}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_rejected_with_position() {
        let bytes = b"{\n  \"a\": \"\xff\"}";

        let error = parse(bytes, Syntax::Python).expect_err("invalid UTF-8");

        assert_eq!((error.line, error.column), (2, 9));
        assert!(error.message.contains("UTF-8"));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = "[".repeat(MAX_DEPTH + 1);

        let error = parse(text.as_bytes(), Syntax::Python).expect_err("too deep");

        assert!(error.message.contains("nested deeper"), "{error}");
    }

    #[test]
    fn display_writes_compact_json() {
        let value = parse_ok(r#"{"a": [1, "x\"y", null, true], "b": {}}"#, Syntax::Python);

        assert_eq!(
            value.to_string(),
            r#"{"a": [1, "x\"y", null, true], "b": {}}"#
        );
    }
}
