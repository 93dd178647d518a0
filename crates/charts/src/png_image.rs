//! Encoding a drawn RGB buffer as PNG.

use crate::error::ChartError;

/// Encodes `rgb`, three bytes a pixel row by row, as an 8-bit RGB PNG.
///
/// The fast compression level is used because a chart is mostly flat
/// colour, which compresses well at any level, and encoding time counts
/// towards every uncached request.
pub(crate) fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut bytes = Vec::with_capacity(rgb.len() / 8);
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}
