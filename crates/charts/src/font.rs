//! The font every chart is drawn with, compiled into the binary.
//!
//! DejaVu Sans 2.37; its license and origin are in `crates/charts/fonts/`.
//! plotters' `ab_glyph` feature draws text from registered font bytes,
//! without fontconfig or freetype, so rendering needs no font on the machine.

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// The bytes of `DejaVuSans.ttf`.
pub const FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family name the font is registered under. plotters' own defaults
/// (axis labels, captions) ask for `sans-serif`, so they find it too.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the font with plotters once per process and reports whether
/// the bytes are a valid font. Every render calls it first.
pub(crate) fn ensure_registered() -> Result<(), crate::ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let valid = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if valid {
        Ok(())
    } else {
        Err(crate::ChartError::Drawing(
            "the built-in font DejaVuSans.ttf could not be parsed".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_font_registers() {
        ensure_registered().expect("DejaVuSans.ttf parses");
    }
}
