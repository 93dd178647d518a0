//! The comparison engine: pairs two asv result sets and decides, for each
//! benchmark, what `asv compare` from asv 0.6.6 would mark it with.
//!
//! Pure: typed results in, typed rows out. No I/O, no async runtime, no
//! formatting (that is `pitot-report`'s job).
//!
//! # The decision rule
//!
//! For each benchmark, parameter combination, machine and environment, the
//! checks run in asv's order and the first that applies sets the mark:
//!
//! 1. `x`, not comparable: both results files record a benchmark version
//!    and the versions differ.
//! 2. `!`, new failure: failed after but not before (a benchmark missing
//!    before counts as "not failed"). `*`, fixed: the reverse, which
//!    includes failed before and missing after.
//! 3. blank: failed on both sides, or skipped or missing on either side.
//! 4. `-`, decreased: `after < before / factor`; `+`, increased:
//!    `before < after / factor`. With statistics on, both sides must have
//!    stored statistics from more than one sample (`repeat != 1`), and the
//!    test of [`significance::is_different`] must find a difference: a
//!    two-sided Mann-Whitney U test at p < 0.002 when the raw samples allow
//!    such a small p-value, else disjoint 99% confidence intervals.
//! 5. blank otherwise. When the factor alone would have marked the pair
//!    but the test found no difference, [`Row::insignificant`] is set and
//!    asv prints the ratio as `~3.00`.
//!
//! The ratio is `after / before`, or `None` (asv's `n/a`) when either side
//! has no value or `before` is zero.
//!
//! # pitot's verdict
//!
//! [`assess`] adds a stricter verdict to each row without changing asv's
//! marks: asv's test must find a difference, the Benjamini-Hochberg
//! procedure across the comparison must keep it ([`fdr`]), and the change
//! must exceed the series' noise threshold learnt from history
//! ([`noise`]). Each row also gets a confidence interval for head / base
//! ([`interval`]). See [`detection`] for the rule.
//!
//! # Change points
//!
//! [`detect_change_points`] finds the steps in a series' default-branch
//! history, with the commit where each began; see [`change_points`].
//!
//! # Edge cases
//!
//! Each has a unit test in `tests/decision_rules.rs` with the expected mark.
//!
//! - `before` is 0: no ratio. The mark still follows the factor rule on the
//!   raw values, so `0 → 5` is `+` (asv prints `+` with ratio `n/a`).
//! - Both 0: blank, no ratio.
//! - Negative values: the rule runs on the raw values as asv does, so
//!   `-1 → -2` is `-` (decreased) with ratio 2.00. pitot does not reinterpret
//!   negative values.
//! - NaN value: treated as skipped. NaN samples: dropped before the U test.
//! - A single sample (`repeat == 1`): statistics are ignored and the factor
//!   decides. A single stored sample with `repeat` unknown: the U test
//!   cannot reach p < 0.002 against fewer than 500 samples, so the
//!   confidence intervals decide.
//! - All samples tied across both sides: the U test gives p = 1, so the
//!   pair is never marked (and the ratio is 1.00).
//! - Statistics without a confidence interval and too few samples: the
//!   factor decides ([`Significance::Inconclusive`]); asv 0.6.6 raises
//!   `KeyError` there.
//! - Higher-is-better units: asv's marks ignore direction and so does
//!   [`Row::mark`]. [`Row::direction`], [`Row::got_worse`] and
//!   [`Row::got_better`] take it into account for pitot's own formats.

pub mod calibration;
pub mod change_points;
mod compare;
pub mod detection;
pub mod direction;
pub mod fdr;
pub mod interval;
pub mod mann_whitney;
pub mod noise;
pub mod significance;

pub use change_points::{detect_change_points, ChangePoint, ChangePointOptions};
pub use compare::{
    compare, CompareError, CompareOptions, Comparison, Mark, Measurement, ResultSet, Row, Side,
    DEFAULT_FACTOR,
};
pub use detection::{assess, Detection, DetectionOptions, Finding};
pub use direction::{direction_of, Direction};
pub use interval::{ratio_interval, IntervalMethod, RatioInterval, INTERVAL_LEVEL};
pub use noise::{noise_threshold, NoiseThreshold, ThresholdSource};
pub use significance::{Significance, P_THRESHOLD};
