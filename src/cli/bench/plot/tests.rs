use super::*;

use crate::cli::bench::measure::{Measurement, RunOutput, RunStats};
use crate::cli::bench::summary::RunKind;
use std::time::{Duration, Instant};

/// A row of `rates.len()` repetitions at `rates` msgs/s, each with `latency_us`.
fn row(run: RunKind, workers: usize, rates: &[f64], latency_us: &[u64]) -> Row {
    let start = Instant::now();
    let runs: Vec<RunStats> = rates
        .iter()
        .map(|rate| {
            let mut output = RunOutput {
                throughput: Measurement {
                    records: *rate as u64,
                    bytes: *rate as u64 * 100,
                    first: Some(start),
                    last: Some(start + Duration::from_secs(1)),
                },
                ..RunOutput::default()
            };
            for us in latency_us {
                output.latency.record(*us);
            }
            RunStats {
                output,
                ..RunStats::default()
            }
        })
        .collect();
    Row::new(run, workers, &runs)
}

fn rows() -> Vec<Row> {
    vec![
        row(RunKind::RawConsumer, 1, &[1.5e6, 1.6e6], &[900, 20_000]),
        row(
            RunKind::Pipeline,
            1,
            &[1.4e6, 1.3e6, 1.45e6],
            &[1_000, 30_000],
        ),
        row(RunKind::Pipeline, 2, &[1.6e6, 1.5e6, 1.7e6], &[800, 25_000]),
        row(RunKind::RawProduce, 1, &[1.2e6], &[]),
        row(RunKind::Pipe, 1, &[0.8e6, 0.9e6], &[5_000, 90_000]),
    ]
}

fn labels(rate: Option<u64>) -> Labels<'static> {
    Labels {
        title: "bench <&>",
        rate,
    }
}

#[test]
fn preloaded_has_no_latency_panel_and_says_why() {
    let svg = svg(&rows(), &labels(None)).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("bench &lt;&amp;&gt;"));
    assert!(svg.contains("Throughput, every repetition"));
    assert!(!svg.contains("latency at"));
    assert!(svg.contains("No latency panel"));
    assert!(svg.contains("linear scaling from pipeline w=1"));
    // Each run's median and the table's min-max beside it.
    assert!(svg.contains("1.40 M (93–104%)"));
    assert!(svg.contains("\n1.20 M\n"));
    for name in ["raw consumer", "pipeline w=2", "raw produce", "pipe w=1"] {
        assert!(svg.contains(name), "{name}");
    }
}

#[test]
fn rate_runs_plot_latency_per_repetition() {
    let svg = svg(&rows(), &labels(Some(500_000))).unwrap();
    assert!(svg.contains("End-to-end latency at 500000 msgs/s"));
    assert!(svg.contains("ms, log scale"));
    assert!(svg.contains("feed rate"));
    assert!(!svg.contains("linear scaling"));
    assert!(svg.contains("pipeline w=2: p50"));
    // No latency samples, no curve.
    assert!(!svg.contains("raw produce: p50"));
}

#[test]
fn a_system_has_one_colour() {
    let svg = svg(&rows(), &labels(Some(500_000))).unwrap();
    let pipeline = style::color(RunKind::Pipeline);
    let hex = format!("#{:02X}{:02X}{:02X}", pipeline.0, pipeline.1, pipeline.2);
    assert!(svg.contains(&hex), "{hex}");
    let kinds = [
        RunKind::RawConsumer,
        RunKind::Pipeline,
        RunKind::PipelineMetrics,
        RunKind::RawProduce,
        RunKind::RawCopy,
        RunKind::Pipe,
    ];
    for (i, a) in kinds.iter().enumerate() {
        for b in &kinds[i + 1..] {
            assert_ne!(style::color(*a), style::color(*b));
        }
    }
}

#[test]
fn png_is_a_png_of_the_figure_size() {
    let bytes = png(&rows(), &labels(None)).unwrap();
    let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!((info.width, info.height), size(&labels(None)));
}

#[test]
fn log_axis_labels() {
    assert_eq!(
        log_axis::ticks(3.0, 250.0),
        [5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
    );
    assert_eq!(log_axis::ticks(0.5, 2000.0), [1.0, 10.0, 100.0, 1000.0]);
    assert_eq!(log_axis::ticks(1.0, 10.0), [1.0, 2.0, 5.0, 10.0]);
}

#[test]
fn svg_and_png_paths() {
    assert_eq!(
        paths(Path::new("out/bench.svg")),
        ("out/bench.svg".into(), "out/bench.png".into())
    );
    assert_eq!(
        paths(Path::new("bench.PNG")),
        ("bench.svg".into(), "bench.PNG".into())
    );
    assert_eq!(paths(Path::new("plot")), ("plot".into(), "plot.png".into()));
}

#[test]
fn milliseconds() {
    assert_eq!(style::trim(0.05), "0.05");
    assert_eq!(style::trim(2.0), "2");
    assert_eq!(style::format_ms(0.25), "0.25 ms");
    assert_eq!(style::format_ms(1.0), "1 ms");
    assert_eq!(style::format_ms(2.5), "2.5 ms");
    assert_eq!(style::format_ms(117.3), "117 ms");
    assert_eq!(style::format_ms(1000.0), "1 s");
    assert_eq!(style::format_ms(1500.0), "1.5 s");
}
