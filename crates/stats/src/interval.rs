//! A confidence interval for the ratio head / base of one benchmark.
//!
//! With raw samples on both sides the interval is distribution-free: the
//! Hodges-Lehmann estimate of the shift between the logarithms of the two
//! sample sets, with the interval of shifts that the two-sided
//! Mann-Whitney U test would not reject. On the log scale a shift is a
//! ratio, so the exponentiated bounds bound head / base, and the same U
//! distribution as asv's test gives the interval its level. Without usable samples the
//! interval is derived from the 99% confidence intervals asv stores for
//! each median.

use crate::compare::Side;
use crate::mann_whitney::{binomial, u_counts, EXACT_MAX_SAMPLES};

/// The confidence level of the sample-based interval. asv's stored
/// intervals are 99% intervals too, so both methods claim the same level.
pub const INTERVAL_LEVEL: f64 = 0.99;

/// An estimate of head / base with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioInterval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub method: IntervalMethod,
}

/// The method behind a [`RatioInterval`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IntervalMethod {
    /// Hodges-Lehmann on log samples, at this confidence level (the
    /// attained level of the exact interval is at least this).
    HodgesLehmann { level: f64 },
    /// The estimate is the ratio of the two values and the bounds combine
    /// the stored 99% intervals: head's low bound over base's high bound,
    /// and head's high bound over base's low bound. Two independent 99%
    /// intervals both hold with probability at least 98%.
    StoredIntervals,
}

impl RatioInterval {
    /// Returns whether `ratio` lies inside the interval, bounds included.
    pub fn contains(&self, ratio: f64) -> bool {
        self.low <= ratio && ratio <= self.high
    }
}

/// Returns the interval for `after / before` at `level`: from the samples
/// when both sides have enough positive samples, else from the stored
/// intervals when both have positive bounds, else `None`.
pub fn ratio_interval(before: &Side, after: &Side, level: f64) -> Option<RatioInterval> {
    let from_samples = match (&before.samples, &after.samples) {
        (Some(before), Some(after)) => hodges_lehmann_ratio(before, after, level),
        _ => None,
    };
    from_samples.or_else(|| stored_interval_ratio(before, after))
}

/// Returns the Hodges-Lehmann estimate of `after / before` with its
/// distribution-free interval at `level`.
///
/// NaN samples are dropped, as asv drops them. `None` when a sample is zero
/// or negative (no logarithm), or when the sample sizes cannot reach the
/// level: the interval needs `P(U = 0) <= (1 - level) / 2`, so at 99% each
/// side needs at least 2 samples and both together at least 11 (1 against
/// 10 gives `P(U = 0) = 1 / 11`).
pub fn hodges_lehmann_ratio(before: &[f64], after: &[f64], level: f64) -> Option<RatioInterval> {
    let log_before = positive_logs(before)?;
    let log_after = positive_logs(after)?;
    let rank = lower_rank(log_before.len(), log_after.len(), level)?;

    let mut shifts: Vec<f64> = Vec::with_capacity(log_before.len() * log_after.len());
    for a in &log_after {
        for b in &log_before {
            shifts.push(a - b);
        }
    }
    shifts.sort_by(f64::total_cmp);

    let count = shifts.len();
    let middle = count / 2;
    let median = if count.is_multiple_of(2) {
        (shifts[middle - 1] + shifts[middle]) / 2.0
    } else {
        shifts[middle]
    };
    Some(RatioInterval {
        estimate: median.exp(),
        // `rank` is 1-based: the interval runs from the rank-th smallest
        // shift to the rank-th largest.
        low: shifts[rank - 1].exp(),
        high: shifts[count - rank].exp(),
        method: IntervalMethod::HodgesLehmann { level },
    })
}

/// Returns the logarithms of the non-NaN samples, or `None` when a sample
/// is not positive or none is left.
fn positive_logs(samples: &[f64]) -> Option<Vec<f64>> {
    let logs: Vec<f64> = samples
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| (x.is_finite() && x > 0.0).then(|| x.ln()))
        .collect::<Option<_>>()?;
    (!logs.is_empty()).then_some(logs)
}

/// Returns the largest k >= 1 with `P(U <= k - 1) <= (1 - level) / 2`
/// under the null hypothesis, the rank of the interval's lower bound among
/// the m * n sorted shifts; `None` when even k = 1 misses the level.
///
/// Exact up to [`EXACT_MAX_SAMPLES`] samples on each side, as asv's test;
/// above that, the normal approximation `mn/2 - z * sqrt(mn(m+n+1)/12)`.
fn lower_rank(m: usize, n: usize, level: f64) -> Option<usize> {
    let tail = (1.0 - level) / 2.0;
    if m.max(n) <= EXACT_MAX_SAMPLES {
        let total = binomial(m + n, m)? as f64;
        let mut cumulative = 0u64;
        let mut rank = 0;
        for count in u_counts(m, n) {
            cumulative += count;
            if cumulative as f64 / total > tail {
                break;
            }
            rank += 1;
        }
        (rank >= 1).then_some(rank)
    } else {
        let pairs = (m * n) as f64;
        let spread = (pairs * (m + n + 1) as f64 / 12.0).sqrt();
        let rank = (pairs / 2.0 - normal_upper_quantile(tail) * spread).floor();
        (rank >= 1.0).then_some(rank as usize)
    }
}

/// Returns z with `P(Z > z) = tail` for a standard normal Z, by bisection
/// on the complementary error function; accurate to about 1e-12.
fn normal_upper_quantile(tail: f64) -> f64 {
    let upper_tail = |z: f64| 0.5 * libm::erfc(z / std::f64::consts::SQRT_2);
    let (mut low, mut high) = (-40.0, 40.0);
    for _ in 0..200 {
        let middle = (low + high) / 2.0;
        if upper_tail(middle) > tail {
            low = middle;
        } else {
            high = middle;
        }
    }
    (low + high) / 2.0
}

/// Returns the interval from the stored 99% intervals and the values, or
/// `None` unless both sides have a value and an interval, all positive.
fn stored_interval_ratio(before: &Side, after: &Side) -> Option<RatioInterval> {
    let (before_low, before_high) = before.stats?.ci_99?;
    let (after_low, after_high) = after.stats?.ci_99?;
    let estimate = after.measurement.value()? / before.measurement.value()?;
    let bounds = [before_low, before_high, after_low, after_high, estimate];
    if !bounds.iter().all(|x| x.is_finite() && *x > 0.0) {
        return None;
    }
    Some(RatioInterval {
        estimate,
        low: after_low / before_high,
        high: after_high / before_low,
        method: IntervalMethod::StoredIntervals,
    })
}

#[cfg(test)]
mod tests {
    use pitot_asv::Stats;

    use super::*;
    use crate::compare::Measurement;

    fn assert_close(actual: f64, expected: f64, what: &str) {
        assert!(
            (actual - expected).abs() < 1e-12,
            "{what}: got {actual}, expected {expected}"
        );
    }

    fn side(value: f64, ci: Option<(f64, f64)>, samples: Option<Vec<f64>>) -> Side {
        Side {
            measurement: Measurement::Value(value),
            stats: Some(Stats {
                ci_99: ci,
                ..Stats::default()
            }),
            samples,
            version: None,
        }
    }

    #[test]
    fn lower_rank_ten_and_ten() {
        // Exact U distribution for m = n = 10 (184,756 orderings):
        // P(U <= 16) = 825 / 184756 = 0.00447 and P(U <= 17) = 1062 /
        // 184756 = 0.00575, so at 99% (tail 0.005) the rank is 17, the
        // critical value 16 of printed Mann-Whitney tables plus one.
        assert_eq!(lower_rank(10, 10, 0.99), Some(17));
    }

    #[test]
    fn lower_rank_small_samples() {
        // m = n = 3: P(U = 0) = 1 / binomial(6, 3) = 0.05 and P(U <= 1) =
        // 0.1, so at 99% (tail 0.005) no rank fits and at 85% (tail 0.075)
        // rank 1 does. At 90% the tail (1 - 0.9) / 2 is 0.04999... in
        // floating point, just below 0.05, so no rank fits either.
        // 1 against 10: P(U = 0) = 1 / 11.
        assert_eq!(lower_rank(3, 3, 0.99), None);
        assert_eq!(lower_rank(3, 3, 0.85), Some(1));
        assert_eq!(lower_rank(3, 3, 0.90), None);
        assert_eq!(lower_rank(1, 10, 0.99), None);
        assert_eq!(lower_rank(1, 1, 0.5), None);
    }

    #[test]
    fn lower_rank_normal_approximation() {
        // m = n = 30: mn/2 = 450, sqrt(900 * 61 / 12) = 67.639, z(0.005) =
        // 2.5758; 450 - 174.23 = 275.77, rounded down to 275.
        assert_eq!(lower_rank(30, 30, 0.99), Some(275));
        assert!((normal_upper_quantile(0.005) - 2.575_829_303_549).abs() < 1e-9);
    }

    #[test]
    fn hodges_lehmann_ten_and_ten() {
        // Base all 1.0 (tied), head 1.1, 1.2, ..., 2.0. Each log shift
        // ln(head) - ln(1) occurs 10 times, so the sorted shifts are the
        // head logs in blocks of ten. Rank 17 lies in the second block
        // (1.2) and rank 84 = 100 - 17 + 1 in the ninth (1.9). The median
        // averages shifts 50 and 51, ln 1.5 and ln 1.6, so the estimate is
        // sqrt(1.5 * 1.6) = sqrt(2.4).
        let before = vec![1.0; 10];
        let after: Vec<f64> = (11..=20).map(|k| f64::from(k) / 10.0).collect();

        let interval = hodges_lehmann_ratio(&before, &after, 0.99).expect("interval");

        assert_close(interval.estimate, 2.4f64.sqrt(), "estimate");
        assert_close(interval.low, 1.2, "low");
        assert_close(interval.high, 1.9, "high");
    }

    #[test]
    fn hodges_lehmann_identical_sets_contain_one() {
        let samples: Vec<f64> = (1..=10).map(f64::from).collect();

        let interval = hodges_lehmann_ratio(&samples, &samples, 0.99).expect("interval");

        assert_close(interval.estimate, 1.0, "estimate");
        assert!(interval.contains(1.0), "{interval:?}");
    }

    #[test]
    fn hodges_lehmann_rejects_zero_and_negative_samples() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        let mut with_zero = ten.clone();
        with_zero[3] = 0.0;
        let mut with_negative = ten.clone();
        with_negative[0] = -1.0;

        assert_eq!(hodges_lehmann_ratio(&with_zero, &ten, 0.99), None);
        assert_eq!(hodges_lehmann_ratio(&ten, &with_negative, 0.99), None);
    }

    #[test]
    fn hodges_lehmann_drops_nan_samples() {
        let before = vec![1.0; 10];
        let mut after: Vec<f64> = (11..=20).map(|k| f64::from(k) / 10.0).collect();
        after.push(f64::NAN);

        let interval = hodges_lehmann_ratio(&before, &after, 0.99).expect("interval");

        assert_close(interval.low, 1.2, "low as without the NaN");
    }

    #[test]
    fn ratio_interval_one_sample_side_uses_stored_intervals() {
        // One sample against ten cannot reach 99%, so the interval comes
        // from the stored ones. The estimate is 2.0 / 1.0; the low bound is
        // head's low over base's high, 1.8 / 1.1, and the high bound is
        // head's high over base's low, 2.2 / 0.9.
        let before = side(1.0, Some((0.9, 1.1)), Some(vec![1.0]));
        let after = side(2.0, Some((1.8, 2.2)), Some((0..10).map(|_| 2.0).collect()));

        let interval = ratio_interval(&before, &after, 0.99).expect("interval");

        assert_eq!(interval.method, IntervalMethod::StoredIntervals);
        assert_close(interval.estimate, 2.0, "estimate");
        assert_close(interval.low, 1.8 / 1.1, "low");
        assert_close(interval.high, 2.2 / 0.9, "high");
    }

    #[test]
    fn ratio_interval_prefers_samples() {
        let before = side(1.0, Some((0.5, 1.5)), Some(vec![1.0; 10]));
        let after = side(
            1.5,
            Some((1.0, 2.0)),
            Some((11..=20).map(|k| f64::from(k) / 10.0).collect()),
        );

        let interval = ratio_interval(&before, &after, 0.99).expect("interval");

        assert_eq!(
            interval.method,
            IntervalMethod::HodgesLehmann { level: 0.99 }
        );
    }

    #[test]
    fn ratio_interval_none_without_positive_data() {
        let cases = [
            (
                "no samples, no intervals",
                side(1.0, None, None),
                side(2.0, None, None),
            ),
            (
                "zero base value",
                side(0.0, Some((0.0, 0.1)), None),
                side(2.0, Some((1.9, 2.1)), None),
            ),
            (
                "negative values",
                side(-1.0, Some((-1.1, -0.9)), None),
                side(-2.0, Some((-2.1, -1.9)), None),
            ),
        ];
        for (what, before, after) in cases {
            assert_eq!(ratio_interval(&before, &after, 0.99), None, "{what}");
        }
    }
}
