//! Offset tracking: the per-partition bookkeeping behind frontier-driven commits (divan).
//!
//! Run: `cargo bench --bench progress`.
//!
//! Times `timely_kafka::source::progress::PartitionProgress`:
//! * `emitted`: noting one emitted record (the source does this for every record);
//! * `release`: releasing 1,000 ticks as the frontier passes them (per tick: divan's
//!   throughput line);
//! * `commit_step`: one tick's emitted + release + `commit_position` + `mark_committed`;
//! * `cycle`: a source's whole bookkeeping for 100,000 records round-robin over 8
//!   partitions, 1,000 records per partition per tick, a release and a commit step every
//!   tick (per record: divan's throughput line).

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use timely_kafka::source::progress::PartitionProgress;

const PARTITIONS: usize = 8;
const PER_TICK: u64 = 1_000;
const TICKS: u64 = 1_000;
const CYCLE_RECORDS: u64 = 100_000;

fn main() {
    divan::main();
}

#[divan::bench]
fn emitted(bencher: Bencher) {
    let mut progress = PartitionProgress::default();
    let mut i = 0u64;
    bencher.bench_local(|| {
        progress.emitted(black_box(i / PER_TICK), i as i64);
        i += 1;
    });
    black_box(&progress);
}

#[divan::bench]
fn release(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(TICKS))
        .with_inputs(|| {
            let mut p = PartitionProgress::default();
            for t in 0..TICKS {
                p.emitted(t, t as i64);
            }
            p
        })
        .bench_local_refs(|p| {
            for t in 1..=TICKS {
                black_box(p.release(Some(t)));
            }
        });
}

#[divan::bench]
fn commit_step(bencher: Bencher) {
    let mut p = PartitionProgress::default();
    let mut i = 0u64;
    bencher.bench_local(|| {
        p.emitted(i, i as i64);
        p.release(Some(i + 1));
        if let Some(offset) = p.commit_position() {
            p.mark_committed(offset);
        }
        i += 1;
    });
}

#[divan::bench]
fn cycle(bencher: Bencher) {
    bencher
        .counter(ItemsCount::new(CYCLE_RECORDS))
        .bench_local(|| cycle_records(CYCLE_RECORDS));
}

/// The source's bookkeeping for `records` records round-robin over 8 partitions.
fn cycle_records(records: u64) -> Vec<PartitionProgress> {
    let mut partitions = vec![PartitionProgress::default(); PARTITIONS];
    let mut offsets = [0i64; PARTITIONS];
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
    partitions
}
