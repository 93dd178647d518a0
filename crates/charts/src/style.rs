//! Colours, text sizes and number formats shared by the charts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::FAMILY;

pub(crate) const WORSE: RGBColor = RGBColor(200, 40, 40);
pub(crate) const BETTER: RGBColor = RGBColor(30, 130, 60);
pub(crate) const UNCHANGED: RGBColor = RGBColor(110, 110, 110);
/// Quarantined benchmarks: amber, apart from both verdict colours and grey.
pub(crate) const QUARANTINED: RGBColor = RGBColor(190, 120, 0);
pub(crate) const HISTORY: RGBColor = RGBColor(60, 80, 130);
pub(crate) const TEXT: RGBColor = RGBColor(30, 30, 30);
pub(crate) const MUTED_TEXT: RGBColor = RGBColor(90, 90, 90);
/// The fill of the noise band: a light grey that points stay visible on.
pub(crate) const NOISE_FILL: RGBColor = RGBColor(228, 228, 228);
pub(crate) const REFERENCE_LINE: RGBColor = RGBColor(150, 150, 150);

pub(crate) const TITLE_SIZE: f64 = 17.0;
pub(crate) const LABEL_SIZE: f64 = 13.0;
pub(crate) const SMALL_SIZE: f64 = 11.0;

/// Returns the text style of `size` pixels in `color`, anchored at the
/// left end and vertical centre of its position.
pub(crate) fn text(size: f64, color: RGBColor) -> TextStyle<'static> {
    TextStyle {
        color: color.to_backend_color(),
        ..TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Left, VPos::Center))
    }
}

/// Returns `style` in `color`; unlike `TextStyle::color`, the result does
/// not borrow the colour.
pub(crate) fn recolor(style: &TextStyle<'static>, color: RGBColor) -> TextStyle<'static> {
    TextStyle {
        color: color.to_backend_color(),
        ..style.clone()
    }
}

/// Returns the longest start of `label` that is at most `max_width` pixels
/// wide in `style`, ending with "…" when it was cut.
pub(crate) fn fit_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    label: &str,
    style: &TextStyle<'_>,
    max_width: u32,
) -> String {
    let width_of = |text: &str| {
        area.estimate_text_size(text, style)
            .map(|(width, _)| width)
            .unwrap_or(u32::MAX)
    };
    if width_of(label) <= max_width {
        return label.to_owned();
    }
    let chars: Vec<char> = label.chars().collect();
    // Binary search for the longest prefix that fits with the ellipsis.
    let (mut fits, mut too_long) = (0, chars.len());
    while too_long - fits > 1 {
        let middle = (fits + too_long) / 2;
        let candidate: String = chars[..middle].iter().chain(['…'].iter()).collect();
        if width_of(&candidate) <= max_width {
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    chars[..fits].iter().chain(['…'].iter()).collect()
}

/// Formats a ratio for an axis or a label: three significant digits at
/// most, trailing zeros dropped, and a "×" sign.
pub(crate) fn format_ratio(ratio: f64) -> String {
    format!("{}×", format_number(ratio))
}

/// Formats a positive number with three significant digits, in scientific
/// notation outside 0.001 to 100,000.
pub(crate) fn format_number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let exponent = value.abs().log10().floor() as i32;
    if !(-3..5).contains(&exponent) {
        return format!("{value:.2e}");
    }
    let decimals = usize::try_from(2 - exponent).unwrap_or(0);
    let fixed = format!("{value:.decimals$}");
    if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        fixed
    }
}

/// Returns `low..high` widened on a log scale by `share` of its span on
/// each side, and by at least 5% when the span is tiny.
pub(crate) fn pad_log_range(low: f64, high: f64, share: f64) -> (f64, f64) {
    let span = (high / low).ln().max(0.0);
    let pad = (span * share).max(1.05_f64.ln());
    (low / pad.exp(), high * pad.exp())
}

/// The light grey of grid lines.
pub(crate) const GRID: RGBColor = RGBColor(232, 232, 232);

/// Returns at most `max_ticks` round values between `low` and `high` for
/// a log axis. A range of less than a factor of 4 gets evenly spaced
/// ticks of 1, 2 or 5 times a power of ten. A wider range gets the
/// finest of these mantissas per power of ten that gives few enough
/// ticks: 1, 1.5, 2, 3, 5, 7, then 1, 2, 5, then 1, 3, then powers of ten,
/// thinned evenly when even those are too many. plotters' own log axis
/// labels only powers of ten, which leaves a ratio axis from 0.5 to 2
/// with one label.
pub(crate) fn log_ticks(low: f64, high: f64, max_ticks: usize) -> Vec<f64> {
    if high / low < 4.0 {
        return linear_ticks(low, high, max_ticks);
    }
    let mantissa_sets: [&[f64]; 4] = [
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 3.0],
        &[1.0],
    ];
    let first = low.log10().floor() as i32;
    let last = high.log10().ceil() as i32;
    let ticks_of = |mantissas: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|exponent| {
                let scale = 10f64.powi(exponent);
                mantissas.iter().map(move |mantissa| mantissa * scale)
            })
            .filter(|tick| (low..=high).contains(tick))
            .collect()
    };
    for mantissas in mantissa_sets {
        let ticks = ticks_of(mantissas);
        if ticks.len() <= max_ticks {
            return ticks;
        }
    }
    let powers = ticks_of(&[1.0]);
    let step = powers.len().div_ceil(max_ticks.max(1));
    powers.into_iter().step_by(step).collect()
}

/// Returns evenly spaced ticks from `low` to `high`, at most `max_ticks`,
/// spaced 1, 2 or 5 times a power of ten.
fn linear_ticks(low: f64, high: f64, max_ticks: usize) -> Vec<f64> {
    let rough_step = (high - low) / max_ticks.max(1) as f64;
    let magnitude = 10f64.powf(rough_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|mantissa| mantissa * magnitude)
        .find(|step| (high - low) / step <= max_ticks as f64)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    // Multiplying the index by the step keeps rounding errors from adding up.
    (first..=last).map(|index| index as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_pick_the_finest_set_that_fits() {
        let cases: [(f64, f64, &[f64]); 4] = [
            (0.45, 2.2, &[0.5, 0.7, 1.0, 1.5, 2.0]),
            (
                0.00095,
                0.00125,
                &[0.00095, 0.001, 0.00105, 0.0011, 0.00115, 0.0012, 0.00125],
            ),
            (
                0.01,
                1000.0,
                &[
                    0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0,
                ],
            ),
            (
                1e-9,
                1e9,
                &[1e-9, 1e-7, 1e-5, 1e-3, 0.1, 10.0, 1e3, 1e5, 1e7, 1e9],
            ),
        ];
        for (low, high, expected) in cases {
            let ticks = log_ticks(low, high, 12);

            assert_eq!(ticks.len(), expected.len(), "{low} to {high}: {ticks:?}");
            for (tick, expected) in ticks.iter().zip(expected) {
                assert!(
                    (tick / expected - 1.0).abs() < 1e-9,
                    "{low} to {high}: {ticks:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (1.23456, "1.23"),
            (0.909090, "0.909"),
            (12.5, "12.5"),
            (250.0, "250"),
            (0.0042, "0.0042"),
            (123_456.0, "1.23e5"),
            (0.000_012_3, "1.23e-5"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_number(value), expected, "{value}");
        }
    }

    #[test]
    fn log_range_padding_keeps_the_range_inside() {
        let (low, high) = pad_log_range(0.5, 2.0, 0.1);

        assert!(low < 0.5, "{low}");
        assert!(low > 0.4, "{low}");
        assert!(high > 2.0, "{high}");
        assert!(high < 2.5, "{high}");
    }
}
