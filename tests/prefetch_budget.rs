//! The prefetch budget (issue 18): with a budget that lets only a few partitions fetch at
//! once, a source over many backlogged partitions still reads every one of them to its end,
//! in order: partitions take turns, and none starves.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::member::{wait_within, Member};
use common::*;
use timely_kafka::testing::unique_name;
use timely_kafka::{ClassicAssignor, GroupProtocol};

const PARTITIONS: i32 = 64;
const PER_PARTITION: usize = 2_000;
/// At the floor of the derived limits (16 KiB fetches) a partition's reserve is 209,920
/// bytes: two partitions fetch at once on one worker, one per worker on two.
const BUDGET: u64 = 420_000;

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

/// A second member joins while the first is still working through a backlog under a small
/// budget: the fetch window is re-dealt on the rebalance, and together they read every
/// record of every partition.
#[test]
fn a_small_budget_reads_every_partition_across_a_rebalance() {
    const PARTITIONS: i32 = 32;
    const PER_PARTITION: i64 = 1_000;
    let topic = unique_name("budget-rebalance");
    let cluster = loaded_cluster(&topic, PARTITIONS, PER_PARTITION as usize);
    let group = unique_name("g");
    let builder = || {
        config(&cluster.bootstrap_servers(), &group, &topic)
            .group_protocol(GroupProtocol::Classic(ClassicAssignor::CooperativeSticky))
            .prefetch_budget_bytes(BUDGET)
    };
    // Slow enough that a backlog is left when the second member joins.
    let a = Member::start(builder(), 1, Duration::from_micros(100));
    wait_within("the first member to read", DEADLINE, || {
        a.log().observed.len() > 1_000
    });
    let b = Member::start(builder(), 2, Duration::ZERO);
    let all_read = || {
        let (a, b) = (a.log(), b.log());
        (0..PARTITIONS).all(|p| {
            let mut seen: Vec<i64> = a
                .observed
                .iter()
                .chain(&b.observed)
                .filter(|o| o.1 == p)
                .map(|o| o.2)
                .collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len() as i64 == PER_PARTITION
        })
    };
    wait_within("every record of every partition", DEADLINE, all_read);
    assert!(
        b.log().assigned > 0,
        "the second member was assigned partitions"
    );
    let (b_log, _) = b.stop();
    let (a_log, _) = a.stop();
    assert!(!b_log.observed.is_empty(), "the second member read records");
    assert!(!a_log.observed.is_empty(), "the first member read records");
}
