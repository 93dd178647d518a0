//! Python's float formatting (`format(x, ".2f")`, `".3e"`, `"g"`, `repr`
//! and `json.dumps`), which asv and tabulate use to print numbers.
//!
//! Rust's `{:.N}` and `{:.Ne}` round the exact binary value half to even,
//! as Python does, so they give the same digits. Only the spelling of the
//! exponent, of infinities and of NaN differs.

/// Formats like Python's `format(value, f".{decimals}f")`.
pub fn fixed(value: f64, decimals: usize) -> String {
    match special(value) {
        Some(text) => text.to_owned(),
        None => format!("{value:.decimals$}"),
    }
}

/// Formats like Python's `format(value, f".{decimals}e")`: `1.500e+09`.
pub fn exponential(value: f64, decimals: usize) -> String {
    match special(value) {
        Some(text) => text.to_owned(),
        None => python_exponent(&format!("{value:.decimals$e}")),
    }
}

/// Formats like Python's `format(value, f".{precision}g")`.
///
/// Rounds to `precision` significant digits, then uses fixed notation when
/// the decimal exponent is at least -4 and below `precision`, else
/// scientific notation. Trailing zeros are removed in both cases.
pub fn general(value: f64, precision: usize) -> String {
    if let Some(text) = special(value) {
        return text.to_owned();
    }
    let precision = precision.max(1);
    let scientific = format!("{value:.prec$e}", prec = precision - 1);
    let exponent = exponent_of(&scientific);
    if exponent >= -4 && exponent < precision as i32 {
        let decimals = (precision as i32 - 1 - exponent) as usize;
        strip_fraction_zeros(&format!("{value:.decimals$}")).to_owned()
    } else {
        let (mantissa, _) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        python_exponent(&format!("{}e{exponent}", strip_fraction_zeros(mantissa)))
    }
}

/// Formats like Python's `repr(value)` for a float: the shortest digits that
/// read back to the same value, as `0.1`, `42.0`, `1e+16` or `1.5e-05`.
pub fn repr(value: f64) -> String {
    if let Some(text) = special(value) {
        return text.to_owned();
    }
    // Rust's `{:e}` also prints the shortest round-trip digits.
    let shortest = format!("{value:e}");
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };

    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            format!("{whole}.{fraction}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        python_exponent(&format!("{sign}{mantissa}e{exponent}"))
    }
}

/// Formats a float like Python's `json.dumps`: `repr`, except that
/// infinities and NaN are spelled `Infinity`, `-Infinity` and `NaN`.
pub fn json_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        repr(value)
    }
}

/// Returns Python's spelling of infinities and NaN, or `None` for a finite value.
fn special(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("nan")
    } else if value == f64::INFINITY {
        Some("inf")
    } else if value == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// Rewrites Rust's exponent (`1.5e9`, `1.5e-5`) as Python's (`1.5e+09`, `1.5e-05`).
fn python_exponent(rust: &str) -> String {
    let Some((mantissa, exponent)) = rust.split_once('e') else {
        return rust.to_owned();
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

fn exponent_of(scientific: &str) -> i32 {
    scientific
        .split_once('e')
        .and_then(|(_, exponent)| exponent.parse().ok())
        .unwrap_or(0)
}

/// Removes trailing zeros after a decimal point, and the point if nothing
/// follows it.
fn strip_fraction_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings: Python 3.11 `format()`, `repr()` and `json.dumps()`.

    #[test]
    fn fixed_matches_python() {
        let cases = [
            (3.0, 2, "3.00"),
            (87.2806, 2, "87.28"),
            (0.125, 2, "0.12"),
            (0.375, 2, "0.38"),
            (-0.001, 2, "-0.00"),
            (-0.0, 2, "-0.00"),
            (2.5, 0, "2"),
            (f64::INFINITY, 2, "inf"),
            (f64::NEG_INFINITY, 2, "-inf"),
            (f64::NAN, 2, "nan"),
        ];
        for (value, decimals, expected) in cases {
            assert_eq!(
                fixed(value, decimals),
                expected,
                "{value:?} with {decimals} decimals"
            );
        }
    }

    #[test]
    fn exponential_matches_python() {
        let cases = [
            (1.5e9, 3, "1.500e+09"),
            (0.000012345, 3, "1.234e-05"),
            (1e100, 3, "1.000e+100"),
            (123.0, 0, "1e+02"),
        ];
        for (value, decimals, expected) in cases {
            assert_eq!(exponential(value, decimals), expected, "{value:?}");
        }
    }

    #[test]
    fn general_matches_python() {
        let cases = [
            (3.0, 6, "3"),
            (115.9, 6, "115.9"),
            (0.27, 6, "0.27"),
            (1234567.0, 6, "1.23457e+06"),
            (0.0001, 6, "0.0001"),
            (0.00001234, 6, "1.234e-05"),
            (0.0, 6, "0"),
            (-0.0, 6, "-0"),
            (100000.0, 6, "100000"),
            (999999.5, 6, "1e+06"),
            (0.5, 2, "0.5"),
            (0.123, 2, "0.12"),
            (1234.0, 2, "1.2e+03"),
            (99.5, 2, "1e+02"),
            (f64::INFINITY, 6, "inf"),
            (f64::NAN, 6, "nan"),
        ];
        for (value, precision, expected) in cases {
            assert_eq!(
                general(value, precision),
                expected,
                "{value:?} with precision {precision}"
            );
        }
    }

    #[test]
    fn repr_matches_python() {
        let cases = [
            (0.1, "0.1"),
            (42.0, "42.0"),
            (-3.0, "-3.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0004540278911590576, "0.0004540278911590576"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (value, expected) in cases {
            assert_eq!(repr(value), expected, "{value:?}");
        }
    }

    #[test]
    fn json_float_spells_specials_like_python() {
        assert_eq!(json_float(f64::INFINITY), "Infinity");
        assert_eq!(json_float(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(json_float(f64::NAN), "NaN");
        assert_eq!(json_float(2.5), "2.5");
    }
}
