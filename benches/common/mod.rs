//! Timing shared by the microbenchmarks (`harness = false` mains): each figure is the best
//! of several runs of a loop, reported in nanoseconds per operation.

use std::time::{Duration, Instant};

/// Runs per figure; the fastest counts (the least disturbed by the machine).
const RUNS: usize = 5;

/// The best time per operation of `ops` calls of `op`, over [`RUNS`] runs.
pub fn ns_per_op(ops: u64, mut op: impl FnMut(u64)) -> f64 {
    best(|| {
        let started = Instant::now();
        for i in 0..ops {
            op(i);
        }
        started.elapsed()
    }) as f64
        / ops as f64
}

/// The best of [`RUNS`] runs of `run`, in nanoseconds, for runs that time themselves
/// (to leave setup out).
pub fn best(mut run: impl FnMut() -> Duration) -> u128 {
    (0..RUNS).map(|_| run().as_nanos()).min().unwrap_or(0)
}

/// Prints one result line.
pub fn report(name: &str, ns: f64) {
    println!("{name:<52} {ns:>10.1} ns/op");
}

/// The first command-line argument as a count, or `default`.
pub fn count_arg(default: u64) -> u64 {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}
