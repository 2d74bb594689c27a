//! The prefetch budget (issue 18): librdkafka's prefetch stays within the budget whatever the
//! number of partitions, and a source with a tiny budget over many backlogged partitions
//! still reads every one of them to its end, in order: none starves.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::member::{wait_within, Member};
use common::valve::{ValvedMember, HOLD_ALL};
use common::*;
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::{ClassicAssignor, GroupProtocol};

const PARTITIONS: i32 = 64;
const PER_PARTITION: usize = 2_000;
/// Below one fetch response (`fetch.max.bytes` is at least 1 MiB): each worker's queue may
/// hold a single record before librdkafka stops fetching for it, the smallest limits there
/// are.
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
/// budget: the partitions it takes over forward to its own queues, and together they read
/// every record of every partition.
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

/// A worker that stops reading (its dataflow holds every record) leaves what librdkafka
/// fetched in its queue, and librdkafka stops fetching once that queue holds the worker's
/// share of the budget: over 64 backlogged partitions the process holds about one share plus
/// one fetch response, not a share per partition. (Measured: about 2,400 records of 1 KB;
/// with the derived queue limits made 8× larger it held 18,944 of the 19,200.)
#[test]
fn a_stopped_worker_prefetches_its_share_of_the_budget_whatever_the_partition_count() {
    const PARTITIONS: i32 = 64;
    const PER_PARTITION: usize = 300;
    const PAYLOAD: usize = 1_000;
    const BUDGET: u64 = 4 << 20;
    // What the builder derives for one worker: `fetch.max.bytes` = 1 MiB (its floor), and
    // `queued.max.messages.kbytes` = ¾ of the rest.
    const FETCH_MAX_BYTES: u64 = 1 << 20;
    const QUEUE_BYTES: u64 = (BUDGET - FETCH_MAX_BYTES) * 3 / 4;
    let topic = unique_name("budget-held");
    let cluster = EmbeddedCluster::new(1).expect("start the embedded cluster");
    cluster.create_topic(&topic, PARTITIONS).unwrap();
    // Payloads that do not compress: librdkafka limits a fetch in bytes on the wire.
    let mut random = Random::from_env("PREFETCH_SEED");
    let records: Vec<TestRecord> = (0..PARTITIONS)
        .flat_map(|p| (0..PER_PARTITION).map(move |s| (p, s)))
        .map(|(p, s)| {
            let mut payload = format!("{p}:{s}:");
            while payload.len() < PAYLOAD {
                payload.push_str(&format!("{:016x}", random.below(u64::MAX)));
            }
            payload.truncate(PAYLOAD);
            TestRecord::new(payload).partition(p).key(format!("k{s}"))
        })
        .collect();
    cluster.load(&topic, records).unwrap();
    let member = ValvedMember::start(
        config(&cluster.bootstrap_servers(), &unique_name("g"), &topic)
            .prefetch_budget_bytes(BUDGET)
            .max_in_flight_records(100),
        HOLD_ALL,
    );
    // The queue fills up to its limit...
    let filled = QUEUE_BYTES / PAYLOAD as u64;
    wait_for("librdkafka to fill the worker's queue", || {
        member.control.metrics().prefetched_records >= filled
    });
    // ... and no further than one response past it, however long the worker stays stopped.
    let bound = (QUEUE_BYTES + 2 * FETCH_MAX_BYTES) / PAYLOAD as u64;
    let mut most = 0;
    for _ in 0..50 {
        most = most.max(member.control.metrics().prefetched_records);
        std::thread::sleep(Duration::from_millis(20));
    }
    let read = member.read.load(std::sync::atomic::Ordering::SeqCst) as u64;
    eprintln!("prefetched at most {most} records (bound {bound}); {read} read");
    assert!(
        most <= bound,
        "{most} records prefetched (and {read} read) out of {}, with a bound of {bound}",
        PARTITIONS as usize * PER_PARTITION
    );
    member.stop();
}
