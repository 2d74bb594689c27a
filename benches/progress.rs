//! Offset tracking: the per-partition bookkeeping behind frontier-driven commits.
//!
//! Run: `cargo bench --bench progress` (optionally `-- RECORDS`, default 10,000,000).
//!
//! Measures, in ns per operation (best of 5 runs), `timely_kafka::progress::PartitionProgress`:
//! * `emitted`: noting one emitted record (the source does this for every record);
//! * `release`: releasing ticks as the frontier passes them, per tick released;
//! * `commit_position` + `mark_committed`: the commit step, per call;
//! * `cycle`: a source's whole bookkeeping per record, 8 partitions, 1,000 records per
//!   partition per tick, a release and a commit step every tick.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{best, count_arg, ns_per_op, report};
use timely_kafka::progress::PartitionProgress;

const PARTITIONS: usize = 8;
const PER_TICK: u64 = 1_000;

fn main() {
    let records = count_arg(10_000_000);
    println!("records per run: {records}");

    let mut progress = PartitionProgress::default();
    let ns = ns_per_op(records, |i| {
        progress.emitted(i / PER_TICK, i as i64);
    });
    black_box(&progress);
    report("emitted (per record)", ns);

    let ticks = (records / PER_TICK).max(1);
    let ns = best(|| {
        let mut p = PartitionProgress::default();
        for t in 0..ticks {
            p.emitted(t, t as i64);
        }
        let started = Instant::now();
        for t in 1..=ticks {
            black_box(p.release(Some(t)));
        }
        started.elapsed()
    }) as f64
        / ticks as f64;
    report("release (per tick released)", ns);

    let mut p = PartitionProgress::default();
    let ns = ns_per_op(records / 10, |i| {
        p.emitted(i, i as i64);
        p.release(Some(i + 1));
        if let Some(offset) = p.commit_position() {
            p.mark_committed(offset);
        }
    });
    report("emitted + release + commit step (per tick)", ns);

    let ns = best(|| cycle(records)) as f64 / records as f64;
    report("cycle (per record, 8 partitions)", ns);
}

/// The source's bookkeeping for `records` records round-robin over 8 partitions.
fn cycle(records: u64) -> Duration {
    let mut partitions = vec![PartitionProgress::default(); PARTITIONS];
    let mut offsets = [0i64; PARTITIONS];
    let started = Instant::now();
    let per_tick = PER_TICK * PARTITIONS as u64;
    for i in 0..records {
        let p = i as usize % PARTITIONS;
        let tick = i / per_tick;
        partitions[p].emitted(tick, offsets[p]);
        offsets[p] += 1;
        if i % per_tick == per_tick - 1 {
            for progress in &mut partitions {
                progress.release(Some(tick + 1));
                if let Some(offset) = progress.commit_position() {
                    progress.mark_committed(black_box(offset));
                }
            }
        }
    }
    black_box(&partitions);
    started.elapsed()
}
