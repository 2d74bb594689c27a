//! Where reading starts and what it covers: a start at a timestamp for a group with no
//! committed offset, and partitions added to the topic while `pipe` runs (row 19).

use std::collections::BTreeMap;

use crate::broker::*;
use crate::common::*;
use timely_kafka::testing::{unique_name, Checker, Trace};
use timely_kafka::OffsetReset;

/// A group with no committed offset, `OffsetReset::Timestamp(t)`: each partition is read
/// from its first record whose timestamp is at or after `t` (Kafka's ListOffsets by time),
/// and then to its end; the commits land at the end.
#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_group_without_commits_starts_at_the_timestamp() {
    let (topic, group) = (unique_name("rb-time"), unique_name("rb-time-group"));
    create_topic(&topic, PARTITIONS);
    // Record `seq` of every partition has create time BASE + seq seconds.
    const BASE: i64 = 1_700_000_000_000;
    const RECORDS: u64 = 40;
    const FIRST: u64 = 25;
    produce_to(
        &topic,
        0..PARTITIONS,
        0,
        0..RECORDS,
        Some(&|seq| BASE + seq as i64 * 1000),
    );
    // Half a second before record FIRST: the first record at or after it is FIRST.
    let start = BASE + FIRST as i64 * 1000 - 500;
    let config = config(&brokers(), &group, &topic)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .offset_reset(OffsetReset::Timestamp(start))
        .build()
        .unwrap();
    let expected = ((RECORDS - FIRST) * PARTITIONS as u64) as usize;
    let seen = consume(config, 2, expected);
    let mut firsts: BTreeMap<i32, u64> = BTreeMap::new();
    for s in &seen {
        let trace = Trace::parse(s.record.payload.as_deref().unwrap()).unwrap();
        firsts.entry(trace.partition).or_insert(trace.seq);
        assert!(
            trace.seq >= FIRST,
            "{}: record {} is older than the start timestamp",
            s.record.position(),
            trace.seq
        );
    }
    let every_partition: BTreeMap<i32, u64> = (0..PARTITIONS).map(|p| (p, FIRST)).collect();
    assert_eq!(
        firsts, every_partition,
        "each partition starts at its record {FIRST}"
    );
    assert_eq!(
        seen.len(),
        expected,
        "everything from the timestamp on, once"
    );
    assert_committed_to_end(&committed(&brokers(), &group, &topic, PARTITIONS), RECORDS);
}

/// Partitions added to the input while `pipe` runs are read and committed: under the
/// classic protocol at the next metadata refresh (`topic.metadata.refresh.interval.ms`,
/// set to 2 s here; librdkafka's default is 5 minutes), under the `consumer` protocol when
/// the broker assigns them, at a heartbeat.
fn added_partitions_are_read_and_committed(protocol: Protocol, extra: &[&str]) {
    let (input, output, group) = (
        unique_name("rb-grow-in"),
        unique_name("rb-grow-out"),
        unique_name("rb-grow-group"),
    );
    const BEFORE: i32 = 2;
    create_topic(&input, BEFORE);
    create_topic(&output, PARTITIONS);
    produce_to(&input, 0..BEFORE, 0, 0..PER_PARTITION, None);
    let mut child = pipe(protocol, &group, &input, &output, extra);
    let first = PER_PARTITION as i64 * BEFORE as i64;
    wait_for("the first load copied", || total_end(&output) >= first);
    add_partitions(&input, PARTITIONS);
    produce(&input, 1, 0..PER_PARTITION);
    let ends: BTreeMap<i32, Option<i64>> = (0..PARTITIONS)
        .map(|p| {
            (
                p,
                Some(PER_PARTITION as i64 * if p < BEFORE { 2 } else { 1 }),
            )
        })
        .collect();
    wait_for("every partition, old and new, committed to its end", || {
        committed(&brokers(), &group, &input, PARTITIONS) == ends
    });
    terminate(&child);
    assert_exits_cleanly("pipe", &mut child);
    let total = (PER_PARTITION * (BEFORE + PARTITIONS) as u64) as usize;
    let mut checker = Checker::new();
    add_input(&mut checker, &input, total);
    for w in read_to_end(&output) {
        checker.observe_payload(0, w.payload.unwrap().as_bytes());
    }
    let report = checker.report();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.duplicates(), 0, "{report}");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn added_partitions_are_read_and_committed_classic() {
    added_partitions_are_read_and_committed(
        Protocol::Classic,
        &["--consumer-set", "topic.metadata.refresh.interval.ms=2000"],
    );
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn added_partitions_are_read_and_committed_consumer_protocol() {
    added_partitions_are_read_and_committed(Protocol::Consumer, &[]);
}
