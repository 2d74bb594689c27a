//! `--plot PATH`: one SVG, written by hand, with two panels:
//!
//! * throughput against workers: the pipeline at each worker count, linear scaling from its
//!   1-worker figure, and the raw consumer, raw produce and pipe for reference;
//! * the latency CDF of every run that measured latency (log-scale milliseconds).

use std::fmt::Write;

use super::summary::{Row, RunKind};

const WIDTH: f64 = 1000.0;
const PANEL_W: f64 = 400.0;
const PANEL_H: f64 = 300.0;
const TOP: f64 = 60.0;
const LEFT: [f64; 2] = [80.0, 580.0];
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Titles, and whether a feed rate capped the runs (then there is no scaling to draw).
pub struct Labels<'a> {
    pub title: &'a str,
    pub throughput: &'a str,
    pub latency: &'a str,
    pub capped: bool,
}

/// Writes the plot to `path`.
pub fn write(path: &std::path::Path, rows: &[Row], labels: &Labels<'_>) -> Result<(), String> {
    std::fs::write(path, svg(rows, labels)).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The SVG document.
pub fn svg(rows: &[Row], labels: &Labels<'_>) -> String {
    let title = labels.title;
    // Room under the panels for the legends: two columns on the left, one on the right.
    let legend_lines = (rows.len() + 1).div_ceil(2).max(rows.len());
    let height = TOP + PANEL_H + 60.0 + 14.0 * legend_lines as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" font-size="16" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    throughput_panel(&mut s, rows, labels.throughput, labels.capped);
    latency_panel(&mut s, rows, labels.latency);
    s.push_str("</svg>\n");
    s
}

fn throughput_panel(s: &mut String, rows: &[Row], title: &str, capped: bool) {
    let left = LEFT[0];
    let pipelines: Vec<&Row> = rows.iter().filter(|r| r.run == RunKind::Pipeline).collect();
    let max_workers = rows.iter().map(|r| r.workers).max().unwrap_or(1).max(2);
    let one = pipelines
        .iter()
        .find(|r| r.workers == 1)
        .map(|r| r.msgs_per_sec);
    let top_rate = rows
        .iter()
        .map(|r| r.msgs_per_sec)
        .chain(one.map(|o| o * max_workers as f64))
        .fold(0.0, f64::max)
        .max(1.0);
    let (step, y_max) = nice_axis(top_rate);
    let x = |w: f64| left + (w - 0.5) / (max_workers as f64) * PANEL_W;
    let y = |r: f64| TOP + PANEL_H - r / y_max * PANEL_H;
    frame(s, left, "workers", "msgs/s (millions)", title);
    let mut tick = 0.0;
    while tick <= y_max + step / 2.0 {
        grid_y(s, left, y(tick), &format!("{:.2}", tick / 1e6));
        tick += step;
    }
    for w in 1..=max_workers {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{w}</text>"#,
            x(w as f64),
            TOP + PANEL_H + 16.0
        );
    }
    let mut legend = Vec::new();
    // Linear scaling only means something when no feed rate capped the runs.
    if let (Some(one), false) = (one, capped) {
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="2,3"/>"##,
            x(1.0),
            y(one),
            x(max_workers as f64),
            y(one * max_workers as f64)
        );
        legend.push(("#999", "linear scaling", "2,3"));
    }
    let reference = [
        (RunKind::RawConsumer, COLORS[1], "raw consumer"),
        (RunKind::RawProduce, COLORS[3], "raw produce"),
        (RunKind::RawCopy, COLORS[4], "raw copy"),
    ];
    for (kind, color, label) in reference {
        if let Some(r) = rows.iter().find(|r| r.run == kind) {
            let _ = writeln!(
                s,
                r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-dasharray="6,4"/>"#,
                y(r.msgs_per_sec),
                left + PANEL_W,
                y(r.msgs_per_sec)
            );
            legend.push((color, label, "6,4"));
        }
    }
    let points: Vec<String> = pipelines
        .iter()
        .map(|r| format!("{:.1},{:.1}", x(r.workers as f64), y(r.msgs_per_sec)))
        .collect();
    if !points.is_empty() {
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            points.join(" "),
            COLORS[0]
        );
        for r in &pipelines {
            marker(s, x(r.workers as f64), y(r.msgs_per_sec), COLORS[0]);
        }
        legend.push((COLORS[0], "pipeline", ""));
    }
    for r in rows.iter().filter(|r| r.run == RunKind::Pipe) {
        marker(s, x(r.workers as f64), y(r.msgs_per_sec), COLORS[2]);
        legend.push((COLORS[2], "pipe (Kafka to Kafka)", ""));
    }
    draw_legend(s, left, &legend, 2);
}

fn latency_panel(s: &mut String, rows: &[Row], title: &str) {
    let left = LEFT[1];
    let curves: Vec<(&Row, Vec<(u64, f64)>)> = rows
        .iter()
        .filter(|r| r.latency.count() > 0)
        .map(|r| (r, r.latency.cdf()))
        .collect();
    frame(
        s,
        left,
        "latency (ms, log scale)",
        "fraction of records",
        title,
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        grid_y(
            s,
            left,
            TOP + PANEL_H - f * PANEL_H,
            &format!("{:.0}%", f * 100.0),
        );
    }
    if curves.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">no latency samples</text>"#,
            left + PANEL_W / 2.0,
            TOP + PANEL_H / 2.0
        );
        return;
    }
    // Decades spanning every sample, in milliseconds.
    let lo_ms = curves
        .iter()
        .filter_map(|(_, c)| c.first())
        .map(|p| (p.0 as f64 / 1000.0).max(0.01))
        .fold(f64::INFINITY, f64::min);
    let hi_ms = curves
        .iter()
        .filter_map(|(_, c)| c.last())
        .map(|p| (p.0 as f64 / 1000.0).max(0.01))
        .fold(0.0, f64::max);
    let (lo, hi) = (
        lo_ms.log10().floor(),
        hi_ms.log10().ceil().max(lo_ms.log10().floor() + 1.0),
    );
    let x = |ms: f64| left + (ms.max(0.01).log10() - lo) / (hi - lo) * PANEL_W;
    let mut decade = lo;
    while decade <= hi {
        let value = 10f64.powf(decade);
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1}" stroke="#eee"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
            x(value),
            TOP + PANEL_H,
            TOP + PANEL_H + 16.0,
            format_ms(value)
        );
        decade += 1.0;
    }
    let mut legend = Vec::new();
    for (i, (row, cdf)) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut points = vec![format!(
            "{:.1},{:.1}",
            x(cdf[0].0 as f64 / 1000.0),
            TOP + PANEL_H
        )];
        points.extend(cdf.iter().map(|(us, f)| {
            format!(
                "{:.1},{:.1}",
                x(*us as f64 / 1000.0),
                TOP + PANEL_H - f * PANEL_H
            )
        }));
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
            points.join(" ")
        );
        legend.push((color, label(row), ""));
    }
    let labels: Vec<(&str, String, &str)> = legend;
    let borrowed: Vec<(&str, &str, &str)> = labels
        .iter()
        .map(|(c, l, d)| (*c, l.as_str(), *d))
        .collect();
    draw_legend(s, left, &borrowed, 1);
}

fn label(row: &Row) -> String {
    format!(
        "{} w={} (p50 {}, p99 {})",
        row.run.label(),
        row.workers,
        row.latency_p50_ms.map_or("-".into(), format_ms),
        row.latency_p99_ms.map_or("-".into(), format_ms)
    )
}

fn frame(s: &mut String, left: f64, x_label: &str, y_label: &str, title: &str) {
    let _ = writeln!(
        s,
        r##"<rect x="{left}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="14" text-anchor="middle">{}</text>"#,
        left + PANEL_W / 2.0,
        TOP - 10.0,
        escape(title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + PANEL_W / 2.0,
        TOP + PANEL_H + 34.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="{0:.1}" y="{1:.1}" text-anchor="middle" transform="rotate(-90 {0:.1} {1:.1})">{2}</text>"#,
        left - 50.0,
        TOP + PANEL_H / 2.0,
        escape(y_label)
    );
}

fn grid_y(s: &mut String, left: f64, y: f64, label: &str) {
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
        left + PANEL_W,
        left - 6.0,
        y + 4.0,
        escape(label)
    );
}

fn marker(s: &mut String, x: f64, y: f64, color: &str) {
    let _ = writeln!(
        s,
        r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{color}"/>"#
    );
}

fn draw_legend(s: &mut String, left: f64, entries: &[(&str, &str, &str)], columns: usize) {
    for (i, (color, label, dash)) in entries.iter().enumerate() {
        let y = TOP + PANEL_H + 56.0 + 14.0 * (i / columns) as f64;
        let x = left + (i % columns) as f64 * PANEL_W / columns as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{y:.1}" font-size="11">{}</text>"#,
            y - 4.0,
            x + 18.0,
            y - 4.0,
            x + 22.0,
            escape(label)
        );
    }
}

/// A round step and the axis maximum for values up to `max`, with about five steps.
fn nice_axis(max: f64) -> (f64, f64) {
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (step, (max / step).ceil() * step)
}

fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.3} s", ms / 1000.0).replace(".000 s", " s")
    } else if ms >= 1.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cli::bench::measure::{Measurement, RunOutput, RunStats};
    use std::time::{Duration, Instant};

    fn row(run: RunKind, workers: usize, rate: f64, latency_us: &[u64]) -> Row {
        let start = Instant::now();
        let mut output = RunOutput {
            throughput: Measurement {
                records: rate as u64,
                bytes: rate as u64 * 100,
                first: Some(start),
                last: Some(start + Duration::from_secs(1)),
            },
            ..RunOutput::default()
        };
        for us in latency_us {
            output.latency.record(*us);
        }
        let stats = RunStats {
            output,
            ..RunStats::default()
        };
        Row::new(run, workers, &[stats])
    }

    #[test]
    fn draws_both_panels() {
        let rows = [
            row(RunKind::RawConsumer, 1, 1.5e6, &[900, 20_000]),
            row(RunKind::Pipeline, 1, 1.4e6, &[1_000, 30_000, 120_000]),
            row(RunKind::Pipeline, 2, 1.6e6, &[800, 25_000]),
            row(RunKind::Pipe, 1, 0.8e6, &[]),
        ];
        let labels = Labels {
            title: "t <&>",
            throughput: "Throughput",
            latency: "Latency",
            capped: false,
        };
        let svg = svg(&rows, &labels);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;&amp;&gt;"));
        // Pipeline line, linear scaling, and a CDF per run with latency samples.
        assert_eq!(svg.matches("<polyline").count(), 1 + 3);
        assert!(svg.contains("linear scaling"));
        assert!(svg.contains("pipeline w=1 (p50"));
        assert!(!svg.contains("pipe w=1 (p50"));
        let capped = svg_capped(&rows);
        assert!(!capped.contains("linear scaling"));
    }

    fn svg_capped(rows: &[Row]) -> String {
        svg(
            rows,
            &Labels {
                title: "",
                throughput: "",
                latency: "",
                capped: true,
            },
        )
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(1_730_000.0), (500_000.0, 2_000_000.0));
        assert_eq!(nice_axis(9.0), (2.0, 10.0));
        assert_eq!(format_ms(0.25), "0.25 ms");
        assert_eq!(format_ms(1000.0), "1 s");
        assert_eq!(escape("a<b & c>"), "a&lt;b &amp; c&gt;");
    }
}
