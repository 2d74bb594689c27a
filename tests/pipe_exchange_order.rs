//! `timely-kafka pipe --exchange` keeps per-partition order when a partition holds many
//! keys, as users run it: the binary as a child process, on several workers.
//!
//! Every input partition carries many keys, and the output topic has one partition, so the
//! output shows the order in which the workers wrote each input partition's records. The
//! exchange routes by input (topic, partition): one worker writes all of a partition, in
//! offset order. Routing by record key instead would spread a partition over the workers,
//! whose producers interleave, and the output would show it out of order.

mod common;

use std::collections::BTreeMap;

use common::*;
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};

const PARTITIONS: i32 = 4;
const PER_PARTITION: i64 = 1_000;
/// Keys per partition: every key has many records, every partition many keys.
const KEYS: i64 = 37;

/// The create time of input record `seq` of `partition`.
fn timestamp(partition: i32, seq: i64) -> i64 {
    1_600_000_000_000 + i64::from(partition) * 1_000_000 + seq
}

#[test]
fn exchange_keeps_each_partitions_order_with_many_keys_per_partition() {
    init_logging();
    let (input, output, group) = (
        unique_name("order-in"),
        unique_name("order-out"),
        unique_name("order-group"),
    );
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&input, PARTITIONS).unwrap();
    cluster.create_topic(&output, 1).unwrap();
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..PER_PARTITION).map(move |s| {
            TestRecord::new(format!("{p}:{s}"))
                .partition(p)
                .key(format!("key-{}", s % KEYS))
                .timestamp_ms(timestamp(p, s))
        })
    });
    cluster.load(&input, records.collect::<Vec<_>>()).unwrap();

    let mut pipe = pipe_process(
        &cluster.bootstrap_servers(),
        &group,
        &input,
        &output,
        &["-w", "3", "--idle-exit", "2"],
    );
    let status = exits_within(&mut pipe, "the pipe", DEADLINE);
    assert!(status.success(), "the pipe failed: {status}");

    let mut written = read_topic(&cluster, &output);
    written.sort_by_key(|w| w.offset);
    let mut seqs: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for w in &written {
        let payload = w.payload.as_deref().expect("a payload");
        let (p, s) = payload.split_once(':').expect("`partition:seq`");
        let (p, s): (i32, i64) = (p.parse().unwrap(), s.parse().unwrap());
        assert_eq!(
            w.key.as_deref(),
            Some(format!("key-{}", s % KEYS).as_str()),
            "key kept"
        );
        assert_eq!(
            w.timestamp_ms,
            Some(timestamp(p, s)),
            "timestamp kept: {w:?}"
        );
        seqs.entry(p).or_default().push(s);
    }
    assert_eq!(seqs.len(), PARTITIONS as usize, "every partition piped");
    for (partition, seqs) in &seqs {
        let first_swap = seqs.windows(2).position(|w| w[0] >= w[1]);
        assert!(
            first_swap.is_none(),
            "input partition {partition} written out of order: seqs {:?} after {} of its records",
            &seqs[first_swap.unwrap()..first_swap.unwrap() + 2],
            first_swap.unwrap()
        );
        assert_eq!(
            seqs.len() as i64,
            PER_PARTITION,
            "input partition {partition}: every record once"
        );
    }
}
