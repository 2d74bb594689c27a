//! The legend under the panels: each system's colour, what the marks mean, and a note.

use plotters::coord::Shift;
use plotters::element::{DashedPathElement, DynElement, IntoDynElement};
use plotters::prelude::*;

use super::{style, Drawn, Row};
use crate::cli::bench::summary::RunKind;

/// Draws the legend on `area`: a line of keys, then a line of notes.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rows: &[Row],
    rate: Option<u64>,
) -> Drawn<DB> {
    let (width, _) = area.dim_in_pixel();
    let mut line = Line {
        area,
        x: 16,
        y: 16,
        right: width as i32 - 16,
    };
    let mut systems: Vec<RunKind> = Vec::new();
    for row in rows {
        if !systems.contains(&row.run) {
            systems.push(row.run);
        }
    }
    for kind in systems {
        let color = style::color(kind);
        line.key(style::system_label(kind), |x, y| {
            (EmptyElement::at((x, y))
                + PathElement::new([(0, 0), (22, 0)], color.stroke_width(2))
                + Circle::new((11, 0), 5, color.filled()))
            .into_dyn()
        })?;
    }
    line.gap();
    line.key("median", |x, y| {
        (EmptyElement::at((x, y)) + Circle::new((11, 0), 5, BLACK.filled())).into_dyn()
    })?;
    line.key("one repetition", |x, y| {
        (EmptyElement::at((x, y)) + Circle::new((11, 0), 5, BLACK.stroke_width(2))).into_dyn()
    })?;
    line.key("slowest to fastest", |x, y| {
        (EmptyElement::at((x, y)) + PathElement::new([(0, 0), (22, 0)], BLACK.stroke_width(2)))
            .into_dyn()
    })?;
    let reference = match rate {
        Some(_) => "feed rate",
        None => "linear scaling from pipeline w=1",
    };
    let scales = rate.is_some()
        || rows
            .iter()
            .any(|r| r.run == RunKind::Pipeline && r.workers > 1);
    if scales {
        line.key(reference, |x, y| {
            (EmptyElement::at((x, y))
                + DashedPathElement::new([(0, 0), (22, 0)], 5, 3, style::REFERENCE.stroke_width(2)))
            .into_dyn()
        })?;
    }
    line.newline();
    line.note(
        "Right of the throughput: the median msgs/s and, in brackets, the slowest and fastest repetition as % of it (the table's min-max).",
    )?;
    match rate {
        Some(_) => {
            line.note("Latency: from a record's timestamp (its produce time) to processed (raw consumer, pipeline) or to its output acknowledged (raw copy, pipe).")?;
            line.note("Thin lines: one repetition each; thick: all repetitions together (the table's p50 and p99); dashed: more workers.")
        }
        None => line.note("No latency panel: a preloaded run's record timestamps are load times, so the time since them is no latency. Measure it with --rate N."),
    }
}

/// Keys laid left to right, wrapping at `right`.
struct Line<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    x: i32,
    y: i32,
    right: i32,
}

const LINE_H: i32 = 26;

type Mark<'m, DB> = DynElement<'m, DB, (i32, i32)>;

impl<DB: DrawingBackend> Line<'_, DB> {
    /// A mark 22 pixels wide drawn by `mark` at its left middle, then `label`.
    fn key<'m>(&mut self, label: &str, mark: impl Fn(i32, i32) -> Mark<'m, DB>) -> Drawn<DB>
    where
        DB: 'm,
    {
        let text = style::text(style::SMALL);
        let (w, _) = self.area.estimate_text_size(label, &text).unwrap_or((0, 0));
        let needed = 30 + w as i32 + 24;
        if self.x + needed > self.right {
            self.newline();
        }
        self.area.draw(&mark(self.x, self.y))?;
        self.area.draw(&Text::new(
            label.to_owned(),
            (self.x + 30, self.y),
            text.pos(style::left()),
        ))?;
        self.x += needed;
        Ok(())
    }

    /// Extra space between groups of keys.
    fn gap(&mut self) {
        self.x += 18;
    }

    fn newline(&mut self) {
        self.x = 16;
        self.y += LINE_H;
    }

    /// A line of text.
    fn note(&mut self, text: &str) -> Drawn<DB> {
        self.area.draw(&Text::new(
            text.to_owned(),
            (self.x, self.y),
            style::text(style::SMALL).pos(style::left()),
        ))?;
        self.newline();
        Ok(())
    }
}
