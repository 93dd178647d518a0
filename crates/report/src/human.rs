//! asv's human-readable values: `1.75ms`, `454μs`, `5.73m`, `28.1M`,
//! `1.00±0.01ms`, `n/a`, `failed`. These reproduce `human_value`,
//! `human_time` and `human_float` of asv 0.6.6 and asv-runner 0.3, and
//! asv's `human_file_size`, digit for digit.

use pitot_stats::Measurement;

use crate::pyfmt;

/// Time units asv steps through, with their length in seconds.
const TIME_UNITS: [(&str, f64); 12] = [
    ("ns", 0.000000001),
    ("μs", 0.000001),
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
    ("w", 604800.0),
    // asv truncates 52/12 and 52/4 weeks to whole seconds.
    ("M", 2620800.0),
    ("q", 7862400.0),
    ("y", 31449600.0),
    ("C", 3144960000.0),
];

/// The units asv uses for a time of exactly 0 without an error estimate.
const ZERO_TIME_UNITS: [(&str, f64); 2] = [("s", 1.0), ("m", 60.0)];

/// Formats a measurement as asv's `human_value`: seconds and bytes get
/// units, other units print the number as Python's `json.dumps` would,
/// failed is `failed` and skipped or missing is `n/a`.
pub fn human_value(measurement: Measurement, unit: Option<&str>, error: Option<f64>) -> String {
    let value = match measurement {
        Measurement::Value(value) => value,
        Measurement::Failed => return "failed".to_owned(),
        Measurement::Skipped | Measurement::Missing => return "n/a".to_owned(),
    };
    match unit {
        Some("seconds") => human_time(value, error),
        Some("bytes") => human_file_size(value, error),
        _ => {
            let mut text = json_number(value);
            if let Some(error) = error {
                text.push('±');
                text.push_str(&pyfmt::general(error, 2));
            }
            text
        }
    }
}

/// Prints a number as `json.dumps` prints the value asv read from the
/// results file.
///
/// NOTE: asv keeps JSON integers as Python ints, so `42` prints as `42` and
/// `42.0` as `42.0`. pitot's model stores every value as `f64`, so an
/// integral value below 1e16 prints as an integer. A track benchmark that
/// returned the float `42.0` therefore prints `42` here and `42.0` in asv.
fn json_number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.0}")
    } else {
        pyfmt::json_float(value)
    }
}

/// Formats seconds with the largest unit below the value, three significant
/// digits kept with trailing zeros (`1.00s`), as asv's `human_time`.
/// Values beyond 100 years print as `~0`, as in asv.
pub fn human_time(seconds: f64, error: Option<f64>) -> String {
    let mut scale = seconds;
    if scale == 0.0 {
        if let Some(error) = error {
            scale = error;
        }
    }
    let units: &[(&str, f64)] = if scale == 0.0 {
        &ZERO_TIME_UNITS
    } else {
        &TIME_UNITS
    };
    if scale.is_nan() {
        return "n/a".to_owned();
    }

    for pair in units.windows(2) {
        let (name, length) = pair[0];
        if scale < pair[1].1 {
            let text = human_float(seconds / length, 3, None, true);
            return match error {
                None => format!("{text}{name}"),
                Some(error) => {
                    let error_text = human_float(error / length, 1, Some(2), false);
                    format!("{text}±{error_text}{name}")
                }
            };
        }
    }
    "~0".to_owned()
}

/// Formats a byte count with a decimal suffix (`k`, `M`, `G`, ...) and
/// three significant digits, as asv's `human_file_size`. Sizes below 1
/// byte print as `0`.
pub fn human_file_size(size: f64, error: Option<f64>) -> String {
    const SUFFIXES: [&str; 8] = ["", "k", "M", "G", "T", "P", "E", "H"];
    let size = if size < 1.0 { 0.0 } else { size };
    // The same float steps as asv's log(size) / log(1000), so sizes next
    // to a power of 1000 pick the same suffix.
    let num_scale = if size == 0.0 {
        0
    } else {
        (size.ln() / 1000f64.ln()).floor() as i64
    };
    if size.is_infinite() {
        // asv raises OverflowError here.
        return "inf".to_owned();
    }
    let suffix = usize::try_from(num_scale)
        .ok()
        .and_then(|index| SUFFIXES.get(index))
        .copied()
        .unwrap_or("?");
    // asv truncates the scale to an integer, exact for these powers of 1000
    // up to 1e15, and converts it back to float for the division.
    let scale = 1000f64.powf(num_scale as f64).trunc();
    let text = human_float(size / scale, 3, None, false);
    match error {
        None => format!("{text}{suffix}"),
        Some(error) => {
            let error_text = human_float(error / scale, 1, Some(2), false);
            format!("{text}±{error_text}{suffix}")
        }
    }
}

/// Formats a number with `significant` digits, as asv-runner's
/// `human_float`.
///
/// `truncate_small` counts that many leading zeros of a number below 1 as
/// significant. `significant_zeros` keeps trailing zeros (`1.00`).
/// Numbers below 1e-5 or from 1e8 up use scientific notation.
pub fn human_float(
    value: f64,
    significant: i32,
    truncate_small: Option<i32>,
    significant_zeros: bool,
) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if value.is_infinite() || value.is_nan() {
        return pyfmt::fixed(value, 0);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let value = value.abs();

    let mut magnitude = value.log10().floor() as i32 + 1;
    if let Some(truncate_small) = truncate_small {
        magnitude = magnitude.max(-truncate_small + 1);
    }
    let num_digits = significant - magnitude;

    let scientific = magnitude <= -5 || magnitude >= 9;
    let digits = if scientific {
        pyfmt::exponential(value, significant.max(0) as usize)
    } else if num_digits <= 0 {
        // Python's int(round(value, num_digits)): keep `significant` digits.
        rounded_integer(value, significant)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        pyfmt::fixed(value, num_digits as usize)
    };
    let mut text = format!("{sign}{digits}");

    if !significant_zeros && !scientific && text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    if significant_zeros && !text.contains('.') && (text.chars().count() as i32) < significant {
        let zeros = (significant - text.chars().count() as i32) as usize;
        text = format!("{text}.{}", "0".repeat(zeros));
    }
    text
}

/// Rounds a number of at least `significant` integer digits to
/// `significant` significant digits, half to even on the exact binary
/// value as Python's `round` does, and prints it as an integer.
fn rounded_integer(value: f64, significant: i32) -> String {
    let scientific = format!("{value:.prec$e}", prec = (significant - 1).max(0) as usize);
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: usize = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let zeros = (exponent + 1).saturating_sub(digits.len());
    format!("{digits}{}", "0".repeat(zeros))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings: asv 0.6.6 `asv.util.human_value` and friends under
    // Python 3.11, or the asv compare reference outputs.

    #[test]
    fn human_time_matches_asv() {
        let cases = [
            (0.0004540278911590576, None, "454μs"),
            (0.0017511451244354248, None, "1.75ms"),
            (8.364510536193848e-05, None, "83.6μs"),
            (344.0, None, "5.73m"),
            (1.0, Some(0.1), "1.00±0.1s"),
            (1.0, Some(0.0), "1.00±0s"),
            (3.0, Some(1.0), "3.00±1s"),
            (0.0, None, "0s"),
            (0.0, Some(0.0), "0±0s"),
            (0.0, Some(0.002), "0±2ms"),
            (1e-10, None, "0.100ns"),
            (1e-12, None, "0.00100ns"),
            (-5.0, None, "-5.000e+09ns"),
            (1e10, None, "~0"),
            (f64::INFINITY, None, "~0"),
            (59.999, None, "60.0s"),
            (123.456, None, "2.06m"),
            (0.0123, Some(0.00049), "12.3±0.5ms"),
            (1.0, Some(0.00004), "1.00±0s"),
        ];
        for (seconds, error, expected) in cases {
            assert_eq!(
                human_time(seconds, error),
                expected,
                "{seconds:?} ± {error:?}"
            );
        }
    }

    #[test]
    fn human_file_size_matches_asv() {
        let cases = [
            (28100000.0, None, "28.1M"),
            (1000.0, None, "1k"),
            (1e6, None, "1M"),
            (999.0, None, "999"),
            (0.5, None, "0"),
            (-10.0, None, "0"),
            (123456789.0, Some(1234567.0), "123±1M"),
            (1e30, None, "1?"),
            (2048.0, Some(0.0), "2.05±0k"),
        ];
        for (size, error, expected) in cases {
            assert_eq!(
                human_file_size(size, error),
                expected,
                "{size:?} ± {error:?}"
            );
        }
    }

    #[test]
    fn human_float_matches_asv() {
        let cases = [
            (1234.5, 3, None, false, "1230"),
            (1250.0, 3, None, false, "1250"),
            (99950.0, 3, None, false, "100000"),
            (0.5, 1, Some(2), false, "0.5"),
            (0.004, 1, Some(2), false, "0"),
            (0.04, 1, Some(2), false, "0.04"),
            (0.05, 1, Some(2), false, "0.05"),
            (12.0, 3, None, true, "12.0"),
            (-1.0, 3, None, true, "-1.0"),
            (1.5, 3, None, true, "1.50"),
            (123456789.0, 3, None, false, "1.235e+08"),
            (0.25, 1, None, false, "0.2"),
        ];
        for (value, significant, truncate_small, zeros, expected) in cases {
            assert_eq!(
                human_float(value, significant, truncate_small, zeros),
                expected,
                "human_float({value:?}, {significant}, {truncate_small:?}, {zeros})"
            );
        }
    }

    #[test]
    fn human_value_by_unit() {
        let cases = [
            (Measurement::Value(42.0), Some("unit"), None, "42"),
            (Measurement::Value(0.5), Some("unit"), None, "0.5"),
            // asv prints `3.0±0.25` for the float 3.0 (see `json_number`).
            (Measurement::Value(3.0), None, Some(0.25), "3±0.25"),
            (Measurement::Value(1e16), Some("unit"), None, "1e+16"),
            (
                Measurement::Value(f64::INFINITY),
                Some("unit"),
                None,
                "Infinity",
            ),
            (Measurement::Value(2.5), Some("seconds"), None, "2.50s"),
            (Measurement::Value(2048.0), Some("bytes"), None, "2.05k"),
            (Measurement::Failed, Some("seconds"), Some(1.0), "failed"),
            (Measurement::Skipped, Some("seconds"), None, "n/a"),
            (Measurement::Missing, None, None, "n/a"),
        ];
        for (measurement, unit, error, expected) in cases {
            assert_eq!(
                human_value(measurement, unit, error),
                expected,
                "{measurement:?} in {unit:?}"
            );
        }
    }
}
