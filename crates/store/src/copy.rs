//! Encoding result rows in PostgreSQL's binary `COPY` format.
//!
//! Binary rather than text because it sends each float as its 8 bytes: no
//! decimal formatting in pitot, no parsing in the server, and an exact round
//! trip for every value including NaN and the infinities. The format is
//! described in the PostgreSQL manual, "COPY", section "Binary Format".

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
}
