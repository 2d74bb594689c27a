//! What one run measured.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::latency::Histogram;

/// Records and bytes seen, timed from the first record to the last.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    pub records: u64,
    pub bytes: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

impl Measurement {
    /// Notes `records` records of `bytes` bytes in total.
    #[inline]
    pub fn add(&mut self, records: u64, bytes: u64) {
        let now = Instant::now();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.records += records;
        self.bytes += bytes;
    }

    /// First record to last.
    pub fn elapsed(&self) -> Duration {
        match (self.first, self.last) {
            (Some(first), Some(last)) => last - first,
            _ => Duration::ZERO,
        }
    }

    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed().as_secs_f64().max(1e-9)
    }

    /// Megabytes (10^6) per second.
    pub fn mb_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed().as_secs_f64().max(1e-9)
    }

    /// Combines the measurements of several workers: counts add up, the span covers all.
    pub fn merge(&mut self, other: &Measurement) {
        self.records += other.records;
        self.bytes += other.bytes;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What a run's consumer side reports: throughput, latency, and the commits it had made
/// when the last record was processed.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    pub throughput: Measurement,
    pub latency: Histogram,
    /// Committed offset per partition when the last record was processed (for runs that
    /// commit): what a crash at that moment would restart from.
    pub committed_at_last: Option<BTreeMap<i32, i64>>,
    /// When the process first held an assignment (pipeline runs).
    pub assigned: Option<Instant>,
    /// From the shutdown request until the dataflow was done: the drain, the final commit of
    /// every partition, leaving the group (pipeline runs).
    pub shutdown: Option<Duration>,
}

impl RunOutput {
    /// Combines the outputs of several workers.
    pub fn merge(&mut self, other: &RunOutput) {
        self.throughput.merge(&other.throughput);
        self.latency.merge(&other.latency);
        if other.committed_at_last.is_some() {
            self.committed_at_last = other.committed_at_last.clone();
        }
        self.assigned = match (self.assigned, other.assigned) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.shutdown = self.shutdown.max(other.shutdown);
    }

    /// From the first assignment to the first record out of the dataflow.
    pub fn assignment_to_first_record(&self) -> Option<Duration> {
        Some(
            self.throughput
                .first?
                .saturating_duration_since(self.assigned?),
        )
    }
}

/// One repetition of one run, with its cost.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub output: RunOutput,
    /// End offsets minus committed offsets, summed, when the last record was processed.
    pub lag_at_last: Option<u64>,
    /// The same after the run shut down (its final commit done): 0 unless commits failed.
    pub lag_final: Option<u64>,
    /// Process CPU time over the run.
    pub cpu: Option<Duration>,
    /// Peak RSS of this process during the run.
    pub peak_rss: Option<u64>,
    /// RSS of this process when the run started (after returning freed memory).
    pub rss_at_start: Option<u64>,
    /// CPU time of the child broker process over the run (`--broker child`).
    pub broker_cpu: Option<Duration>,
}

impl RunStats {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.output.throughput.rate()
    }
}
