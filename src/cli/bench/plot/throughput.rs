//! The throughput panel: one line per run (the table's rows, in its order), each
//! repetition's msgs/s a circle, the median filled, a line from the slowest to the fastest
//! repetition; in a column at the right, the median and the table's min-max.
//!
//! Preloaded, a grey dashed tick on each multi-worker pipeline line marks linear scaling
//! from the 1-worker median; with `--rate`, a grey dashed line marks the feed rate, which
//! caps every run that reads what it produces.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{style, Drawn, Row};
use crate::cli::bench::report::spread;
use crate::cli::bench::summary::RunKind;

/// The column of figures' heading.
const COLUMN: &str = "median (min–max)";

/// Draws the panel on `area`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[Row],
    rate: Option<u64>,
) -> Drawn<DB> {
    let n = rows.len();
    // Row i from the top.
    let y = |i: usize| (n - 1 - i) as f64;
    let scaling = linear_scaling(rows, rate);
    let top = rows
        .iter()
        .flat_map(|r| r.rates.iter().copied().chain([r.msgs_per_sec]))
        .chain(scaling.iter().map(|s| s.1))
        .chain(rate.map(|r| r as f64))
        .fold(0.0, f64::max)
        / 1e6;
    let caption = match rate {
        None => "Throughput, every repetition".to_owned(),
        Some(rate) => format!("Throughput, every repetition (fed at {rate} msgs/s)"),
    };
    let column: Vec<String> = rows.iter().map(figures).collect();
    let width = |text: &str, size: u32| {
        area.estimate_text_size(text, &style::text(size))
            .map_or(0, |(w, _)| w)
    };
    let names_width = rows
        .iter()
        .map(|r| width(&style::row_label(r), style::LABEL))
        .max()
        .unwrap_or(0);
    let column_width = column
        .iter()
        .map(|f| width(f, style::SMALL))
        .chain([width(COLUMN, style::SMALL)])
        .max()
        .unwrap_or(0);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, style::text(style::CAPTION))
        .margin(12)
        .margin_right(column_width + 28)
        .x_label_area_size(48)
        .y_label_area_size(names_width + 16)
        .build_cartesian_2d(0f64..(top * 1.08).max(0.001), -0.5..n as f64 - 0.5)?;
    // A tick per row (a step of 1 fits in n + 1 ticks), named after it.
    let name = |v: &f64| {
        let from_top = n as f64 - 1.0 - v;
        match from_top.round() == from_top && from_top >= 0.0 {
            true => rows
                .get(from_top as usize)
                .map(style::row_label)
                .unwrap_or_default(),
            false => String::new(),
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n + 1)
        .x_desc("msgs/s (millions), first record to last")
        .x_label_formatter(&|v| style::trim(*v))
        .y_label_formatter(&name)
        .label_style(style::text(style::LABEL))
        .axis_desc_style(style::text(style::LABEL))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    if let Some(rate) = rate {
        let x = rate as f64 / 1e6;
        chart.draw_series([DashedPathElement::new(
            [(x, -0.5), (x, n as f64 - 0.5)],
            6,
            4,
            style::REFERENCE.stroke_width(2),
        )])?;
    }
    for (i, value) in &scaling {
        let x = value / 1e6;
        chart.draw_series([DashedPathElement::new(
            [(x, y(*i) - 0.3), (x, y(*i) + 0.3)],
            4,
            3,
            style::REFERENCE.stroke_width(2),
        )])?;
    }
    for (i, row) in rows.iter().enumerate() {
        let color = style::color(row.run);
        let millions: Vec<f64> = row.rates.iter().map(|r| r / 1e6).collect();
        let median = row.msgs_per_sec / 1e6;
        let min = millions.iter().copied().fold(median, f64::min);
        let max = millions.iter().copied().fold(median, f64::max);
        chart.draw_series([PathElement::new(
            [(min, y(i)), (max, y(i))],
            color.stroke_width(2),
        )])?;
        chart.draw_series(
            millions
                .iter()
                .map(|r| Circle::new((*r, y(i)), 5, color.stroke_width(2))),
        )?;
        chart.draw_series([Circle::new((median, y(i)), 5, color.filled())])?;
    }

    // The column, right of the plotting area, in the area's own pixels.
    let (base_x, base_y) = area.get_base_pixel();
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let x = xs.end - base_x + 16;
    area.draw(&Text::new(
        COLUMN,
        (x, ys.start - base_y + 2),
        style::text(style::SMALL).pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    for (i, text) in column.into_iter().enumerate() {
        let (_, py) = chart.backend_coord(&(0.0, y(i)));
        area.draw(&Text::new(
            text,
            (x, py - base_y),
            style::text(style::SMALL).pos(style::left()),
        ))?;
    }
    Ok(())
}

/// A row's median in millions of msgs/s and its min-max as in the table, with a dash.
fn figures(row: &Row) -> String {
    let median = row.msgs_per_sec / 1e6;
    match spread(row).as_str() {
        "-" => format!("{median:.2} M"),
        spread => format!("{median:.2} M ({})", spread.replace('-', "–")),
    }
}

/// `(row index, msgs/s)` for each multi-worker pipeline row: its workers times the
/// 1-worker pipeline's median. None with a feed rate (it caps the runs, there is no
/// scaling to see).
fn linear_scaling(rows: &[Row], rate: Option<u64>) -> Vec<(usize, f64)> {
    let one = rows
        .iter()
        .find(|r| r.run == RunKind::Pipeline && r.workers == 1)
        .map(|r| r.msgs_per_sec);
    match (one, rate) {
        (Some(one), None) => rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.run == RunKind::Pipeline && r.workers > 1)
            .map(|(i, r)| (i, one * r.workers as f64))
            .collect(),
        _ => Vec::new(),
    }
}
