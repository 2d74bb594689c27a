//! End-to-end latency: an HDR histogram of microseconds (the `hdrhistogram` crate).
//!
//! Two significant figures: any recorded value is reported within 1 % of itself, from 1 µs
//! to hours (the histogram grows to the largest value recorded), in a few KB of counts
//! whatever the number of samples. Histograms of several workers or repetitions merge by
//! adding counts.
//!
//! Latency is *processed-at minus the record's timestamp*. Kafka timestamps are whole
//! milliseconds, truncated, so a latency is overstated by up to 1 ms.

use std::time::{SystemTime, UNIX_EPOCH};

/// Significant decimal digits kept per value: 1 % resolution.
const SIGFIG: u8 = 2;

/// Counts of latencies in microseconds, and the exact maximum (the histogram keeps only its
/// bucket).
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: hdrhistogram::Histogram<u64>,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            // Auto-resizing from a highest trackable value of 2: never refuses a value.
            counts: hdrhistogram::Histogram::new(SIGFIG).expect("2 significant figures are valid"),
            max: 0,
        }
    }
}

impl Histogram {
    /// Notes one value, in microseconds.
    #[cfg(test)]
    pub fn record(&mut self, micros: u64) {
        self.record_n(micros, 1);
    }

    /// Notes the latency of a record stamped `timestamp_ms` (Unix milliseconds) and
    /// processed at `now_us` (Unix microseconds); a timestamp in the future counts as 0.
    #[inline]
    pub fn record_since(&mut self, timestamp_ms: i64, now_us: u64) {
        self.record_since_n(timestamp_ms, now_us, 1);
    }

    /// Notes `n` records stamped `timestamp_ms` and processed at `now_us` with one update
    /// (records of a batch often share a millisecond).
    #[inline]
    pub fn record_since_n(&mut self, timestamp_ms: i64, now_us: u64, n: u64) {
        let stamped_us = u64::try_from(timestamp_ms)
            .unwrap_or(0)
            .saturating_mul(1000);
        self.record_n(now_us.saturating_sub(stamped_us), n);
    }

    #[inline]
    fn record_n(&mut self, micros: u64, n: u64) {
        // `record_n` grows the histogram to take the value; past what it can ever count
        // (about 2^62) the value saturates.
        if self.counts.record_n(micros, n).is_err() {
            self.counts.saturating_record_n(micros, n);
        }
        self.max = self.max.max(micros);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts.len()
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        // Cannot fail: the histogram resizes to take any value of `other`.
        let _ = self.counts.add(&other.counts);
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0.0..=1.0) in microseconds, within 1 % (the exact
    /// maximum for `q = 1`). `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.counts.is_empty() {
            return None;
        }
        if q >= 1.0 {
            return Some(self.max);
        }
        Some(self.counts.value_at_quantile(q.max(0.0)).min(self.max))
    }

    /// The cumulative distribution: `(value in µs, fraction of values ≤ it)` for every
    /// non-empty bucket, in increasing order.
    pub fn cdf(&self) -> Vec<(u64, f64)> {
        let total = self.counts.len() as f64;
        let mut seen = 0;
        self.counts
            .iter_recorded()
            .map(|bucket| {
                seen += bucket.count_since_last_iteration();
                (
                    bucket.value_iterated_to().min(self.max),
                    seen as f64 / total,
                )
            })
            .collect()
    }
}

/// Microseconds since the Unix epoch, now.
#[inline]
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_within_one_percent() {
        for v in (0..20).map(|s| 3u64.pow(s)).chain([0, 1, 127, 128, 99_999]) {
            let mut h = Histogram::default();
            h.record(v);
            h.record(v);
            let got = h.quantile(0.5).unwrap();
            assert!(got.abs_diff(v) as f64 <= v as f64 / 100.0, "{v} -> {got}");
        }
        let mut h = Histogram::default();
        h.record(u64::MAX);
        assert_eq!(h.count(), 1);
    }

    #[test]
    fn quantiles_of_a_uniform_sample() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5).unwrap() as f64;
        let p99 = h.quantile(0.99).unwrap() as f64;
        assert!((p50 / 50_000.0 - 1.0).abs() < 0.02, "p50 {p50}");
        assert!((p99 / 99_000.0 - 1.0).abs() < 0.02, "p99 {p99}");
        assert_eq!(h.quantile(1.0), Some(100_000));
        assert_eq!(h.count(), 100_000);
        let cdf = h.cdf();
        assert_eq!(cdf.last().unwrap().1, 1.0);
        assert!(cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    }

    #[test]
    fn merging_adds_counts() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(10);
        b.record(1_000_000);
        b.record_since(1_000, 1_500_000);
        b.record_since_n(1_000, 1_500_000, 2);
        a.merge(&b);
        assert_eq!(a.count(), 5);
        assert_eq!(a.quantile(0.5).map(|us| us / 10_000), Some(50));
        assert_eq!(a.quantile(0.0), Some(10));
        assert_eq!(a.quantile(1.0), Some(1_000_000));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
