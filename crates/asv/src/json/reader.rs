//! A pull reader over Python-dialect JSON, for reading the large parts of a
//! document straight into typed values without building a [`Value`] tree.
//!
//! It uses the same tokenizer as [`parse`](super::parse), so `NaN`,
//! `Infinity` and `-Infinity` are read as numbers only where a value starts,
//! never inside strings. Each method reads one token of the kind its caller
//! expects and returns `None` without moving when the next token is of
//! another kind, so the caller decides what an unexpected value means.

use std::borrow::Cow;

use super::{JsonError, Parser, Syntax, Value};

/// A position in a document, moving forward one token at a time.
pub(crate) struct Reader<'a> {
    parser: Parser<'a>,
}

impl<'a> Reader<'a> {
    /// Starts reading `text` at byte offset `start`.
    pub fn new(text: &'a str, start: usize) -> Reader<'a> {
        let mut parser = Parser::new(text, Syntax::Python);
        parser.pos = start;
        Reader { parser }
    }

    /// Returns the byte offset of the next unread character.
    pub fn position(&self) -> usize {
        self.parser.pos
    }

    /// Returns the first byte of the next token, after whitespace.
    fn next_byte(&mut self) -> Result<Option<u8>, JsonError> {
        self.parser.skip_whitespace()?;
        Ok(self.parser.peek())
    }

    /// Reads `null` if it comes next.
    pub fn null(&mut self) -> Result<bool, JsonError> {
        if self.next_byte()? != Some(b'n') {
            return Ok(false);
        }
        self.parser.parse_keyword("null", Value::Null)?;
        Ok(true)
    }

    /// Reads a number, `NaN`, `Infinity` or `-Infinity` if one comes next.
    pub fn number(&mut self) -> Result<Option<f64>, JsonError> {
        let value = match self.next_byte()? {
            Some(b'-' | b'0'..=b'9') => self.parser.parse_number()?,
            Some(b'N') => self.parser.parse_special_number("NaN", f64::NAN)?,
            Some(b'I') => self.parser.parse_special_number("Infinity", f64::INFINITY)?,
            _ => return Ok(None),
        };
        Ok(value.as_f64())
    }

    /// Reads a string if one comes next.
    pub fn string(&mut self) -> Result<Option<Cow<'a, str>>, JsonError> {
        if self.next_byte()? != Some(b'"') {
            return Ok(None);
        }
        self.parser.parse_string().map(Some)
    }

    /// Reads the `[` that opens an array if it comes next. Read the elements
    /// with [`Reader::next_element`].
    pub fn begin_array(&mut self) -> Result<bool, JsonError> {
        self.begin(b'[')
    }

    /// Moves to the next element of an array: returns `true` when one
    /// follows, to be read next, and `false` after reading the closing `]`.
    /// `first` must be `true` right after [`Reader::begin_array`] only.
    pub fn next_element(&mut self, first: bool) -> Result<bool, JsonError> {
        self.next_in(first, b']', "an array element")
    }

    /// Reads the `{` that opens an object if it comes next. Read the members
    /// with [`Reader::next_key`].
    pub fn begin_object(&mut self) -> Result<bool, JsonError> {
        self.begin(b'{')
    }

    /// Reads the next member's key and the `:` after it, or the closing `}`
    /// (then returns `None`). `first` as for [`Reader::next_element`].
    pub fn next_key(&mut self, first: bool) -> Result<Option<Cow<'a, str>>, JsonError> {
        if !self.next_in(first, b'}', "an object member")? {
            return Ok(None);
        }
        let Some(key) = self.string()? else {
            return Err(self.parser.error(format!(
                "expected a key in double quotes, found {}",
                self.parser.found()
            )));
        };
        if self.next_byte()? != Some(b':') {
            return Err(self.parser.error(format!(
                "expected ':' after an object key, found {}",
                self.parser.found()
            )));
        }
        self.parser.pos += 1;
        Ok(Some(key))
    }

    /// Reads any one value, building it.
    pub fn value(&mut self) -> Result<Value<'a>, JsonError> {
        self.parser.parse_value()
    }

    fn begin(&mut self, open: u8) -> Result<bool, JsonError> {
        if self.next_byte()? != Some(open) {
            return Ok(false);
        }
        self.parser.pos += 1;
        Ok(true)
    }

    fn next_in(&mut self, first: bool, close: u8, item: &str) -> Result<bool, JsonError> {
        let next = self.next_byte()?;
        if next == Some(close) {
            self.parser.pos += 1;
            return Ok(false);
        }
        if first {
            return Ok(true);
        }
        if next == Some(b',') {
            self.parser.pos += 1;
            return Ok(true);
        }
        Err(self.parser.error(format!(
            "expected ',' or '{}' after {item}, found {}",
            close as char,
            self.parser.found()
        )))
    }
}
