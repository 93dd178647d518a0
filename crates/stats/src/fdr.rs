//! Control of the false discovery rate across the rows of one comparison.
//!
//! A suite of 500 benchmarks tested at p < 0.002 each expects one false
//! alarm per comparison even when nothing changed. The Benjamini-Hochberg
//! procedure bounds the expected share of false alarms among the flagged
//! rows instead. It assumes the p-values are independent or positively
//! dependent. Benchmarks that share a machine and a run are plausibly
//! positively dependent, because a slow runner slows all of them.

/// The default false discovery rate: among the rows pitot flags, at most
/// 5% are expected to be false alarms.
pub const DEFAULT_FDR_LEVEL: f64 = 0.05;

/// Returns the Benjamini-Hochberg adjusted p-value of each entry, `None`
/// where the entry has no p-value.
///
/// Only entries with a p-value count as tests. The adjusted p-value of the
/// i-th smallest of m p-values is `min over j >= i of p_(j) * m / j`,
/// capped at 1. A row is a discovery at level q when its adjusted p-value
/// is at most q, which is the Benjamini-Hochberg step-up rule. A NaN
/// p-value counts as 1.
pub fn benjamini_hochberg(p_values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut tested: Vec<(usize, f64)> = p_values
        .iter()
        .enumerate()
        .filter_map(|(index, p)| p.map(|p| (index, if p.is_nan() { 1.0 } else { p })))
        .collect();
    tested.sort_by(|a, b| a.1.total_cmp(&b.1));

    let count = tested.len() as f64;
    let mut adjusted = vec![None; p_values.len()];
    let mut running_min = 1.0f64;
    for (rank, (index, p)) in tested.iter().enumerate().rev() {
        // `count / rank` is at least 1; the `max` keeps rounding in
        // `p * m / m` from giving an adjusted p-value below the raw one.
        let scaled = (p * count / (rank + 1) as f64).max(*p);
        running_min = running_min.min(scaled);
        adjusted[*index] = Some(running_min);
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_all_close(actual: &[Option<f64>], expected: &[Option<f64>]) {
        assert_eq!(actual.len(), expected.len());
        for (index, (got, want)) in actual.iter().zip(expected).enumerate() {
            match (got, want) {
                (Some(got), Some(want)) => {
                    assert!((got - want).abs() < 1e-15, "entry {index}: {got} != {want}")
                }
                _ => assert_eq!(got, want, "entry {index}"),
            }
        }
    }

    #[test]
    fn adjusted_p_values_by_hand() {
        // Sorted: 0.005 (rank 1), 0.01 (2), 0.03 (3), 0.04 (4), m = 4.
        // Scaled p * m / rank: 0.02, 0.02, 0.04, 0.04. The running minimum
        // from the largest rank down changes nothing here. The None entry is
        // no test and does not count towards m.
        let p_values = [Some(0.01), Some(0.04), None, Some(0.03), Some(0.005)];

        let adjusted = benjamini_hochberg(&p_values);

        assert_all_close(
            &adjusted,
            &[Some(0.02), Some(0.04), None, Some(0.04), Some(0.02)],
        );
    }

    #[test]
    fn running_minimum_lowers_earlier_ranks() {
        // Sorted 0.02 (rank 1) and 0.021 (rank 2), m = 2. Scaled: 0.04 and
        // 0.021. Rank 1 takes the minimum over ranks 1 and 2: 0.021.
        let adjusted = benjamini_hochberg(&[Some(0.021), Some(0.02)]);

        assert_all_close(&adjusted, &[Some(0.021), Some(0.021)]);
    }

    #[test]
    fn adjusted_p_values_are_capped_at_one() {
        // 0.9 * 3 / 1 = 2.7 at rank 1, but the running minimum from rank 3
        // (1.0 * 3 / 3 = 1) caps it.
        let adjusted = benjamini_hochberg(&[Some(1.0), Some(0.9), Some(f64::NAN)]);

        assert_all_close(&adjusted, &[Some(1.0), Some(1.0), Some(1.0)]);
    }

    #[test]
    fn single_complete_separation_among_many_rows() {
        // asv's smallest p for 10 against 10 samples, 2 / binomial(20, 10)
        // = 1.0825e-5, among 499 rows with p = 1: adjusted 1.0825e-5 * 500
        // = 0.0054, a discovery at 5%. Among 4,999 such rows it becomes
        // 0.054 and is dropped.
        let smallest = 1.0825088224361175e-05;
        let mut p_values = vec![Some(1.0); 500];
        p_values[0] = Some(smallest);

        let adjusted = benjamini_hochberg(&p_values);

        let first = adjusted[0].expect("tested");
        assert!((first - smallest * 500.0).abs() < 1e-15, "{first}");
        assert!(first <= DEFAULT_FDR_LEVEL);

        let mut p_values = vec![Some(1.0); 5_000];
        p_values[0] = Some(smallest);
        let first = benjamini_hochberg(&p_values)[0].expect("tested");
        assert!(first > DEFAULT_FDR_LEVEL, "{first}");
    }

    #[test]
    fn empty_input() {
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[None, None]), vec![None, None]);
    }
}
