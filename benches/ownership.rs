//! Ownership: which local worker reads which assigned partition (divan).
//!
//! Run: `cargo bench --bench ownership`.
//!
//! Times one call, for assignments of 8, 64 and 1,024 partitions (the argument):
//! * `owned_by`: one worker's share of the assignment, at 2 and 8 workers (each worker
//!   calls it on every assignment change);
//! * `owner`: the owner of one partition, 4 workers;
//! * `deal_fresh`, `deal_half_kept`: dealing a fresh assignment over 4 workers, and one where
//!   half the partitions keep their owners (a rebalance that adds partitions).
//!
//! These run once per rebalance, not per record.

use std::collections::BTreeMap;

use divan::{black_box, Bencher};
use timely_kafka::source::ownership::{deal, owned_by, owner};
use timely_kafka::TopicPartition;

const PARTITIONS: [i32; 3] = [8, 64, 1024];

fn main() {
    divan::main();
}

fn assignment(partitions: i32) -> Vec<TopicPartition> {
    (0..partitions)
        .map(|p| TopicPartition::new(format!("topic-{}", p % 4), p / 4))
        .collect()
}

#[divan::bench(consts = [2, 8], args = PARTITIONS)]
fn owned_by_workers<const W: usize>(bencher: Bencher, partitions: i32) {
    let assignment = assignment(partitions);
    let mut i = 0usize;
    bencher.bench_local(|| {
        i += 1;
        owned_by(black_box(&assignment), i % W, W)
    });
}

#[divan::bench(args = PARTITIONS)]
fn owner_of_one(bencher: Bencher, partitions: i32) {
    let assignment = assignment(partitions);
    let probe = assignment[assignment.len() / 2].clone();
    bencher.bench_local(|| owner(black_box(&assignment), &probe, 4));
}

#[divan::bench(args = PARTITIONS)]
fn deal_fresh(bencher: Bencher, partitions: i32) {
    let fresh: BTreeMap<TopicPartition, Option<usize>> = assignment(partitions)
        .into_iter()
        .map(|tp| (tp, None))
        .collect();
    bencher.bench_local(|| deal(black_box(&fresh), 4));
}

#[divan::bench(args = PARTITIONS)]
fn deal_half_kept(bencher: Bencher, partitions: i32) {
    let half_kept: BTreeMap<TopicPartition, Option<usize>> = assignment(partitions)
        .into_iter()
        .enumerate()
        .map(|(i, tp)| (tp, i.is_multiple_of(2).then_some(i % 4)))
        .collect();
    bencher.bench_local(|| deal(black_box(&half_kept), 4));
}
