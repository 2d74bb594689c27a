//! The latency panel's log axis labels. Plotters' own label every key point of a log axis
//! (1 to 9 of each decade over narrow ranges, so the next decade twice); the panel draws
//! the grid from those and its labels from here: 1, 2 and 5 of each decade over up to three
//! decades, each decade over more.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{style, Drawn};

/// Where to put labels between `lo` and `hi` (milliseconds).
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let steps: &[f64] = match (hi / lo).log10().floor() < 3.0 {
        true => &[1.0, 2.0, 5.0],
        false => &[1.0],
    };
    let mut decade = 10f64.powf(lo.log10().floor());
    let mut ticks = Vec::new();
    while decade <= hi {
        ticks.extend(
            steps
                .iter()
                .map(|s| s * decade)
                .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9)),
        );
        decade *= 10.0;
    }
    ticks
}

/// Writes each tick's label under the x axis of `chart`, which is drawn on `area`.
pub fn draw<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    area: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<LogCoord<f64>, Y>>,
    ticks: &[f64],
) -> Drawn<DB> {
    let (base_x, base_y) = area.get_base_pixel();
    let (_, ys) = chart.plotting_area().get_pixel_range();
    for ms in ticks {
        let (x, _) = chart.backend_coord(&(*ms, 0.0));
        area.draw(&Text::new(
            style::format_ms(*ms),
            (x - base_x, ys.end - base_y + 10),
            style::text(style::LABEL).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(())
}
