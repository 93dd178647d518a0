//! asv 0.6.6's test of whether two measurements differ (`is_different` in
//! `asv/_stats.py`): the Mann-Whitney U test when the raw samples are
//! numerous enough for it to reach the threshold, else non-overlap of the
//! stored 99% confidence intervals.

use pitot_asv::Stats;

use crate::mann_whitney::{binomial, mann_whitney_u};

/// The p-value below which asv calls two sample sets different.
pub const P_THRESHOLD: f64 = 0.002;

/// The test that decided whether a pair of measurements differs, and its result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Significance {
    /// The statistics were not consulted: `--no-stats`, a side without
    /// stored statistics, a side with `repeat == 1`, or a failed, skipped
    /// or missing side. The factor alone decides.
    NotTested,
    /// The Mann-Whitney U test on the raw samples.
    MannWhitneyU { p_value: f64, different: bool },
    /// Overlap of the stored 99% confidence intervals of the median: the
    /// measurements differ when the intervals do not overlap.
    ConfidenceIntervals { different: bool },
    /// The statistics were consulted but held neither enough samples nor
    /// a confidence interval, so the factor alone decides. asv 0.6.6 raises
    /// `KeyError` in this case instead.
    Inconclusive,
}

impl Significance {
    /// Returns false only when a test ran and found no significant difference.
    pub fn allows_change(self) -> bool {
        match self {
            Significance::NotTested | Significance::Inconclusive => true,
            Significance::MannWhitneyU { different, .. }
            | Significance::ConfidenceIntervals { different } => different,
        }
    }
}

/// Tests whether sample set `a` differs from `b`, as asv's `is_different`.
///
/// NaN samples are dropped first. The U test runs only when its smallest
/// possible p-value, `1 / binomial(len_a + len_b, min(len_a, len_b))`, is
/// below [`P_THRESHOLD`]. With 10 samples a side that bound is about 5e-6.
/// A single sample against fewer than 500 cannot reach the threshold, so
/// such pairs fall back to the confidence intervals.
pub fn is_different(
    samples_a: Option<&[f64]>,
    samples_b: Option<&[f64]>,
    stats_a: &Stats,
    stats_b: &Stats,
) -> Significance {
    if let (Some(samples_a), Some(samples_b)) = (samples_a, samples_b) {
        let a: Vec<f64> = samples_a.iter().copied().filter(|x| !x.is_nan()).collect();
        let b: Vec<f64> = samples_b.iter().copied().filter(|x| !x.is_nan()).collect();
        if smallest_p_value(a.len(), b.len()) < P_THRESHOLD {
            let p_value = mann_whitney_u(&a, &b).p_value;
            return Significance::MannWhitneyU {
                p_value,
                different: p_value < P_THRESHOLD,
            };
        }
    }

    match (stats_a.ci_99, stats_b.ci_99) {
        (Some(ci_a), Some(ci_b)) => Significance::ConfidenceIntervals {
            different: !intervals_overlap(ci_a, ci_b),
        },
        _ => Significance::Inconclusive,
    }
}

/// Returns `1 / binomial(m + n, min(m, n))` computed as asv does, with an
/// integer binomial and one division.
fn smallest_p_value(m: usize, n: usize) -> f64 {
    match binomial(m + n, m.min(n)) {
        Some(orderings) => 1.0 / orderings as f64,
        // Too many orderings to count: the bound is below any threshold.
        None => 0.0,
    }
}

/// Returns whether two closed intervals share a point. A NaN bound makes
/// every comparison false, so such intervals count as not overlapping, as
/// in asv.
fn intervals_overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.1 >= b.0 && a.0 <= b.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_with_ci(low: f64, high: f64) -> Stats {
        Stats {
            ci_99: Some((low, high)),
            ..Stats::default()
        }
    }

    #[test]
    fn is_different_uses_u_test_with_enough_samples() {
        let before: Vec<f64> = (0..10).map(f64::from).collect();
        let after: Vec<f64> = (10..20).map(f64::from).collect();
        // The intervals overlap, which alone would mean "not different", but
        // the U test takes precedence.
        let wide = stats_with_ci(0.0, 100.0);

        let result = is_different(Some(&after), Some(&before), &wide, &wide);

        assert_eq!(
            result,
            Significance::MannWhitneyU {
                p_value: 1.0825088224361175e-05,
                different: true
            }
        );
    }

    #[test]
    fn is_different_drops_nan_samples() {
        // Ten valid samples a side plus a NaN: the U test runs on the ten
        // and finds identical sets, although the intervals are disjoint.
        let mut before: Vec<f64> = (0..10).map(f64::from).collect();
        before.push(f64::NAN);
        let after: Vec<f64> = (0..10).map(f64::from).collect();
        let result = is_different(
            Some(&before),
            Some(&after),
            &stats_with_ci(0.0, 1.0),
            &stats_with_ci(2.0, 3.0),
        );

        assert_eq!(
            result,
            Significance::MannWhitneyU {
                p_value: 1.0,
                different: false
            }
        );
    }

    #[test]
    fn is_different_falls_back_to_intervals() {
        let cases = [
            ("disjoint", (0.9, 1.1), (2.9, 3.1), true),
            ("overlapping", (0.9, 3.2), (2.9, 3.1), false),
            ("touching at one point", (0.9, 2.9), (2.9, 3.1), false),
            ("NaN bound", (f64::NAN, 1.1), (0.9, 1.1), true),
        ];
        let few: Vec<f64> = vec![1.0, 2.0, 3.0];
        for (what, ci_a, ci_b, expected) in cases {
            let stats_a = stats_with_ci(ci_a.0, ci_a.1);
            let stats_b = stats_with_ci(ci_b.0, ci_b.1);

            let result = is_different(Some(&few), Some(&few), &stats_a, &stats_b);

            assert_eq!(
                result,
                Significance::ConfidenceIntervals {
                    different: expected
                },
                "{what}"
            );
        }
    }

    #[test]
    fn is_different_single_sample_uses_intervals() {
        // One sample against 10: p_min = 1/11, far above the threshold.
        let one = vec![1.0];
        let ten: Vec<f64> = (10..20).map(f64::from).collect();

        let result = is_different(
            Some(&one),
            Some(&ten),
            &stats_with_ci(0.5, 1.5),
            &stats_with_ci(9.0, 20.0),
        );

        assert_eq!(
            result,
            Significance::ConfidenceIntervals { different: true }
        );
    }

    #[test]
    fn is_different_without_intervals_is_inconclusive() {
        let result = is_different(None, None, &Stats::default(), &stats_with_ci(1.0, 2.0));

        assert_eq!(result, Significance::Inconclusive);
    }

    #[test]
    fn smallest_p_value_threshold_edge() {
        // binomial(500, 1) = 500 gives exactly 0.002, which is not below
        // the threshold; 501 orderings are.
        assert_eq!(smallest_p_value(499, 1), 0.002);
        assert!(smallest_p_value(500, 1) < P_THRESHOLD);
        assert_eq!(smallest_p_value(0, 10), 1.0);
    }
}
