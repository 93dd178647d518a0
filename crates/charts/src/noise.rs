//! The band of ratios that count as noise.

use crate::error::ChartError;

/// The range of head/base ratios that count as no change, shaded on the
/// charts.
///
/// asv calls a change significant only outside `1/factor .. factor`
/// ([`NoiseBand::from_factor`]). A threshold learnt from a benchmark's own
/// history can give a band that is not symmetric, so the two bounds are
/// separate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseBand {
    /// The smallest ratio inside the band, below 1.
    pub low: f64,
    /// The largest ratio inside the band, above 1.
    pub high: f64,
}

impl NoiseBand {
    /// Returns asv's band for `factor`: `1/factor` to `factor`.
    pub fn from_factor(factor: f64) -> Result<NoiseBand, ChartError> {
        NoiseBand::new(1.0 / factor, factor)
    }

    /// Returns the band from `low` to `high`, which must be finite, positive
    /// and contain 1.
    pub fn new(low: f64, high: f64) -> Result<NoiseBand, ChartError> {
        let valid = low.is_finite() && high.is_finite() && 0.0 < low && low <= 1.0 && 1.0 <= high;
        if valid {
            Ok(NoiseBand { low, high })
        } else {
            Err(ChartError::InvalidNoiseBand { low, high })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_factor_is_symmetric_on_a_log_axis() {
        let band = NoiseBand::from_factor(1.1).expect("valid factor");

        assert!((band.low - 1.0 / 1.1).abs() < 1e-12, "{band:?}");
        assert_eq!(band.high, 1.1);
    }

    #[test]
    fn invalid_bands_are_rejected() {
        let cases = [
            (0.0, 1.1, "zero low bound"),
            (-0.5, 1.1, "negative low bound"),
            (1.2, 1.5, "band above 1"),
            (0.5, 0.9, "band below 1"),
            (f64::NAN, 1.1, "NaN"),
            (0.9, f64::INFINITY, "infinite high bound"),
        ];
        for (low, high, case) in cases {
            let error = NoiseBand::new(low, high).expect_err(case);

            assert!(error.to_string().contains("noise band"), "{case}: {error}");
        }
    }
}
