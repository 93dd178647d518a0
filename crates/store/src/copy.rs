//! Encoding result rows in PostgreSQL's binary `COPY` format, and reading
//! rows back from it.
//!
//! Binary rather than text because it sends each float as its 8 bytes: no
//! decimal formatting in pitot, no parsing in the server, and an exact round
//! trip for every value including NaN and the infinities. The format is
//! described in the PostgreSQL manual, "COPY", section "Binary Format".
//!
//! Reading with `COPY ... TO STDOUT` serves the one query that returns
//! tens of thousands of rows to a request: a series' whole history. The
//! rows arrive as one byte stream that is cut into fields here, which costs
//! pitot less than decoding each row as a query result.

use chrono::{DateTime, Utc};
use pitot_asv::{Outcome, Stats};

/// The `COPY` statement whose column order `ResultRow` encodes.
pub(crate) const COPY_RESULTS: &str = "COPY results (run_id, series_id, commit_id, committed_at, \
     value, ci_99_low, ci_99_high, q_25, q_75, number, repeat, \
     benchmark_id, combination, version_id, outcome, samples) FROM STDIN (FORMAT binary)";
const RESULT_FIELD_COUNT: i16 = 16;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const FLOAT8_OID: u32 = 701;
/// Seconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 UTC.
const POSTGRES_EPOCH_OFFSET_SECONDS: i64 = 946_684_800;

/// One row of `results`, borrowing its stats and samples from the parsed file.
pub(crate) struct ResultRow<'a> {
    pub run_id: i64,
    pub series_id: i64,
    pub commit_id: i64,
    pub committed_at: Option<DateTime<Utc>>,
    pub benchmark_id: i32,
    pub combination: i32,
    pub version_id: Option<i32>,
    pub outcome: Outcome,
    pub stats: Option<&'a Stats>,
    pub samples: Option<&'a [f64]>,
}

/// A growing `COPY ... (FORMAT binary)` payload.
pub(crate) struct CopyBuffer {
    bytes: Vec<u8>,
}

impl CopyBuffer {
    /// Starts a payload with the binary format's header.
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(64 * 1024);
        bytes.extend_from_slice(SIGNATURE);
        bytes.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        bytes.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyBuffer { bytes }
    }

    /// Appends one row in `COPY_RESULTS` column order.
    pub fn push_result(&mut self, row: &ResultRow<'_>) {
        let stats = row.stats.copied().unwrap_or_default();
        let (ci_low, ci_high) = stats.ci_99.unzip();

        self.bytes.extend_from_slice(&RESULT_FIELD_COUNT.to_be_bytes());
        self.int8(Some(row.run_id));
        self.int8(Some(row.series_id));
        self.int8(Some(row.commit_id));
        self.int8(row.committed_at.map(postgres_micros));
        self.float8(row.outcome.value());
        for value in [ci_low, ci_high, stats.q_25, stats.q_75, stats.number, stats.repeat] {
            self.float8(value);
        }
        self.int4(Some(row.benchmark_id));
        self.int4(Some(row.combination));
        self.int4(row.version_id);
        self.text(outcome_label(row.outcome));
        self.float8_array(row.samples);
    }

    /// Appends the trailer and returns the payload.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&(-1i16).to_be_bytes());
        self.bytes
    }

    fn null(&mut self) {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn int8(&mut self, value: Option<i64>) {
        match value {
            Some(v) => {
                self.bytes.extend_from_slice(&8i32.to_be_bytes());
                self.bytes.extend_from_slice(&v.to_be_bytes());
            }
            None => self.null(),
        }
    }

    fn int4(&mut self, value: Option<i32>) {
        match value {
            Some(v) => {
                self.bytes.extend_from_slice(&4i32.to_be_bytes());
                self.bytes.extend_from_slice(&v.to_be_bytes());
            }
            None => self.null(),
        }
    }

    fn float8(&mut self, value: Option<f64>) {
        match value {
            Some(v) => {
                self.bytes.extend_from_slice(&8i32.to_be_bytes());
                self.bytes.extend_from_slice(&v.to_be_bytes());
            }
            None => self.null(),
        }
    }

    /// An enum's binary form is its label.
    fn text(&mut self, value: &str) {
        self.bytes.extend_from_slice(&(value.len() as i32).to_be_bytes());
        self.bytes.extend_from_slice(value.as_bytes());
    }

    /// A one-dimensional `float8[]` without NULL elements; an empty slice is
    /// the zero-dimensional empty array, as PostgreSQL itself sends it.
    fn float8_array(&mut self, values: Option<&[f64]>) {
        let Some(values) = values else {
            return self.null();
        };
        let dimensions: i32 = if values.is_empty() { 0 } else { 1 };
        let mut body = Vec::with_capacity(20 + values.len() * 12);
        body.extend_from_slice(&dimensions.to_be_bytes());
        body.extend_from_slice(&0i32.to_be_bytes()); // has NULL elements: no
        body.extend_from_slice(&FLOAT8_OID.to_be_bytes());
        if !values.is_empty() {
            body.extend_from_slice(&(values.len() as i32).to_be_bytes());
            body.extend_from_slice(&1i32.to_be_bytes()); // lower bound
        }
        for v in values {
            body.extend_from_slice(&8i32.to_be_bytes());
            body.extend_from_slice(&v.to_be_bytes());
        }
        self.bytes.extend_from_slice(&(body.len() as i32).to_be_bytes());
        self.bytes.extend_from_slice(&body);
    }
}

/// Reads the rows of a binary `COPY ... TO STDOUT` payload, one field at a
/// time in the order of the statement's columns.
pub(crate) struct CopyReader<'a> {
    rest: &'a [u8],
}

impl<'a> CopyReader<'a> {
    /// Checks the header and starts before the first row.
    pub fn new(payload: &'a [u8]) -> Result<Self, sqlx::Error> {
        let mut reader = CopyReader { rest: payload };
        if reader.take(SIGNATURE.len())? != SIGNATURE {
            return Err(malformed("the payload does not start with the binary COPY signature"));
        }
        reader.take(4)?; // flags
        let extension = reader.int4_bytes()?;
        let extension = usize::try_from(extension)
            .map_err(|_| malformed("the header extension has a negative length"))?;
        reader.take(extension)?;
        Ok(reader)
    }

    /// Moves to the next row and returns true, or returns false at the
    /// trailer. A row with another number of fields than `fields` is an
    /// error.
    pub fn next_row(&mut self, fields: i16) -> Result<bool, sqlx::Error> {
        let count = i16::from_be_bytes(self.array()?);
        match count {
            -1 => Ok(false),
            count if count == fields => Ok(true),
            count => Err(malformed(&format!("a row has {count} fields, expected {fields}"))),
        }
    }

    pub fn int8(&mut self) -> Result<Option<i64>, sqlx::Error> {
        Ok(self.field()?.map(fixed).transpose()?.map(i64::from_be_bytes))
    }

    pub fn int4(&mut self) -> Result<Option<i32>, sqlx::Error> {
        Ok(self.field()?.map(fixed).transpose()?.map(i32::from_be_bytes))
    }

    pub fn float8(&mut self) -> Result<Option<f64>, sqlx::Error> {
        Ok(self.field()?.map(fixed).transpose()?.map(f64::from_be_bytes))
    }

    pub fn timestamptz(&mut self) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.int8()?
            .map(|micros| {
                DateTime::from_timestamp_micros(micros + POSTGRES_EPOCH_OFFSET_SECONDS * 1_000_000)
                    .ok_or_else(|| malformed(&format!("timestamp {micros} is out of range")))
            })
            .transpose()
    }

    /// Returns a `text` field, or an enum's label.
    pub fn text(&mut self) -> Result<Option<&'a str>, sqlx::Error> {
        self.field()?
            .map(|bytes| {
                std::str::from_utf8(bytes).map_err(|_| malformed("a text field is not UTF-8"))
            })
            .transpose()
    }

    /// Returns the next field's bytes, `None` for NULL.
    fn field(&mut self) -> Result<Option<&'a [u8]>, sqlx::Error> {
        let length = self.int4_bytes()?;
        match usize::try_from(length) {
            Ok(length) => self.take(length).map(Some),
            Err(_) if length == -1 => Ok(None),
            Err(_) => Err(malformed(&format!("a field has length {length}"))),
        }
    }

    fn int4_bytes(&mut self) -> Result<i32, sqlx::Error> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], sqlx::Error> {
        fixed(self.take(N)?)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], sqlx::Error> {
        if self.rest.len() < count {
            return Err(malformed("the payload ends before the field or header it announced"));
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }
}

/// A field of a fixed-size type, which must have exactly that size.
fn fixed<const N: usize>(bytes: &[u8]) -> Result<[u8; N], sqlx::Error> {
    bytes
        .try_into()
        .map_err(|_| malformed(&format!("a field has {} bytes, expected {N}", bytes.len())))
}

fn malformed(reason: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("malformed binary COPY payload: {reason}"))
}

/// The `result_outcome` label of an outcome.
pub(crate) fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Value(_) => "value",
        Outcome::Failed => "failed",
        Outcome::Skipped => "skipped",
    }
}

/// Microseconds since 2000-01-01 UTC, PostgreSQL's binary `timestamptz`.
fn postgres_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros() - POSTGRES_EPOCH_OFFSET_SECONDS * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_is_header_and_trailer() {
        let bytes = CopyBuffer::new().finish();

        assert_eq!(&bytes[..11], SIGNATURE);
        assert_eq!(bytes.len(), 11 + 4 + 4 + 2);
        assert_eq!(&bytes[19..], &[0xff, 0xff]);
    }

    #[test]
    fn postgres_epoch_is_zero() {
        let epoch = DateTime::from_timestamp(POSTGRES_EPOCH_OFFSET_SECONDS, 0).expect("in range");

        assert_eq!(postgres_micros(epoch), 0);
    }

    /// Returns a payload of one row, written with the encoder's own field
    /// writers.
    fn one_row(date: DateTime<Utc>) -> Vec<u8> {
        let mut buffer = CopyBuffer::new();
        buffer.bytes.extend_from_slice(&6i16.to_be_bytes());
        buffer.int8(Some(-7));
        buffer.int8(Some(postgres_micros(date)));
        buffer.text("skipped");
        buffer.float8(Some(f64::NAN));
        buffer.float8(None);
        buffer.int4(Some(42));
        buffer.finish()
    }

    #[test]
    fn reader_reads_back_every_field_type() {
        let date = DateTime::from_timestamp(1_700_000_000, 123_456_000).expect("in range");
        let payload = one_row(date);
        let mut reader = CopyReader::new(&payload).expect("header");

        assert!(reader.next_row(6).expect("row"));
        assert_eq!(reader.int8().expect("int8"), Some(-7));
        assert_eq!(reader.timestamptz().expect("date"), Some(date));
        assert_eq!(reader.text().expect("text"), Some("skipped"));
        assert!(reader.float8().expect("NaN").is_some_and(f64::is_nan));
        assert_eq!(reader.float8().expect("NULL"), None);
        assert_eq!(reader.int4().expect("int4"), Some(42));
        assert!(!reader.next_row(6).expect("trailer"));
    }

    #[test]
    fn reader_rejects_a_short_or_mismatched_payload() {
        let date = DateTime::from_timestamp(0, 0).expect("in range");
        let payload = one_row(date);

        let mut reader = CopyReader::new(&payload).expect("header");
        let error = reader.next_row(5).expect_err("six fields, not five");
        assert!(error.to_string().contains("a row has 6 fields, expected 5"), "{error}");

        let cut = &payload[..payload.len() - 10];
        let mut reader = CopyReader::new(cut).expect("header");
        reader.next_row(6).expect("row");
        let read_all = (|| -> Result<(), sqlx::Error> {
            reader.int8()?;
            reader.timestamptz()?;
            reader.text()?;
            reader.float8()?;
            reader.float8()?;
            reader.int4()?;
            Ok(())
        })();
        let error = read_all.expect_err("the last field is cut off");
        assert!(error.to_string().contains("ends before the field"), "{error}");

        let error = CopyReader::new(b"PGCOPY\n\xff\r\n\x01\0\0\0\0\0\0\0\0")
            .err()
            .expect("the signature's last byte differs");
        assert!(error.to_string().contains("signature"), "{error}");
    }
}
