//! The Kafka source against librdkafka's mock cluster, with 1, 2 and 4 workers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use timely_kafka::testing::unique_name;
use timely_kafka::{Error, KafkaSourceExt, SourceConfig};

const PARTITIONS: i32 = 8;
const PER_PARTITION: usize = 250;

/// Every record exactly once, per-partition offset order at the output, each partition on
/// exactly one worker with balanced shares, and committed offsets equal to the end offsets
/// after shutdown.
fn clean_run(workers: usize) {
    let topic = unique_name("clean");
    let group = unique_name("clean-group");
    let cluster = loaded_cluster(&topic, PARTITIONS, PER_PARTITION);
    let bootstrap = cluster.bootstrap_servers();
    let total = PARTITIONS as usize * PER_PARTITION;

    let seen = consume(
        config(&bootstrap, &group, &topic).build().unwrap(),
        workers,
        total,
    );

    // Exactly once.
    assert_eq!(seen.len(), total, "every record once, no more");
    let distinct: BTreeSet<(i32, i64)> = seen
        .iter()
        .map(|s| (s.record.partition, s.record.offset))
        .collect();
    assert_eq!(distinct.len(), total, "no duplicates");

    let partitions = by_partition(&seen);
    let mut per_worker: BTreeMap<usize, usize> = BTreeMap::new();
    for (partition, records) in &partitions {
        // In offset order, with the payload written at that offset.
        let offsets: Vec<i64> = records.iter().map(|s| s.record.offset).collect();
        assert_eq!(
            offsets,
            (0..PER_PARTITION as i64).collect::<Vec<_>>(),
            "partition {partition} in order"
        );
        for s in records {
            assert_eq!(
                s.record.payload_str(),
                Some(format!("{partition}:{}", s.record.offset).as_str())
            );
            assert_eq!(s.record.topic.as_ref(), topic.as_str());
        }
        // One worker per partition.
        let owners: BTreeSet<usize> = records.iter().map(|s| s.worker).collect();
        assert_eq!(owners.len(), 1, "partition {partition} read by {owners:?}");
        *per_worker
            .entry(*owners.iter().next().unwrap())
            .or_default() += 1;
    }
    let (lo, hi) = (
        PARTITIONS as usize / workers,
        (PARTITIONS as usize).div_ceil(workers),
    );
    assert_eq!(
        per_worker.len(),
        workers.min(PARTITIONS as usize),
        "every worker owns partitions: {per_worker:?}"
    );
    assert!(
        per_worker.values().all(|n| *n == lo || *n == hi),
        "balanced shares: {per_worker:?}"
    );

    // Committed == end offsets.
    let ends = cluster.end_offsets(&topic).unwrap();
    let committed = committed(&bootstrap, &group, &topic, PARTITIONS);
    for (partition, end) in ends {
        assert_eq!(
            committed[&partition],
            Some(end),
            "partition {partition} committed to its end"
        );
    }
}

#[test]
fn clean_run_1w() {
    clean_run(1);
}

#[test]
fn clean_run_2w() {
    clean_run(2);
}

#[test]
fn clean_run_4w() {
    clean_run(4);
}

/// A restart with the same group resumes at the committed offset: it sees exactly the
/// records produced after the first run's shutdown, none of the first run's.
fn restart_resumes_without_duplicates(workers: usize) {
    let topic = unique_name("restart");
    let group = unique_name("restart-group");
    let cluster = loaded_cluster(&topic, 4, 100);
    let bootstrap = cluster.bootstrap_servers();

    let first = consume(
        config(&bootstrap, &group, &topic).build().unwrap(),
        workers,
        400,
    );
    assert_eq!(first.len(), 400);

    load(&cluster, &topic, 4, 100..150);
    let second = consume(
        config(&bootstrap, &group, &topic).build().unwrap(),
        workers,
        200,
    );
    assert_eq!(second.len(), 200, "only the new records");
    assert!(
        second.iter().all(|s| s.record.offset >= 100),
        "no record of the first run is read again"
    );
    let committed = committed(&bootstrap, &group, &topic, 4);
    assert!(committed.values().all(|c| *c == Some(150)), "{committed:?}");
}

#[test]
fn restart_resumes_without_duplicates_1w() {
    restart_resumes_without_duplicates(1);
}

#[test]
fn restart_resumes_without_duplicates_2w() {
    restart_resumes_without_duplicates(2);
}

#[test]
fn restart_resumes_without_duplicates_4w() {
    restart_resumes_without_duplicates(4);
}

/// `ignore_committed` with `Earliest` reads everything again (broadway_kafka's
/// `begin_offset: :reset`). (Start by timestamp needs a broker that answers ListOffsets by
/// timestamp; librdkafka's mock does not, so it is covered by the real-broker suite.)
#[test]
fn start_policies() {
    let topic = unique_name("policy");
    let group = unique_name("policy-group");
    let cluster = loaded_cluster(&topic, 2, 50);
    let bootstrap = cluster.bootstrap_servers();

    let first = consume(config(&bootstrap, &group, &topic).build().unwrap(), 1, 100);
    assert_eq!(first.len(), 100);
    let again = consume(
        config(&bootstrap, &group, &topic)
            .ignore_committed(true)
            .build()
            .unwrap(),
        1,
        100,
    );
    assert_eq!(again.len(), 100, "reset to earliest re-reads everything");
}

/// An unreachable broker gives an error within the configured time instead of hanging.
#[test]
fn unreachable_broker_errors_in_bounded_time() {
    // Port 9 (discard) on loopback: nothing listens there.
    let config = SourceConfig::builder()
        .brokers("127.0.0.1:9")
        .group_id("nobody")
        .topic("t")
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let results = timely::execute(timely::Config::process(2), move |worker| {
        worker.dataflow::<u64, _, _>(|scope| scope.kafka_source(&config).err())
    })
    .unwrap()
    .join();
    let elapsed = started.elapsed();
    for result in results {
        match result.unwrap() {
            Some(Error::BrokersUnreachable { brokers, .. }) => assert_eq!(brokers, "127.0.0.1:9"),
            other => panic!("expected BrokersUnreachable, got {other:?}"),
        }
    }
    assert!(
        elapsed < Duration::from_secs(10),
        "gave up after {elapsed:?}"
    );
}

/// Keys, payloads (including Kafka's null), headers and timestamps arrive as written.
#[test]
fn record_fields_round_trip() {
    use timely_kafka::testing::TestRecord;
    use timely_kafka::{RecordHeader, RecordTimestamp};
    let topic = unique_name("fields");
    let cluster = timely_kafka::testing::EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 1).unwrap();
    let records = vec![
        TestRecord::new("with headers")
            .partition(0)
            .key("k1")
            .header("trace", "abc")
            .header("trace", "def")
            .header("empty", "")
            .timestamp_ms(1_700_000_000_123),
        TestRecord::tombstone().partition(0).key("k2"),
        TestRecord::new("no key").partition(0),
    ];
    cluster.load(&topic, records).unwrap();
    let seen = consume(
        config(
            &cluster.bootstrap_servers(),
            &unique_name("fields-group"),
            &topic,
        )
        .build()
        .unwrap(),
        1,
        3,
    );
    let got: Vec<_> = seen.into_iter().map(|s| s.record).collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(got[0].payload_str(), Some("with headers"));
    assert_eq!(
        got[0].timestamp,
        RecordTimestamp::CreateTime(1_700_000_000_123)
    );
    assert_eq!(
        got[0].headers,
        [
            RecordHeader {
                key: "trace".into(),
                value: Some(b"abc".to_vec())
            },
            RecordHeader {
                key: "trace".into(),
                value: Some(b"def".to_vec())
            },
            RecordHeader {
                key: "empty".into(),
                value: Some(Vec::new())
            },
        ]
    );
    assert_eq!(got[1].key_str(), Some("k2"));
    assert_eq!(got[1].payload, None, "a tombstone's payload is null");
    assert_eq!(got[2].key, None);
    assert!(got[2].headers.is_empty());
    assert!(matches!(got[2].timestamp, RecordTimestamp::CreateTime(_)));
}

/// Refused commits (RELIABILITY row 7) are sent again: the source meets every injected
/// error, reads each partition once in order, and the committed offsets still reach the
/// end, and never pass it.
#[test]
fn refused_commits_are_retried() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let topic = unique_name("refused");
    let group = unique_name("refused-group");
    let cluster = loaded_cluster(&topic, 2, 100);
    // Only the source commits (the observer below reads with OffsetFetch).
    cluster
        .broker_request_errors(
            1,
            RDKafkaApiKey::OffsetCommit,
            &[
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            ],
        )
        .unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let seen = consume(config(&bootstrap, &group, &topic).build().unwrap(), 1, 200);
    assert_eq!(
        pending_errors(&cluster, 1, RDKafkaApiKey::OffsetCommit),
        0,
        "the source met every injected error"
    );
    for (partition, records) in by_partition(&seen) {
        let offsets: Vec<i64> = records.iter().map(|s| s.record.offset).collect();
        assert_eq!(
            offsets,
            (0..100).collect::<Vec<_>>(),
            "partition {partition}: each record once, in order"
        );
    }
    let committed = committed(&bootstrap, &group, &topic, 2);
    assert!(committed.values().all(|c| *c == Some(100)), "{committed:?}");
}

/// Static membership (RELIABILITY row 20): `group.instance.id` from a prefix and the process
/// index; a clean restart with the same identity resumes with no duplicates.
#[test]
fn static_member_restarts_cleanly() {
    let topic = unique_name("static");
    let group = unique_name("static-group");
    let cluster = loaded_cluster(&topic, 2, 50);
    let bootstrap = cluster.bootstrap_servers();
    let make = || {
        config(&bootstrap, &group, &topic)
            .static_membership("pipeline", 0)
            .build()
            .unwrap()
    };
    let first = consume(make(), 1, 100);
    assert_eq!(first.len(), 100);
    load(&cluster, &topic, 2, 50..60);
    let second = consume(make(), 1, 20);
    assert_eq!(second.len(), 20, "only the new records");
    assert!(second.iter().all(|s| s.record.offset >= 50));
    let err = SourceConfig::builder()
        .brokers("b:1")
        .group_id("g")
        .topic("t")
        .static_membership("has space", 0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("static_membership"), "{err}");
    let err = SourceConfig::builder()
        .brokers("b:1")
        .group_id("g")
        .topic("t")
        .set("group.instance.id", "x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("static_membership"), "{err}");
}

/// RELIABILITY row 12, a record over the fetch limit: a record larger than
/// `max_partition_fetch_bytes` is still delivered whole (brokers return at least one record
/// per fetch, KIP-74), in order with its neighbours, and committed past; nothing stalls.
#[test]
fn a_record_over_the_fetch_limit_is_delivered_and_committed() {
    let topic = unique_name("oversized");
    let group = unique_name("oversized-group");
    let cluster = timely_kafka::testing::EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 1).unwrap();
    let big = "x".repeat(600 * 1024);
    let records = ["before".to_owned(), big.clone(), "after".to_owned()]
        .map(|payload| timely_kafka::testing::TestRecord::new(payload).partition(0));
    cluster.load(&topic, records).unwrap();
    let config = config(&cluster.bootstrap_servers(), &group, &topic)
        .max_partition_fetch_bytes(64 * 1024)
        .build()
        .unwrap();
    let seen = consume(config, 1, 3);
    let payloads: Vec<usize> = seen
        .iter()
        .map(|s| s.record.payload.as_ref().map_or(0, Vec::len))
        .collect();
    assert_eq!(payloads, [6, big.len(), 5], "all three, whole and in order");
    assert_eq!(
        committed(&cluster.bootstrap_servers(), &group, &topic, 1)[&0],
        Some(3)
    );
}

/// Records that arrive after every partition was read to its end are read, round after
/// round, on every partition and every worker: a partition read to its end is skipped until
/// its queue's wake-up says something arrived (issue 18), and no wake-up may be lost.
#[test]
fn records_arriving_after_the_source_caught_up_are_read() {
    const ROUNDS: usize = 6;
    const PER_ROUND: usize = 10;
    let topic = unique_name("late");
    let group = unique_name("late-group");
    let cluster = loaded_cluster(&topic, PARTITIONS, PER_ROUND);
    let bootstrap = cluster.bootstrap_servers();
    let config = config(&bootstrap, &group, &topic).build().unwrap();
    let per_round = PARTITIONS as usize * PER_ROUND;
    let loaded = std::sync::Mutex::new(1usize);
    let load_topic = topic.clone();
    // Each time everything loaded so far has been seen, the next round is loaded: the source
    // has caught up on every partition by then.
    let seen = consume_until_count(config, 2, move |count| {
        let mut rounds = loaded.lock().unwrap();
        if count >= *rounds * per_round && *rounds < ROUNDS {
            let seqs = *rounds * PER_ROUND..(*rounds + 1) * PER_ROUND;
            let records = (0..PARTITIONS).flat_map(|p| {
                seqs.clone().map(move |s| {
                    timely_kafka::testing::TestRecord::new(format!("{p}:{s}")).partition(p)
                })
            });
            timely_kafka::testing::load_into(&bootstrap, &load_topic, records).unwrap();
            *rounds += 1;
        }
        count >= ROUNDS * per_round
    });
    for (partition, records) in by_partition(&seen) {
        let offsets: Vec<i64> = records.iter().map(|s| s.record.offset).collect();
        let want: Vec<i64> = (0..(ROUNDS * PER_ROUND) as i64).collect();
        assert_eq!(
            offsets, want,
            "partition {partition}: every round, once, in order"
        );
    }
    assert_eq!(seen.len(), ROUNDS * per_round);
}

/// The source derives `fetch.max.bytes` from its prefetch budget (8 MiB by default); once it
/// is set, librdkafka refuses a client whose `message.max.bytes` is larger, or whose
/// `receive.message.max.bytes` is not 512 bytes above it. A user's own sizes must still
/// work.
#[test]
fn a_users_message_and_receive_sizes_still_make_a_consumer() {
    let topic = unique_name("sizes");
    let cluster = loaded_cluster(&topic, 2, 20);
    for (key, value) in [
        ("message.max.bytes", "10485760"),
        ("receive.message.max.bytes", "2000000"),
    ] {
        let config = config(&cluster.bootstrap_servers(), &unique_name("g"), &topic)
            .set(key, value)
            .build()
            .unwrap();
        assert_eq!(consume(config, 1, 40).len(), 40, "with {key}={value}");
    }
}
