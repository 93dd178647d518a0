//! Properties of the statistics that must hold for any samples, checked on
//! generated inputs: the tests do not care which side is called "before",
//! the units the values are in, or the order the p-values come in.

use pitot_stats::change_points::{detect_change_points, ChangePointOptions};
use pitot_stats::fdr::benjamini_hochberg;
use pitot_stats::interval::hodges_lehmann_ratio;
use pitot_stats::mann_whitney::mann_whitney_u;
use proptest::prelude::*;

/// Positive timings between a microsecond and a second, with repeats
/// likely so that ties are exercised.
fn timings(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(prop_oneof![(1u32..8).prop_map(|step| f64::from(step) * 1e-3), 1e-6..1.0f64], 1..max_len)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn u_test_p_value_is_symmetric_and_a_probability(x in timings(30), y in timings(30)) {
        let forward = mann_whitney_u(&x, &y);
        let backward = mann_whitney_u(&y, &x);

        prop_assert!((0.0..=1.0).contains(&forward.p_value), "p = {}", forward.p_value);
        prop_assert!(close(forward.p_value, backward.p_value), "{} vs {}", forward.p_value, backward.p_value);
    }

    #[test]
    fn u_test_ignores_units(x in timings(25), y in timings(25), scale in 1e-3..1e3f64) {
        let scaled_x: Vec<f64> = x.iter().map(|value| value * scale).collect();
        let scaled_y: Vec<f64> = y.iter().map(|value| value * scale).collect();

        let plain = mann_whitney_u(&x, &y);
        let scaled = mann_whitney_u(&scaled_x, &scaled_y);

        // Scaling can merge or split ties only through rounding, which the
        // generated values avoid: multiples of 1 ms and uniform draws.
        prop_assert_eq!(plain.u, scaled.u);
        prop_assert!(close(plain.p_value, scaled.p_value));
    }

    #[test]
    fn ratio_interval_contains_its_estimate(before in timings(16), after in timings(16)) {
        if let Some(interval) = hodges_lehmann_ratio(&before, &after, 0.99) {
            prop_assert!(interval.low <= interval.estimate && interval.estimate <= interval.high, "{interval:?}");
            prop_assert!(interval.low > 0.0, "{interval:?}");
        }
    }

    #[test]
    fn ratio_interval_follows_a_slowdown(before in timings(16), after in timings(16), factor in 0.1..10.0f64) {
        let slowed: Vec<f64> = after.iter().map(|value| value * factor).collect();

        let plain = hodges_lehmann_ratio(&before, &after, 0.99);
        let scaled = hodges_lehmann_ratio(&before, &slowed, 0.99);

        prop_assert_eq!(plain.is_some(), scaled.is_some());
        if let (Some(plain), Some(scaled)) = (plain, scaled) {
            prop_assert!(close(plain.estimate * factor, scaled.estimate), "{plain:?} {scaled:?}");
            prop_assert!(close(plain.low * factor, scaled.low), "{plain:?} {scaled:?}");
            prop_assert!(close(plain.high * factor, scaled.high), "{plain:?} {scaled:?}");
        }
    }

    #[test]
    fn swapping_sides_inverts_the_ratio_interval(before in timings(16), after in timings(16)) {
        let forward = hodges_lehmann_ratio(&before, &after, 0.99);
        let backward = hodges_lehmann_ratio(&after, &before, 0.99);

        prop_assert_eq!(forward.is_some(), backward.is_some());
        if let (Some(forward), Some(backward)) = (forward, backward) {
            prop_assert!(close(forward.estimate, 1.0 / backward.estimate), "{forward:?} {backward:?}");
            prop_assert!(close(forward.low, 1.0 / backward.high), "{forward:?} {backward:?}");
            prop_assert!(close(forward.high, 1.0 / backward.low), "{forward:?} {backward:?}");
        }
    }

    #[test]
    fn adjusted_p_values_keep_order_and_bounds(p_values in prop::collection::vec(prop::option::of(0.0..=1.0f64), 0..60)) {
        let adjusted = benjamini_hochberg(&p_values);

        prop_assert_eq!(adjusted.len(), p_values.len());
        let mut pairs = Vec::new();
        for (raw, adjusted) in p_values.iter().zip(&adjusted) {
            prop_assert_eq!(raw.is_some(), adjusted.is_some());
            if let (Some(raw), Some(adjusted)) = (raw, adjusted) {
                prop_assert!(*raw <= *adjusted && *adjusted <= 1.0, "{raw} -> {adjusted}");
                pairs.push((*raw, *adjusted));
            }
        }
        // A smaller raw p-value never gets a larger adjusted one.
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for window in pairs.windows(2) {
            prop_assert!(window[0].1 <= window[1].1, "{window:?}");
        }
    }
}

/// Generates a level between 1 µs and 1 s and a relative noise of up to 5%.
fn noisy_series(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    (1e-6..1.0f64, prop::collection::vec(-0.05..0.05f64, 0..max_len))
        .prop_map(|(level, noise)| noise.iter().map(|relative| level * (1.0 + relative)).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn change_points_respect_their_options(values in noisy_series(300), step_at in 0usize..300, factor in 0.5..2.0f64) {
        let mut values = values;
        let step_at = step_at.min(values.len());
        for value in &mut values[step_at..] {
            *value *= factor;
        }
        let options = ChangePointOptions::default();

        let found = detect_change_points(&values, &options);

        let mut previous = 0;
        for point in &found {
            prop_assert!(point.index >= previous + options.min_segment, "{found:?}");
            prop_assert!(point.p_value < options.max_p_value, "{point:?}");
            prop_assert!(point.relative_change().abs() >= options.min_relative_change, "{point:?}");
            previous = point.index;
        }
        prop_assert!(values.len() < options.min_segment || previous + options.min_segment <= values.len());
    }

    #[test]
    fn noise_free_step_found_exactly(before in 5usize..200, after in 5usize..200, level in 1e-6..1e3f64, factor in prop_oneof![0.1..0.9f64, 1.1..10.0f64]) {
        let mut values = vec![level; before];
        values.extend(std::iter::repeat_n(level * factor, after));

        let found = detect_change_points(&values, &ChangePointOptions::default());

        prop_assert_eq!(found.len(), 1, "{:?}", found);
        prop_assert_eq!(found[0].index, before);
        let ratio = found[0].ratio().expect("level is positive");
        prop_assert!(close(ratio, factor) || (ratio - factor).abs() < 1e-9 * factor, "ratio {} vs {}", ratio, factor);
    }
}
