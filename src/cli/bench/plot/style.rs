//! What both panels and the legend share: each system's colour, text styles, labels.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::cli::bench::summary::{Row, RunKind};

/// The font family every text uses (the embedded font is registered under it).
pub const FONT: &str = "sans-serif";

/// Text anchored at its centre.
pub fn center() -> Pos {
    Pos::new(HPos::Center, VPos::Center)
}

/// Text anchored at the middle of its left edge.
pub fn left() -> Pos {
    Pos::new(HPos::Left, VPos::Center)
}

/// Text sizes in pixels: the figure's title, a panel's, axis labels, legend and figures.
pub const TITLE: u32 = 22;
pub const CAPTION: u32 = 18;
pub const LABEL: u32 = 15;
pub const SMALL: u32 = 14;

/// Grey, for references (linear scaling, the feed rate).
pub const REFERENCE: RGBColor = RGBColor(110, 110, 110);

/// Each system's one colour (colour-blind-safe, from the Okabe–Ito palette).
pub fn color(kind: RunKind) -> RGBColor {
    match kind {
        RunKind::RawConsumer => RGBColor(213, 94, 0),
        RunKind::Pipeline => RGBColor(0, 114, 178),
        RunKind::PipelineMetrics => RGBColor(86, 180, 233),
        RunKind::RawProduce => RGBColor(204, 121, 167),
        RunKind::RawCopy => RGBColor(230, 159, 0),
        RunKind::Pipe => RGBColor(0, 158, 115),
    }
}

/// Black text of `size` pixels.
pub fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

/// A system's name in the legend.
pub fn system_label(kind: RunKind) -> &'static str {
    match kind {
        RunKind::PipelineMetrics => "pipeline +metrics",
        _ => kind.label(),
    }
}

/// A row's name: the system, and its workers for the timely runs.
pub fn row_label(row: &Row) -> String {
    match row.run {
        RunKind::Pipeline | RunKind::PipelineMetrics | RunKind::Pipe => {
            format!("{} w={}", system_label(row.run), row.workers)
        }
        _ => row.run.label().to_owned(),
    }
}

/// `v` with up to three decimals, no trailing zeros: `0.05`, `1.5`, `2`.
pub fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Milliseconds for an axis or a label: `0.25 ms`, `12 ms`, `1.5 s`.
pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        let s = format!("{:.1}", ms / 1000.0);
        format!("{} s", s.trim_end_matches(".0"))
    } else if ms >= 10.0 || ms.fract() == 0.0 {
        format!("{ms:.0} ms")
    } else if ms >= 1.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}
