//! Ownership: which local worker reads which assigned partition.
//!
//! Run: `cargo bench --bench ownership` (optionally `-- OPS`, default 20,000 calls per figure).
//!
//! Measures, in ns per call (best of 5 runs), for assignments of 8, 64 and 1,024 partitions:
//! * `owned_by`: one worker's share of the assignment (each worker calls it on every
//!   assignment change);
//! * `owner`: the owner of one partition;
//! * `deal`: dealing a fresh assignment, and dealing one where half the partitions keep
//!   their owners (a rebalance that adds partitions).
//!
//! These run once per rebalance, not per record: on the development machine even 1,024
//! partitions cost under 0.2 ms per call (they sort and copy the assignment).

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;

use common::{count_arg, ns_per_op, report};
use timely_kafka::ownership::{deal, owned_by, owner};
use timely_kafka::TopicPartition;

fn main() {
    let ops = count_arg(20_000);
    println!("calls per run: {ops}");
    for partitions in [8, 64, 1024] {
        let assignment: Vec<TopicPartition> = (0..partitions)
            .map(|p| TopicPartition::new(format!("topic-{}", p % 4), p / 4))
            .collect();
        for workers in [2, 8] {
            let ns = ns_per_op(ops, |i| {
                black_box(owned_by(
                    black_box(&assignment),
                    i as usize % workers,
                    workers,
                ));
            });
            report(&format!("owned_by   P={partitions:<5} W={workers}"), ns);
        }
        let probe = assignment[assignment.len() / 2].clone();
        let ns = ns_per_op(ops, |_| {
            black_box(owner(black_box(&assignment), &probe, 4));
        });
        report(&format!("owner      P={partitions:<5} W=4"), ns);

        let fresh: BTreeMap<TopicPartition, Option<usize>> =
            assignment.iter().map(|tp| (tp.clone(), None)).collect();
        let ns = ns_per_op(ops, |_| {
            black_box(deal(black_box(&fresh), 4));
        });
        report(&format!("deal fresh P={partitions:<5} W=4"), ns);

        let half_kept: BTreeMap<TopicPartition, Option<usize>> = assignment
            .iter()
            .enumerate()
            .map(|(i, tp)| (tp.clone(), i.is_multiple_of(2).then_some(i % 4)))
            .collect();
        let ns = ns_per_op(ops, |_| {
            black_box(deal(black_box(&half_kept), 4));
        });
        report(&format!("deal half  P={partitions:<5} W=4"), ns);
    }
}
