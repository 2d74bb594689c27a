//! The prefetch budget (issue 18): with a budget that lets only a few partitions fetch at
//! once, a source over many backlogged partitions still reads every one of them to its end,
//! in order: partitions take turns, and none starves.

mod common;

use std::collections::BTreeMap;

use common::*;
use timely_kafka::testing::unique_name;

const PARTITIONS: i32 = 64;
const PER_PARTITION: usize = 2_000;
/// At the floor of the derived limits (16 KiB fetches) a partition's reserve is 97,920
/// bytes: two partitions fetch at once on one worker, one per worker on two.
const BUDGET: u64 = 200_000;

fn every_partition_read_to_its_end(workers: usize) {
    let topic = unique_name("budget");
    let cluster = loaded_cluster(&topic, PARTITIONS, PER_PARTITION);
    let config = config(&cluster.bootstrap_servers(), &unique_name("g"), &topic)
        .prefetch_budget_bytes(BUDGET)
        .build()
        .unwrap();
    let expected = PARTITIONS as usize * PER_PARTITION;
    let seen = consume(config, workers, expected);
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for s in &seen {
        offsets
            .entry(s.record.partition)
            .or_default()
            .push(s.record.offset);
    }
    assert_eq!(
        offsets.len(),
        PARTITIONS as usize,
        "every partition was read"
    );
    for (partition, offsets) in &offsets {
        let want: Vec<i64> = (0..PER_PARTITION as i64).collect();
        assert_eq!(
            offsets, &want,
            "partition {partition}: every record once, in order"
        );
    }
}

#[test]
fn a_small_budget_reads_every_partition_to_its_end_1w() {
    every_partition_read_to_its_end(1);
}

#[test]
fn a_small_budget_reads_every_partition_to_its_end_2w() {
    every_partition_read_to_its_end(2);
}
