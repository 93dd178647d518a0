//! Hashing a chart's input for its URL.

use sha2::{Digest as _, Sha256};

/// How many hex digits of the SHA-256 a chart URL carries: 64 bits, far
/// more than needed to tell apart the versions of one job's chart.
pub(crate) const DIGEST_HEX_DIGITS: usize = 16;

/// Feeds typed values into SHA-256 without ambiguity: strings carry their
/// length and floats their exact bits, so two different inputs never feed
/// the same bytes.
pub(crate) struct InputHasher {
    hasher: Sha256,
}

impl InputHasher {
    /// Starts a hash for one kind of chart. `kind` names the chart and the
    /// version of its drawing code; changing the drawing changes every URL.
    pub(crate) fn new(kind: &str) -> InputHasher {
        let mut hasher = InputHasher {
            hasher: Sha256::new(),
        };
        hasher.text(kind);
        hasher
    }

    pub(crate) fn text(&mut self, text: &str) {
        self.count(text.len());
        self.hasher.update(text.as_bytes());
    }

    pub(crate) fn count(&mut self, count: usize) {
        self.hasher.update((count as u64).to_le_bytes());
    }

    pub(crate) fn number(&mut self, value: f64) {
        self.hasher.update(value.to_bits().to_le_bytes());
    }

    pub(crate) fn optional_number(&mut self, value: Option<f64>) {
        match value {
            Some(value) => {
                self.hasher.update([1]);
                self.number(value);
            }
            None => self.hasher.update([0]),
        }
    }

    pub(crate) fn optional_interval(&mut self, interval: Option<(f64, f64)>) {
        match interval {
            Some((low, high)) => {
                self.hasher.update([1]);
                self.number(low);
                self.number(high);
            }
            None => self.hasher.update([0]),
        }
    }

    /// Returns the first [`DIGEST_HEX_DIGITS`] hex digits of the hash.
    pub(crate) fn finish(self) -> String {
        let mut digest = hex::encode(self.hasher.finalize());
        digest.truncate(DIGEST_HEX_DIGITS);
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(parts: &[&str]) -> String {
        let mut hasher = InputHasher::new("test");
        for part in parts {
            hasher.text(part);
        }
        hasher.finish()
    }

    #[test]
    fn string_boundaries_change_the_digest() {
        assert_ne!(digest_of(&["ab", "c"]), digest_of(&["a", "bc"]));
    }

    #[test]
    fn digest_has_sixteen_hex_digits() {
        let digest = digest_of(&["x"]);

        assert_eq!(digest.len(), DIGEST_HEX_DIGITS);
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit()), "{digest}");
    }
}
