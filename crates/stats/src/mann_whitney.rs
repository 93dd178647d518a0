//! The two-sided Mann-Whitney U test exactly as asv 0.6.6 computes it
//! (`asv/_stats.py`), so that pitot's verdicts match `asv compare` bit for bit.
//!
//! asv's variant differs from textbook and SciPy versions in three ways:
//! ties are broken conservatively (towards the least significant U), the
//! exact distribution is used up to 20 samples on the larger side, and the
//! normal approximation above that has neither a tie correction of the
//! variance nor a continuity correction.

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitneyU {
    /// The U statistic after conservative tie breaking.
    pub u: u64,
    /// The two-sided p-value.
    pub p_value: f64,
}

/// The largest sample size, on either side, for which the exact
/// distribution is used; asv switches to the normal approximation above it.
pub const EXACT_MAX_SAMPLES: usize = 20;

/// Runs the two-sided Mann-Whitney U test on `x` and `y`.
///
/// U counts the pairs with `x > y`. Ties count towards whichever side makes
/// the result least significant. The samples must not contain NaN: asv drops
/// NaN before calling its test, and a NaN here compares as neither greater
/// nor equal. Both samples must be non-empty.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> MannWhitneyU {
    let m = x.len() as u64;
    let n = y.len() as u64;
    let pairs = m * n;
    let half = pairs / 2;

    let (mut u, mut ties) = count_greater_and_tied(x, y);
    if u <= half && u + ties >= half {
        ties = half - u;
    }
    let ux_low = u.min(pairs - u);
    let ux_high = (u + ties).min(pairs - (u + ties));
    let ux = if ux_low >= ux_high {
        ux_low
    } else {
        u += ties;
        ux_high
    };

    let p_value = if x.len().max(y.len()) > EXACT_MAX_SAMPLES {
        normal_p_value(m, n, ux)
    } else {
        exact_p_value(x.len(), y.len(), ux)
    };
    MannWhitneyU { u, p_value }
}

fn count_greater_and_tied(x: &[f64], y: &[f64]) -> (u64, u64) {
    let mut greater = 0;
    let mut tied = 0;
    for a in x {
        for b in y {
            if a > b {
                greater += 1;
            } else if a == b {
                tied += 1;
            }
        }
    }
    (greater, tied)
}

/// Sums the exact probabilities of both tails, in the same order and with
/// the same floating-point steps as asv, so the result is identical.
fn exact_p_value(m: usize, n: usize, ux: u64) -> f64 {
    let counts = u_counts(m, n);
    let total = binomial(m + n, m).map_or(f64::INFINITY, |b| b as f64);
    let cdf = |upto: u64| -> f64 {
        let mut sum = 0.0;
        for count in counts.iter().take(upto as usize + 1) {
            sum += *count as f64 / total;
        }
        sum
    };

    let pairs = (m * n) as u64;
    let lower_tail = cdf(ux);
    // `ux <= pairs / 2`, so `pairs - ux - 1` cannot underflow unless
    // `pairs` is 0, which the callers rule out by requiring samples.
    let upper_start = (pairs / 2).max(pairs.saturating_sub(ux + 1));
    let upper_tail = 1.0 - cdf(upper_start);
    lower_tail + upper_tail
}

/// Returns, for each u in `0..=m*n`, how many orderings of `m` and `n`
/// samples give U = u.
///
/// Uses Mann and Whitney's recurrence `r(m, n, u) = r(m, n-1, u) +
/// r(m-1, n, u-n)`. With at most 20 samples a side the counts stay below
/// binomial(40, 20), far inside `u64`.
pub(crate) fn u_counts(m: usize, n: usize) -> Vec<u64> {
    // table[i][j] holds the counts for sample sizes (i, j).
    let mut table: Vec<Vec<Vec<u64>>> = vec![vec![Vec::new(); n + 1]; m + 1];
    for i in 0..=m {
        for j in 0..=n {
            table[i][j] = if i == 0 || j == 0 {
                vec![1]
            } else {
                let mut counts = vec![0u64; i * j + 1];
                for (u, count) in counts.iter_mut().enumerate() {
                    let without_last_y = table[i][j - 1].get(u).copied().unwrap_or(0);
                    let without_last_x = u
                        .checked_sub(j)
                        .and_then(|rest| table[i - 1][j].get(rest).copied())
                        .unwrap_or(0);
                    *count = without_last_y + without_last_x;
                }
                counts
            };
        }
    }
    std::mem::take(&mut table[m][n])
}

fn normal_p_value(m: u64, n: u64, ux: u64) -> f64 {
    let pairs = (m * n) as f64;
    let variance = (m * n * (m + n + 1)) as f64 / 12.0;
    let z = (ux as f64 - pairs / 2.0) / variance.sqrt();
    let cdf = 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
    2.0 * cdf
}

/// Returns the binomial coefficient `n` over `k`, or `None` when it does not
/// fit in a `u128`.
pub fn binomial(n: usize, k: usize) -> Option<u128> {
    if k > n {
        return Some(0);
    }
    let k = k.min(n - k);
    let mut result: u128 = 1;
    for j in 1..=k {
        // result * (n - k + j) is divisible by j: it is binomial(n - k + j, j) * j.
        result = result.checked_mul((n - k + j) as u128)? / j as u128;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values: asv 0.6.6, `asv._stats.mann_whitney_u(x, y)`, run
    // once under Python 3.11 and pasted here. For the tie-free cases up to
    // 20 samples, SciPy 1.x `mannwhitneyu(x, y, method="exact")` agrees to
    // within 1e-15 (it sums the tails in another order).
    struct Case {
        what: &'static str,
        x: Vec<f64>,
        y: Vec<f64>,
        u: u64,
        p_value: f64,
    }

    fn range(start: usize, end: usize) -> Vec<f64> {
        (start..end).map(|i| i as f64).collect()
    }

    fn cases() -> Vec<Case> {
        vec![
            Case {
                what: "exact, 5 and 5, separated",
                x: range(1, 6),
                y: range(6, 11),
                u: 0,
                p_value: 0.007936507936508144,
            },
            Case {
                what: "exact, 3 and 4, interleaved",
                x: vec![1.0, 4.0, 6.0],
                y: vec![2.0, 3.0, 5.0, 7.0],
                u: 5,
                p_value: 0.8571428571428572,
            },
            Case {
                what: "exact, 10 and 10, separated",
                x: range(0, 10),
                y: range(10, 20),
                u: 0,
                p_value: 1.0825088224361175e-05,
            },
            Case {
                what: "exact, 10 and 10, mixed",
                x: vec![1.1, 2.3, 0.4, 5.5, 3.3, 9.9, 7.1, 6.2, 8.8, 4.7],
                y: vec![5.2, 6.9, 7.7, 8.1, 9.4, 10.2, 11.5, 6.6, 12.0, 7.3],
                u: 18,
                p_value: 0.014689644720604442,
            },
            Case {
                what: "exact, 6 and 6, with ties",
                x: vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
                y: vec![2.0, 2.0, 3.0, 3.0, 4.0, 4.0],
                u: 12,
                p_value: 0.39393939393939387,
            },
            Case {
                what: "exact, 8 and 5, all tied",
                x: vec![5.0; 8],
                y: vec![5.0; 5],
                u: 20,
                p_value: 1.0,
            },
            Case {
                what: "exact, 7 and 9, some ties",
                x: vec![1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0],
                y: vec![3.0, 3.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 8.0],
                u: 13,
                p_value: 0.054895104895104824,
            },
            Case {
                what: "exact, 20 and 20, largest exact size",
                x: (0..20).map(|i| i as f64 * 0.5).collect(),
                y: (0..20).map(|i| i as f64 * 0.5 + 3.2).collect(),
                u: 91,
                p_value: 0.0026426305915598445,
            },
            Case {
                what: "normal, 21 and 21, smallest approximated size",
                x: (0..21).map(|i| i as f64 * 0.5).collect(),
                y: (0..21).map(|i| i as f64 * 0.5 + 3.2).collect(),
                u: 105,
                p_value: 0.0036668091984670484,
            },
            Case {
                what: "normal, 25 and 10, with ties",
                x: (0..25).map(|i| (i / 3) as f64).collect(),
                y: (0..10).map(|i| (i / 2 + 4) as f64).collect(),
                u: 70,
                p_value: 0.04460971802493963,
            },
            Case {
                what: "normal, 30 and 30, separated",
                x: range(0, 30),
                y: range(30, 60),
                u: 0,
                p_value: 2.8719490663203428e-11,
            },
            Case {
                what: "normal, 1 and 600",
                x: vec![0.5],
                y: range(0, 600),
                u: 1,
                p_value: 0.08481488687750142,
            },
        ]
    }

    #[test]
    fn mann_whitney_u_matches_asv() {
        for case in cases() {
            let result = mann_whitney_u(&case.x, &case.y);

            assert_eq!(result.u, case.u, "U statistic: {}", case.what);
            let tolerance = 1e-13 * case.p_value;
            assert!(
                (result.p_value - case.p_value).abs() <= tolerance,
                "p-value: {}: got {:e}, asv {:e}",
                case.what,
                result.p_value,
                case.p_value
            );
        }
    }

    #[test]
    fn mann_whitney_u_exact_is_bit_identical() {
        // The exact branch reproduces asv's float operations one for one.
        for case in cases().into_iter().filter(|c| c.what.starts_with("exact")) {
            let result = mann_whitney_u(&case.x, &case.y);

            assert_eq!(result.p_value, case.p_value, "{}", case.what);
        }
    }

    #[test]
    fn mann_whitney_u_is_symmetric() {
        for case in cases() {
            let forward = mann_whitney_u(&case.x, &case.y);
            let backward = mann_whitney_u(&case.y, &case.x);

            assert_eq!(forward.p_value, backward.p_value, "{}", case.what);
        }
    }

    #[test]
    fn small_samples_with_ties_by_hand() {
        // x = [1, 2, 2], y = [2, 3]: of the 6 pairs none has x > y and two
        // are tied (2, 2). U = 0 would be the most significant reading, so
        // the ties count for x: U = 2. For sizes 3 and 2 the 10 orderings
        // give U = 0..6 with counts 1, 1, 2, 2, 2, 1, 1. Lower tail
        // P(U <= 2) = 4/10; the upper tail starts above max(6/2, 6-2-1) = 3:
        // 1 - P(U <= 3) = 4/10. p = 0.8.
        let result = mann_whitney_u(&[1.0, 2.0, 2.0], &[2.0, 3.0]);

        assert_eq!(result.u, 2);
        assert!((result.p_value - 0.8).abs() < 1e-12, "{result:?}");
    }

    #[test]
    fn minimum_attainable_p_by_hand() {
        // Fully separated samples reach the smallest two-sided p-value,
        // 2 / binomial(m + n, m): 2/252 for 5 and 5, 2/184,756 for 10 and 10
        // and 2/2 = 1 for one sample a side, where no test is possible.
        let cases = [(5, 2.0 / 252.0), (10, 2.0 / 184_756.0), (1, 1.0)];
        for (size, expected) in cases {
            let low: Vec<f64> = (0..size).map(f64::from).collect();
            let high: Vec<f64> = (0..size).map(|k| f64::from(k + size)).collect();

            let result = mann_whitney_u(&low, &high);

            assert_eq!(result.u, 0, "size {size}");
            assert!(
                (result.p_value - expected).abs() < 1e-15,
                "size {size}: {} != {expected}",
                result.p_value
            );
        }
    }

    #[test]
    fn one_sample_sides_by_hand() {
        // 1 against 3: U counts 0..3 have one ordering each, total 4. x = 2.5
        // is above two of y = [1, 2, 3]: U = 2, reduced to min(2, 3 - 2) = 1.
        // Lower tail P(U <= 1) = 2/4; upper tail from max(1, 3-1-1) = 1:
        // 1 - 2/4. p = 1.
        let result = mann_whitney_u(&[2.5], &[1.0, 2.0, 3.0]);

        assert_eq!(result.u, 2);
        assert_eq!(result.p_value, 1.0);
    }

    #[test]
    fn u_counts_sum_to_binomial() {
        for (m, n) in [(1, 1), (3, 4), (10, 10), (20, 20), (7, 13)] {
            let counts = u_counts(m, n);

            assert_eq!(counts.len(), m * n + 1, "length for ({m}, {n})");
            let total: u128 = counts.iter().map(|&c| c as u128).sum();
            assert_eq!(Some(total), binomial(m + n, m), "sum for ({m}, {n})");
        }
    }

    #[test]
    fn binomial_values() {
        let cases = [
            ((5, 2), Some(10)),
            ((20, 10), Some(184_756)),
            ((40, 20), Some(137_846_528_820)),
            ((3, 5), Some(0)),
            ((7, 0), Some(1)),
            ((500, 1), Some(500)),
            ((1000, 500), None),
        ];
        for ((n, k), expected) in cases {
            assert_eq!(binomial(n, k), expected, "binomial({n}, {k})");
        }
    }
}
