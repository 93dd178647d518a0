//! Change-point detection on a series' default-branch history.
//!
//! The method is binary segmentation with Welch's t-test, close to what
//! Hunter does after its E-divisive search:
//!
//! 1. In a segment of the history, every split that leaves at least
//!    [`ChangePointOptions::min_segment`] points on each side is a
//!    candidate. The candidate with the largest Welch t statistic between
//!    the points before and after it wins. Prefix sums make each candidate
//!    O(1), so a segment of n points costs O(n).
//! 2. The winner's two-sided p-value is multiplied by the number of
//!    candidates (Bonferroni), because the best of n splits of pure noise
//!    looks far more significant than one split chosen in advance. The
//!    split is a change point when that adjusted p-value is below
//!    [`ChangePointOptions::max_p_value`] and the means differ by at least
//!    [`ChangePointOptions::min_relative_change`]. Then both sides are
//!    searched in turn.
//! 3. Once no segment splits any more, each change point is tested again
//!    against its neighbours only: the points from the previous change
//!    point to the next one. The weakest change point that no longer
//!    passes is dropped and the test repeats, so a change point found
//!    early against a long, mixed segment survives only if it still passes
//!    between its neighbours.
//!
//! Means rather than medians are compared, so a lone outlier pulls a mean
//! by its size divided by the segment's length and widens that segment's
//! variance, which keeps its t statistic small. The test assumes
//! independent points. Benchmark machines drift, so a long history has
//! slow trends that a t-test sees as steps. The minimum relative change is
//! what keeps such drift out of the results.
//!
//! Pure: values in, change points out. The caller removes failed and
//! skipped results and splits a series where the benchmark's version
//! changed.

/// The settings of [`detect_change_points`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePointOptions {
    /// The fewest points on each side of a change point. A step needs this
    /// many results after it before it is reported, so a new regression
    /// shows up after `min_segment` more commits are benchmarked.
    pub min_segment: usize,
    /// The largest Bonferroni-adjusted p-value of a change point.
    pub max_p_value: f64,
    /// The smallest change of the mean, as a fraction of the mean before:
    /// 0.05 means 5%.
    pub min_relative_change: f64,
}

impl Default for ChangePointOptions {
    fn default() -> Self {
        ChangePointOptions {
            min_segment: 5,
            max_p_value: 0.001,
            min_relative_change: 0.05,
        }
    }
}

/// A detected change of a series' mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePoint {
    /// The position in the input of the first point after the change.
    pub index: usize,
    /// The mean of the points from the previous change point (or the
    /// start) up to this one.
    pub mean_before: f64,
    /// The mean of the points from this change point up to the next one
    /// (or the end).
    pub mean_after: f64,
    /// The Bonferroni-adjusted p-value of Welch's t-test between those two
    /// segments.
    pub p_value: f64,
}

impl ChangePoint {
    /// Returns `mean_after / mean_before`, or `None` when `mean_before` is 0.
    pub fn ratio(&self) -> Option<f64> {
        (self.mean_before != 0.0).then(|| self.mean_after / self.mean_before)
    }

    /// Returns the change of the mean as a fraction of the mean before
    /// (negative for a fall), or infinity when the mean before is 0.
    pub fn relative_change(&self) -> f64 {
        relative_change(self.mean_before, self.mean_after)
    }
}

/// Finds the changes of the mean in `values`, given in commit order, oldest
/// first. Non-finite values (asv's NaN for a skipped benchmark) are left
/// out, but the returned indices still point into `values`. Returns the change
/// points in order.
pub fn detect_change_points(values: &[f64], options: &ChangePointOptions) -> Vec<ChangePoint> {
    let positions: Vec<usize> = (0..values.len())
        .filter(|&index| values[index].is_finite())
        .collect();
    let finite: Vec<f64> = positions.iter().map(|&index| values[index]).collect();
    let sums = PrefixSums::new(&finite);
    let min_segment = options.min_segment.max(2);

    let mut splits = Vec::new();
    let mut pending = vec![(0, finite.len())];
    while let Some((start, end)) = pending.pop() {
        let Some(split) = best_split(&sums, start, end, min_segment) else {
            continue;
        };
        if sums
            .passes(start, split, end, min_segment, options)
            .is_some()
        {
            splits.push(split);
            pending.push((start, split));
            pending.push((split, end));
        }
    }
    splits.sort_unstable();

    let tested = prune(&sums, splits, finite.len(), min_segment, options);
    tested
        .into_iter()
        .map(|(split, start, end, p_value)| ChangePoint {
            index: positions[split],
            mean_before: sums.mean(start, split),
            mean_after: sums.mean(split, end),
            p_value,
        })
        .collect()
}

/// Drops, one at a time, the weakest split that fails the test against its
/// neighbours, and returns the rest as `(split, start, end, p_value)`.
fn prune(
    sums: &PrefixSums,
    mut splits: Vec<usize>,
    len: usize,
    min_segment: usize,
    options: &ChangePointOptions,
) -> Vec<(usize, usize, usize, f64)> {
    loop {
        let mut tested = Vec::with_capacity(splits.len());
        let mut weakest: Option<(usize, f64)> = None;
        for (position, &split) in splits.iter().enumerate() {
            let start = if position == 0 {
                0
            } else {
                splits[position - 1]
            };
            let end = splits.get(position + 1).copied().unwrap_or(len);
            match sums.passes(start, split, end, min_segment, options) {
                Some(p_value) => tested.push((split, start, end, p_value)),
                None => {
                    let p_value = sums.adjusted_p_value(start, split, end, min_segment);
                    if weakest.is_none_or(|(_, worst)| p_value > worst) {
                        weakest = Some((position, p_value));
                    }
                }
            }
        }
        match weakest {
            Some((position, _)) => {
                splits.remove(position);
            }
            None => return tested,
        }
    }
}

/// Returns the split of `start..end` with the largest |t|, or `None` when
/// the segment is too short to split.
fn best_split(sums: &PrefixSums, start: usize, end: usize, min_segment: usize) -> Option<usize> {
    if end - start < 2 * min_segment {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    for split in start + min_segment..=end - min_segment {
        let t = sums.welch(start, split, end).t.abs();
        if best.is_none_or(|(_, largest)| t > largest) {
            best = Some((split, t));
        }
    }
    best.map(|(split, _)| split)
}

fn relative_change(before: f64, after: f64) -> f64 {
    if before == 0.0 {
        return if after == 0.0 { 0.0 } else { f64::INFINITY };
    }
    (after - before) / before.abs()
}

/// Welch's t statistic and its Welch-Satterthwaite degrees of freedom.
struct Welch {
    t: f64,
    degrees_of_freedom: f64,
}

/// Running sums of the values and their squares, so that the mean and
/// variance of any segment cost O(1). The values are centred on their
/// overall mean first, which keeps the sums of squares accurate when the
/// noise is tiny next to the values.
struct PrefixSums {
    offset: f64,
    sum: Vec<f64>,
    sum_of_squares: Vec<f64>,
}

impl PrefixSums {
    fn new(values: &[f64]) -> PrefixSums {
        let offset = if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        };
        let mut sum = Vec::with_capacity(values.len() + 1);
        let mut sum_of_squares = Vec::with_capacity(values.len() + 1);
        sum.push(0.0);
        sum_of_squares.push(0.0);
        let (mut total, mut total_of_squares) = (0.0, 0.0);
        for value in values {
            let centred = value - offset;
            total += centred;
            total_of_squares += centred * centred;
            sum.push(total);
            sum_of_squares.push(total_of_squares);
        }
        PrefixSums {
            offset,
            sum,
            sum_of_squares,
        }
    }

    fn mean(&self, start: usize, end: usize) -> f64 {
        self.centred_mean(start, end) + self.offset
    }

    fn centred_mean(&self, start: usize, end: usize) -> f64 {
        (self.sum[end] - self.sum[start]) / (end - start) as f64
    }

    /// Returns the sample variance of `start..end`, which contains at least
    /// 2 points.
    fn variance(&self, start: usize, end: usize) -> f64 {
        let count = (end - start) as f64;
        let sum = self.sum[end] - self.sum[start];
        let squares = self.sum_of_squares[end] - self.sum_of_squares[start];
        ((squares - sum * sum / count) / (count - 1.0)).max(0.0)
    }

    fn welch(&self, start: usize, split: usize, end: usize) -> Welch {
        let (before, after) = ((split - start) as f64, (end - split) as f64);
        let difference = self.centred_mean(split, end) - self.centred_mean(start, split);
        let (spread_before, spread_after) = (
            self.variance(start, split) / before,
            self.variance(split, end) / after,
        );
        let standard_error_squared = spread_before + spread_after;
        if standard_error_squared <= 0.0 {
            // Both segments are constant: any difference is certain.
            let t = if difference == 0.0 {
                0.0
            } else {
                f64::INFINITY.copysign(difference)
            };
            return Welch {
                t,
                degrees_of_freedom: before + after - 2.0,
            };
        }
        let degrees_of_freedom = standard_error_squared * standard_error_squared
            / (spread_before * spread_before / (before - 1.0)
                + spread_after * spread_after / (after - 1.0));
        Welch {
            t: difference / standard_error_squared.sqrt(),
            degrees_of_freedom,
        }
    }

    /// Returns the p-value of the split at `split` of `start..end`, times
    /// the number of splits a search of that segment would have tried.
    fn adjusted_p_value(&self, start: usize, split: usize, end: usize, min_segment: usize) -> f64 {
        let welch = self.welch(start, split, end);
        let candidates = (end - start + 1).saturating_sub(2 * min_segment).max(1);
        (student_t_two_sided_p(welch.t, welch.degrees_of_freedom) * candidates as f64).min(1.0)
    }

    /// Returns the adjusted p-value of the split when it is a change point
    /// under `options`, else `None`.
    fn passes(
        &self,
        start: usize,
        split: usize,
        end: usize,
        min_segment: usize,
        options: &ChangePointOptions,
    ) -> Option<f64> {
        let change = relative_change(self.mean(start, split), self.mean(split, end));
        if change.abs() < options.min_relative_change {
            return None;
        }
        let p_value = self.adjusted_p_value(start, split, end, min_segment);
        (p_value < options.max_p_value).then_some(p_value)
    }
}

/// Returns the two-sided p-value of Student's t distribution with
/// `degrees_of_freedom`: P(|T| >= |t|) = I_x(df/2, 1/2) with
/// x = df / (df + t²), the regularized incomplete beta function.
pub fn student_t_two_sided_p(t: f64, degrees_of_freedom: f64) -> f64 {
    if t.is_nan() || degrees_of_freedom.is_nan() || degrees_of_freedom <= 0.0 {
        return 1.0;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let x = degrees_of_freedom / (degrees_of_freedom + t * t);
    regularized_incomplete_beta(x, degrees_of_freedom / 2.0, 0.5).clamp(0.0, 1.0)
}

/// I_x(a, b), evaluated with the continued fraction that converges fast
/// for x < (a + 1) / (a + b + 2) and through I_x(a, b) = 1 - I_{1-x}(b, a)
/// otherwise.
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let log_front =
        libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = log_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function, evaluated with
/// the modified Lentz method.
fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const MAX_TERMS: u32 = 300;
    let guard = |value: f64| if value.abs() < TINY { TINY } else { value };

    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut fraction = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        fraction *= d * c;

        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1) from a linear congruential generator,
    /// so the tests need no random crate and never change.
    fn noise(seed: u64, len: usize) -> Vec<f64> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    fn series(levels: &[(usize, f64)], noise_size: f64, seed: u64) -> Vec<f64> {
        let len = levels.iter().map(|(count, _)| count).sum();
        let noise = noise(seed, len);
        levels
            .iter()
            .flat_map(|&(count, level)| std::iter::repeat_n(level, count))
            .zip(noise)
            .map(|(level, noise)| level + noise_size * noise)
            .collect()
    }

    #[test]
    fn student_t_matches_tables() {
        // Two-sided critical values from standard t tables.
        let cases = [
            (2.228, 10.0, 0.05),
            (3.169, 10.0, 0.01),
            (1.960, 1e6, 0.05),
            (12.706, 1.0, 0.05),
            (0.0, 5.0, 1.0),
        ];
        for (t, degrees_of_freedom, expected) in cases {
            let p = student_t_two_sided_p(t, degrees_of_freedom);
            assert!(
                (p - expected).abs() < 5e-4,
                "t = {t}, df = {degrees_of_freedom}: p = {p}"
            );
        }
    }

    #[test]
    fn clean_step_found_at_its_commit() {
        let values = series(&[(40, 1.0), (40, 1.3)], 0.02, 1);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 40);
        let ratio = found[0].ratio().expect("mean before is not 0");
        assert!((ratio - 1.3).abs() < 0.02, "ratio {ratio}");
        assert!(found[0].p_value < 0.001);
    }

    #[test]
    fn two_steps_found() {
        let values = series(&[(30, 1.0), (30, 1.5), (30, 1.0)], 0.02, 2);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        let indices: Vec<usize> = found.iter().map(|point| point.index).collect();
        assert_eq!(indices, [30, 60]);
        assert!(found[0].relative_change() > 0.45);
        assert!(found[1].relative_change() < -0.30);
    }

    #[test]
    fn noise_only_gives_nothing() {
        let values = series(&[(500, 1.0)], 0.1, 3);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn single_outlier_gives_nothing() {
        let mut values = series(&[(60, 1.0)], 0.02, 4);
        values[30] = 5.0;

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn step_smaller_than_noise_gives_nothing() {
        // A 10% step under noise of ±50%.
        let values = series(&[(20, 1.0), (20, 1.1)], 0.5, 5);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn step_below_min_relative_change_ignored() {
        // Significant but only 2%, under the default 5%.
        let values = series(&[(50, 1.0), (50, 1.02)], 0.001, 6);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn step_too_close_to_the_end_waits() {
        let values = series(&[(40, 1.0), (3, 2.0)], 0.01, 7);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn indices_skip_non_finite_values() {
        let mut values = series(&[(20, 1.0), (20, 2.0)], 0.01, 8);
        values.insert(10, f64::NAN);
        values.insert(21, f64::NAN);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 22);
    }

    #[test]
    fn constant_levels_without_noise() {
        let values = series(&[(10, 3.0), (10, 6.0)], 0.0, 9);

        let found = detect_change_points(&values, &ChangePointOptions::default());

        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].index, 10);
        assert_eq!(found[0].ratio(), Some(2.0));
        assert_eq!(found[0].p_value, 0.0);
    }

    #[test]
    fn empty_and_short_inputs() {
        let options = ChangePointOptions::default();

        assert!(detect_change_points(&[], &options).is_empty());
        assert!(detect_change_points(&[1.0, 2.0, 3.0], &options).is_empty());
        assert!(detect_change_points(&[f64::NAN; 30], &options).is_empty());
    }
}
