//! The latency panel, for `--rate` runs: the end-to-end latency CDF of every run that
//! measured latency (record timestamp, its produce time, to processed; for the pipe and
//! the raw copy, to the output acknowledged). Each repetition is a thin line; all of them
//! together, which the table's p50 and p99 are read from, a thick one. A system's runs at
//! more workers are dashed.

use plotters::chart::SeriesAnno;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{log_axis, style, Drawn, Row};
use crate::cli::bench::latency::Histogram;

/// Draws the panel on `area`, for records produced at `rate` msgs/s.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[Row],
    rate: u64,
) -> Drawn<DB> {
    let measured: Vec<(usize, &Row)> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.latency.count() > 0)
        .collect();
    let caption = format!("End-to-end latency at {rate} msgs/s, every repetition");
    let Some((lo, hi)) = range_ms(measured.iter().map(|(_, r)| &r.latency)) else {
        let (width, height) = area.dim_in_pixel();
        area.draw(&Text::new(
            format!("{caption}: no latency samples"),
            (width as i32 / 2, height as i32 / 2),
            style::text(style::LABEL).pos(style::center()),
        ))?;
        return Ok(());
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, style::text(style::CAPTION))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..100.0)?;
    chart
        .configure_mesh()
        .x_desc("record timestamp → processed, or output acknowledged (ms, log scale)")
        .y_desc("records at or below (%)")
        // Up to three decades, grid lines at 1 to 9 of each; wider, at each decade. The
        // labels are log_axis's.
        .x_labels(20)
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|p| format!("{p:.0}"))
        .label_style(style::text(style::LABEL))
        .axis_desc_style(style::text(style::LABEL))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    log_axis::draw(area, &chart, &log_axis::ticks(lo, hi))?;

    for (i, row) in &measured {
        let color = style::color(row.run);
        // The system's runs at more workers than its first are dashed.
        let dashed = rows[..*i].iter().any(|r| r.run == row.run);
        for rep in &row.latency_reps {
            curve(&mut chart, rep, color.mix(0.45).stroke_width(1), dashed)?;
        }
        let label = format!(
            "{}: p50 {}, p99 {}",
            style::row_label(row),
            row.latency_p50_ms.map_or("-".into(), style::format_ms),
            row.latency_p99_ms.map_or("-".into(), style::format_ms)
        );
        curve(&mut chart, &row.latency, color.stroke_width(3), dashed)?
            .label(label)
            .legend(move |(x, y)| {
                DashedPathElement::new(
                    [(x, y), (x + 24, y)],
                    if dashed { 6 } else { 24 },
                    if dashed { 4 } else { 0 },
                    color.stroke_width(3),
                )
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(style::text(style::SMALL))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .margin(12)
        .draw()?;
    Ok(())
}

type Chart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, plotters::coord::types::RangedCoordf64>>;

/// Draws the CDF of `latency` in milliseconds, from 0 % at its smallest value.
fn curve<'c, 'a, DB: DrawingBackend + 'a>(
    chart: &'c mut Chart<'a, DB>,
    latency: &Histogram,
    style: ShapeStyle,
    dashed: bool,
) -> Result<&'c mut SeriesAnno<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let cdf = latency.cdf();
    let ms = |us: u64| (us as f64 / 1000.0).max(MIN_MS);
    let points: Vec<(f64, f64)> = cdf
        .first()
        .map(|(us, _)| (ms(*us), 0.0))
        .into_iter()
        .chain(cdf.iter().map(|(us, f)| (ms(*us), f * 100.0)))
        .collect();
    if dashed {
        chart.draw_series(DashedLineSeries::new(points, 6, 4, style))
    } else {
        chart.draw_series(LineSeries::new(points, style))
    }
}

/// The smallest latency the log axis shows, in milliseconds.
const MIN_MS: f64 = 0.01;

/// The log axis's range in milliseconds: the smallest sample to the largest, with a little
/// room. `None` without samples.
fn range_ms<'a>(latencies: impl Iterator<Item = &'a Histogram>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for latency in latencies {
        lo = lo.min(latency.quantile(0.0)? as f64 / 1000.0);
        hi = hi.max(latency.quantile(1.0)? as f64 / 1000.0);
    }
    if lo.is_infinite() {
        return None;
    }
    let lo = (lo * 0.8).max(MIN_MS);
    Some((lo, (hi * 1.25).max(lo * 10.0)))
}
