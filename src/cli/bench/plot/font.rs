//! The plot's one font, embedded: DejaVu Sans, cut down to the characters the figure uses
//! (assets/fonts: its licence and how it was cut). Plotters' `ab_glyph` feature lays text
//! out and draws it with this font alone, so no system fonts are needed.

use plotters::style::{register_font, FontStyle};

const DEJAVU_SANS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans-subset.ttf"
));

/// Makes the font plotters' `sans-serif` (every style falls back to it).
pub fn register() -> Result<(), String> {
    register_font(super::style::FONT, FontStyle::Normal, DEJAVU_SANS)
        .map_err(|_| "the embedded font is not a TrueType font".to_owned())
}
