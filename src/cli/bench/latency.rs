//! End-to-end latency: a small HDR-style histogram of microseconds.
//!
//! Buckets are log-linear: exact below 128 µs, then 64 buckets per power of two, so any
//! recorded value is reported within 1/64 (1.6 %) of itself, from 1 µs to hours, in a fixed
//! 30 KB of counts whatever the number of samples. Histograms of several workers or
//! repetitions merge by adding counts.
//!
//! Latency is *processed-at minus the record's timestamp*. Kafka timestamps are whole
//! milliseconds, truncated, so a latency is overstated by up to 1 ms.

use std::time::{SystemTime, UNIX_EPOCH};

/// Sub-bucket bits: 2^7 = 128 exact values, then 64 buckets per power of two.
const SUB_BITS: u32 = 7;
const HALF: u64 = 1 << (SUB_BITS - 1);
const BUCKETS: usize = (HALF as usize) * (64 - SUB_BITS as usize + 2);

/// Counts of latencies in microseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    /// Notes one value, in microseconds.
    #[inline]
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    /// Notes the latency of a record stamped `timestamp_ms` (Unix milliseconds) and
    /// processed at `now_us` (Unix microseconds); a timestamp in the future counts as 0.
    #[inline]
    pub fn record_since(&mut self, timestamp_ms: i64, now_us: u64) {
        let stamped_us = u64::try_from(timestamp_ms)
            .unwrap_or(0)
            .saturating_mul(1000);
        self.record(now_us.saturating_sub(stamped_us));
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The value at quantile `q` (0.0..=1.0) in microseconds: the midpoint of the bucket
    /// holding the ⌈q·n⌉-th smallest value (the exact maximum for `q = 1`). `None` if empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        if q >= 1.0 {
            return Some(self.max);
        }
        let rank = ((q.max(0.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(midpoint(i).min(self.max));
            }
        }
        Some(self.max)
    }

    /// The cumulative distribution: `(value in µs, fraction of values ≤ it)` for every
    /// non-empty bucket, in increasing order.
    pub fn cdf(&self) -> Vec<(u64, f64)> {
        let mut seen = 0;
        let mut points = Vec::new();
        for (i, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                seen += n;
                points.push((midpoint(i).min(self.max), seen as f64 / self.total as f64));
            }
        }
        points
    }
}

/// Microseconds since the Unix epoch, now.
#[inline]
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[inline]
fn index(value: u64) -> usize {
    if value < 2 * HALF {
        return value as usize;
    }
    let shift = 63 - value.leading_zeros() - (SUB_BITS - 1);
    (HALF * shift as u64 + (value >> shift)) as usize
}

/// The smallest value of bucket `i` and the bucket's width.
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < 2 * HALF {
        return (i, 1);
    }
    let shift = i / HALF - 1;
    ((i - HALF * shift) << shift, 1 << shift)
}

fn midpoint(i: usize) -> u64 {
    let (low, width) = bounds(i);
    low + width / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let check = |v: u64| {
            let i = index(v);
            assert!(i < BUCKETS, "{v} -> {i}");
            let (low, width) = bounds(i);
            assert!(low <= v && v - low < width, "{v} not in [{low}, +{width})");
            assert!(
                width as f64 <= (v as f64 / HALF as f64).max(1.0),
                "{v}: width {width}"
            );
            i
        };
        let mut previous = check(0);
        for v in 1..100_000u64 {
            let i = check(v);
            assert!(i == previous || i == previous + 1, "{v}: {previous} -> {i}");
            previous = i;
        }
        for shift in 1..64 {
            check((1u64 << shift) - 1);
            check(1u64 << shift);
        }
        check(u64::MAX);
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
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(0.0), Some(10));
        assert_eq!(a.quantile(1.0), Some(1_000_000));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
