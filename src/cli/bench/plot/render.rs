//! The figure as an SVG document and as a PNG file.

use plotters::prelude::*;

use super::{draw, font, size, Labels, Row};

/// The SVG document (its text laid out with the embedded font's metrics; the viewer draws
/// it in its own sans-serif).
pub fn svg(rows: &[Row], labels: &Labels<'_>) -> Result<String, String> {
    font::register()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size(labels)).into_drawing_area();
        draw(&root, rows, labels).map_err(|e| format!("drawing the SVG: {e}"))?;
        root.present()
            .map_err(|e| format!("drawing the SVG: {e}"))?;
    }
    Ok(out)
}

/// The PNG file's bytes: drawn into an RGB buffer, then encoded.
pub fn png(rows: &[Row], labels: &Labels<'_>) -> Result<Vec<u8>, String> {
    font::register()?;
    let (width, height) = size(labels);
    let mut rgb = vec![0; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw(&root, rows, labels).map_err(|e| format!("drawing the PNG: {e}"))?;
        root.present()
            .map_err(|e| format!("drawing the PNG: {e}"))?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let encode = |e: png::EncodingError| format!("encoding the PNG: {e}");
    let mut writer = encoder.write_header().map_err(encode)?;
    writer.write_image_data(&rgb).map_err(encode)?;
    writer.finish().map_err(encode)?;
    Ok(out)
}
