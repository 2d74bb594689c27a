//! `--plot PATH`: the figure, drawn with plotters, as SVG at PATH and as PNG beside it (the
//! same name ending in `.png`; a PATH ending in `.png` gets the PNG and the SVG goes beside
//! it).
//!
//! * Left, [`throughput`]: every run's msgs/s, each repetition a circle, the median filled,
//!   a line from the slowest to the fastest (the table's msgs/s and min-max).
//! * Right, with `--rate` only, [`latency`]: the end-to-end latency CDF, each repetition a
//!   thin line, all of them together a thick one (the table's p50 and p99). A preloaded
//!   run has no latency: its record timestamps are load times, so the time since them says
//!   when the load was. Its figure has the throughput panel alone, and says why.
//!
//! Each system has one colour, in both panels and the [`legend`] under them.

mod font;
mod latency;
mod legend;
mod log_axis;
mod render;
mod style;
mod throughput;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::summary::Row;

pub use render::{png, svg};

/// What the figure is about.
pub struct Labels<'a> {
    /// The figure's title.
    pub title: &'a str,
    /// `Some(rate)` when the records were produced at `rate` msgs/s during each run.
    pub rate: Option<u64>,
}

/// What drawing on a backend `DB` returns.
type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Writes the SVG and the PNG; returns their paths.
pub fn write(path: &Path, rows: &[Row], labels: &Labels<'_>) -> Result<[PathBuf; 2], String> {
    let (svg_path, png_path) = paths(path);
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(&svg_path, svg(rows, labels)?.as_bytes())?;
    write(&png_path, &png(rows, labels)?)?;
    Ok([svg_path, png_path])
}

/// Where the SVG and the PNG go for `--plot path`.
fn paths(path: &Path) -> (PathBuf, PathBuf) {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        (path.with_extension("svg"), path.to_owned())
    } else {
        (path.to_owned(), path.with_extension("png"))
    }
}

/// Width and height in pixels: wider with the latency panel.
fn size(labels: &Labels<'_>) -> (u32, u32) {
    match labels.rate {
        Some(_) => (1500, 680),
        None => (1000, 640),
    }
}

const TITLE_H: u32 = 44;
const LEGEND_H: u32 = 104;

/// The title, the panels side by side, the legend under them.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[Row],
    labels: &Labels<'_>,
) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let (width, height) = root.dim_in_pixel();
    let (title, rest) = root.split_vertically(TITLE_H);
    title.draw(&Text::new(
        labels.title,
        (width as i32 / 2, TITLE_H as i32 / 2),
        style::text(style::TITLE).pos(style::center()),
    ))?;
    let (panels, legend) = rest.split_vertically(height - TITLE_H - LEGEND_H);
    match labels.rate {
        Some(rate) => {
            let (left, right) = panels.split_horizontally(width * 45 / 100);
            throughput::draw(&left, rows, labels.rate)?;
            latency::draw(&right, rows, rate)?;
        }
        None => throughput::draw(&panels, rows, None)?,
    }
    legend::draw(&legend, rows, labels.rate)
}

#[cfg(test)]
mod tests;
