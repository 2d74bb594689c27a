//! What one run measured.

use std::time::{Duration, Instant};

/// Records and bytes seen, timed from the first record to the last.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    pub records: u64,
    pub bytes: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

impl Measurement {
    /// Notes one record of `bytes` bytes (key plus payload).
    #[inline]
    pub fn record(&mut self, bytes: u64) {
        self.add(1, bytes);
    }

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
