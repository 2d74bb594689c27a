//! One table row per run and worker count, from its repetitions.
//!
//! Throughput and CPU per record are the medians over repetitions (throughput's median
//! repetition also gives MB/s); latency percentiles are over the samples of every
//! repetition together; peak RSS and commit lag are the worst repetition's.

use serde::Serialize;
use std::time::Duration;

use super::latency::Histogram;
use super::measure::RunStats;

/// What was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// (a) raw rdkafka `BaseConsumer`.
    RawConsumer,
    /// (b) source → process → batch(100) → probe, commits on.
    Pipeline,
    /// (b) again, with every metric recorded through a Prometheus recorder (`--metrics`).
    PipelineMetrics,
    /// (c, baseline) raw rdkafka producer, acks=all, idempotent.
    RawProduce,
    /// (c, baseline) raw rdkafka consume→produce loop: one `BaseConsumer`, one producer
    /// with the sink's settings, commits of acknowledged input, no timely.
    RawCopy,
    /// (c) source → sink, acks=all, idempotent, commits on.
    Pipe,
}

impl RunKind {
    pub fn label(self) -> &'static str {
        match self {
            RunKind::RawConsumer => "raw consumer",
            RunKind::Pipeline => "pipeline",
            RunKind::PipelineMetrics => "+metrics",
            RunKind::RawProduce => "raw produce",
            RunKind::RawCopy => "raw copy",
            RunKind::Pipe => "pipe",
        }
    }
}

/// A row of the results.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub run: RunKind,
    pub workers: usize,
    pub reps: usize,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
    /// Every repetition's msgs/s, in run order.
    pub rates: Vec<f64>,
    pub vs_raw_consumer: Option<f64>,
    pub vs_raw_produce: Option<f64>,
    /// The pipe's msgs/s over the raw consume→produce loop's.
    pub vs_raw_copy: Option<f64>,
    /// `+metrics` rows: msgs/s with metrics recorded over the plain pipeline's at the same
    /// worker count.
    pub vs_metrics_off: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub latency_samples: u64,
    pub commit_lag_at_last_record: Option<u64>,
    pub commit_lag_after_shutdown: Option<u64>,
    pub peak_rss_mib: Option<f64>,
    /// RSS when the worst repetition (by peak) started: what the process held before.
    pub rss_at_start_mib: Option<f64>,
    pub cpu_s_per_million: Option<f64>,
    pub broker_cpu_s_per_million: Option<f64>,
    /// Pipeline runs: the slowest repetition's time from the first assignment to the first
    /// record out of the dataflow.
    pub assignment_to_first_record_ms: Option<f64>,
    /// Pipeline runs: the slowest repetition's shutdown (drain, final commit, leaving).
    pub shutdown_ms: Option<f64>,
    /// Every repetition's latencies together.
    #[serde(skip)]
    pub latency: Histogram,
    /// Each repetition's latencies, in run order (for the plot's spread).
    #[serde(skip)]
    pub latency_reps: Vec<Histogram>,
}

impl Row {
    /// Summarizes the repetitions `runs` (at least one).
    pub fn new(run: RunKind, workers: usize, runs: &[RunStats]) -> Self {
        let median_run = median_by(runs, RunStats::rate);
        let mut latency = Histogram::default();
        for r in runs {
            latency.merge(&r.output.latency);
        }
        let ms = |q: f64| latency.quantile(q).map(|us| us as f64 / 1000.0);
        let per_million = |cpu: &dyn Fn(&RunStats) -> Option<f64>| {
            let values: Option<Vec<f64>> = runs
                .iter()
                .map(|r| Some(cpu(r)? / (r.output.throughput.records.max(1) as f64 / 1e6)))
                .collect();
            values.map(|v| median(&v))
        };
        Row {
            run,
            workers,
            reps: runs.len(),
            msgs_per_sec: median_run.map_or(0.0, RunStats::rate),
            mb_per_sec: median_run.map_or(0.0, |r| r.output.throughput.mb_per_second()),
            rates: runs.iter().map(RunStats::rate).collect(),
            vs_raw_consumer: None,
            vs_raw_produce: None,
            vs_raw_copy: None,
            vs_metrics_off: None,
            latency_p50_ms: ms(0.5),
            latency_p99_ms: ms(0.99),
            latency_max_ms: ms(1.0),
            latency_samples: latency.count(),
            commit_lag_at_last_record: runs.iter().filter_map(|r| r.lag_at_last).max(),
            commit_lag_after_shutdown: runs.iter().filter_map(|r| r.lag_final).max(),
            peak_rss_mib: runs
                .iter()
                .filter_map(|r| r.peak_rss)
                .max()
                .map(|b| b as f64 / (1 << 20) as f64),
            rss_at_start_mib: runs
                .iter()
                .max_by_key(|r| r.peak_rss)
                .and_then(|r| r.rss_at_start)
                .map(|b| b as f64 / (1 << 20) as f64),
            cpu_s_per_million: per_million(&|r| r.cpu.map(|d| d.as_secs_f64())),
            broker_cpu_s_per_million: per_million(&|r| r.broker_cpu.map(|d| d.as_secs_f64())),
            assignment_to_first_record_ms: slowest_ms(runs, |r| {
                r.output.assignment_to_first_record()
            }),
            shutdown_ms: slowest_ms(runs, |r| r.output.shutdown),
            latency,
            latency_reps: runs.iter().map(|r| r.output.latency.clone()).collect(),
        }
    }
}

/// The longest of the repetitions' durations, in milliseconds.
fn slowest_ms(runs: &[RunStats], of: impl Fn(&RunStats) -> Option<Duration>) -> Option<f64> {
    runs.iter()
        .filter_map(of)
        .max()
        .map(|d| d.as_secs_f64() * 1e3)
}

/// Fills in the ratios to the raw consumer, raw produce and raw copy rows.
pub fn add_ratios(rows: &mut [Row]) {
    let rate_of =
        |kind: RunKind, rows: &[Row]| rows.iter().find(|r| r.run == kind).map(|r| r.msgs_per_sec);
    let consumer = rate_of(RunKind::RawConsumer, rows);
    let produce = rate_of(RunKind::RawProduce, rows);
    let copy = rate_of(RunKind::RawCopy, rows);
    let plain: Vec<(usize, f64)> = rows
        .iter()
        .filter(|r| r.run == RunKind::Pipeline)
        .map(|r| (r.workers, r.msgs_per_sec))
        .collect();
    for row in rows.iter_mut() {
        if row.run == RunKind::PipelineMetrics {
            row.vs_metrics_off = plain
                .iter()
                .find(|(w, _)| *w == row.workers)
                .map(|(_, rate)| row.msgs_per_sec / rate);
        }
        row.vs_raw_consumer = match row.run {
            RunKind::RawProduce | RunKind::RawCopy => None,
            _ => consumer.map(|c| row.msgs_per_sec / c),
        };
        row.vs_raw_produce = match row.run {
            RunKind::RawProduce | RunKind::RawCopy | RunKind::Pipe => {
                produce.map(|p| row.msgs_per_sec / p)
            }
            _ => None,
        };
        row.vs_raw_copy = match row.run {
            RunKind::RawCopy | RunKind::Pipe => copy.map(|c| row.msgs_per_sec / c),
            _ => None,
        };
    }
}

fn median_by<T>(items: &[T], key: impl Fn(&T) -> f64) -> Option<&T> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted.get(sorted.len() / 2).copied()
}

fn median(values: &[f64]) -> f64 {
    median_by(values, |v| *v).copied().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::bench::measure::{Measurement, RunOutput};
    use std::time::{Duration, Instant};

    fn stats(records: u64, secs: f64, cpu: f64) -> RunStats {
        let start = Instant::now();
        RunStats {
            output: RunOutput {
                throughput: Measurement {
                    records,
                    bytes: records * 100,
                    first: Some(start),
                    last: Some(start + Duration::from_secs_f64(secs)),
                },
                ..RunOutput::default()
            },
            cpu: Some(Duration::from_secs_f64(cpu)),
            peak_rss: Some(100 << 20),
            ..RunStats::default()
        }
    }

    #[test]
    fn medians_and_ratios() {
        let raw = Row::new(RunKind::RawConsumer, 1, &[stats(1_000_000, 1.0, 1.0)]);
        let runs = [
            stats(1_000_000, 2.0, 3.0),
            stats(1_000_000, 1.0, 1.0),
            stats(1_000_000, 1.25, 2.0),
        ];
        let pipeline = Row::new(RunKind::Pipeline, 2, &runs);
        assert_eq!(pipeline.msgs_per_sec, 800_000.0);
        assert_eq!(pipeline.cpu_s_per_million, Some(2.0));
        assert_eq!(pipeline.peak_rss_mib, Some(100.0));
        let mut rows = vec![raw, pipeline];
        add_ratios(&mut rows);
        assert_eq!(rows[1].vs_raw_consumer, Some(0.8));
        assert_eq!(rows[1].vs_raw_produce, None);
        assert_eq!(rows[1].vs_raw_copy, None);
        let copy = Row::new(RunKind::RawCopy, 1, &[stats(1_000_000, 2.0, 1.0)]);
        let pipe = Row::new(RunKind::Pipe, 1, &[stats(1_000_000, 4.0, 1.0)]);
        let mut rows = vec![copy, pipe];
        add_ratios(&mut rows);
        assert_eq!(rows[1].vs_raw_copy, Some(0.5));
        assert_eq!(rows[0].vs_raw_copy, Some(1.0));
        assert_eq!(rows[1].vs_raw_consumer, None);
    }
}
