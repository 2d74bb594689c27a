//! The source, the sink and `pipe` on the broker under test, and aborted transactions.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::broker::*;
use crate::common::*;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use timely_kafka::sink::{SinkConfig, SinkRecord};
use timely_kafka::testing::{unique_name, Trace};

/// A source configuration for the broker under test, with the classic protocol's 6 s
/// session (what the broker accepts as least).
fn source_config(group: &str, topic: &str) -> timely_kafka::SourceConfigBuilder {
    config(&brokers(), group, topic)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn source_reads_every_record_in_order_and_commits_to_the_end() {
    let (topic, group) = (unique_name("rb-source"), unique_name("rb-source-group"));
    create_topic(&topic, PARTITIONS);
    produce(&topic, 0, 0..PER_PARTITION);
    let total = (PER_PARTITION * PARTITIONS as u64) as usize;
    let config = source_config(&group, &topic)
        .fetch_max_wait(Duration::from_millis(10))
        .build()
        .unwrap();
    let watch = CommitWatch::start(&group, &topic, PARTITIONS);
    let seen = consume(config, 2, total);
    let mut checker = checker_with_input(&topic, total);
    for s in &seen {
        checker.observe(0, s.record.partition, s.record.offset);
    }
    let readings = watch.finish(&mut checker);
    let commits = record_commits(&mut checker, &group, &topic);
    let report = checker.report();
    assert!(report.is_clean(), "{report} ({readings} commit readings)");
    assert_eq!(report.duplicates(), 0, "{report}");
    assert_committed_to_end(&commits, PER_PARTITION);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn sink_writes_every_record_to_its_partition_in_order() {
    let topic = unique_name("rb-sink");
    create_topic(&topic, PARTITIONS);
    let records: Vec<SinkRecord> = (0..PER_PARTITION)
        .flat_map(|seq| {
            (0..PARTITIONS).map(move |partition| {
                SinkRecord::new(
                    Trace {
                        run: 0,
                        partition,
                        seq,
                    }
                    .payload(),
                )
                .partition(partition)
            })
        })
        .collect();
    let config = SinkConfig::builder()
        .brokers(brokers())
        .default_topic(&topic)
        .build()
        .unwrap();
    let error = write_through_sink(config, records);
    assert!(error.is_none(), "{error:?}");
    let total = (PER_PARTITION * PARTITIONS as u64) as usize;
    let written = read_to_end(&topic);
    assert_eq!(written.len(), total, "every record written once");
    let mut last: BTreeMap<i32, u64> = BTreeMap::new();
    for w in written {
        let (partition, offset) = (w.partition, w.offset);
        let trace = Trace::parse(w.payload.unwrap().as_bytes()).unwrap();
        assert_eq!(
            trace.partition, partition,
            "offset {offset}: explicit partition kept"
        );
        let expected = last.get(&partition).map_or(0, |previous| previous + 1);
        assert_eq!(trace.seq, expected, "partition {partition} in order");
        last.insert(partition, trace.seq);
    }
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_copies_every_record_and_commits_to_the_end() {
    let (input, output, group) = (
        unique_name("rb-pipe-in"),
        unique_name("rb-pipe-out"),
        unique_name("rb-pipe-group"),
    );
    create_topic(&input, PARTITIONS);
    create_topic(&output, PARTITIONS);
    produce(&input, 0, 0..PER_PARTITION);
    let watch = CommitWatch::start(&group, &input, PARTITIONS);
    let mut child = pipe(
        Protocol::Classic,
        &group,
        &input,
        &output,
        &["--idle-exit", "5"],
    );
    assert_exits_cleanly("pipe", &mut child);
    let total = (PER_PARTITION * PARTITIONS as u64) as usize;
    let mut checker = checker_with_input(&input, total);
    for w in read_to_end(&output) {
        checker.observe_payload(0, w.payload.unwrap().as_bytes());
    }
    watch.finish(&mut checker);
    let commits = record_commits(&mut checker, &group, &input);
    let report = checker.report();
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        report.duplicates(),
        0,
        "a clean run writes each record once: {report}"
    );
    assert_committed_to_end(&commits, PER_PARTITION);
}

/// RELIABILITY row 17, transactional gaps: a transactional producer writes records it
/// aborts, then records it commits. The source (librdkafka's default `read_committed`)
/// delivers only the committed ones, and commits past the gap the aborted records and the
/// transaction markers leave: committed = last delivered offset + 1. librdkafka's mock
/// writes no transaction markers, so this runs on Apache Kafka only.
#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn aborted_transactions_are_skipped_and_committed_past() {
    let (topic, group) = (unique_name("rb-txn"), unique_name("rb-txn-group"));
    create_topic(&topic, 1);
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("transactional.id", unique_name("rb-txn-producer"))
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(DEADLINE)
        .expect("init transactions");
    let write = |label: &str, commit: bool| {
        producer.begin_transaction().unwrap();
        for i in 0..5 {
            let payload = format!("{label}-{i}");
            producer
                .send(
                    BaseRecord::<(), _>::to(&topic)
                        .partition(0)
                        .payload(&payload),
                )
                .unwrap();
        }
        // Serves the delivery reports, which the transaction's end needs.
        producer.flush(DEADLINE).unwrap();
        if commit {
            producer.commit_transaction(DEADLINE).unwrap();
        } else {
            producer.abort_transaction(DEADLINE).unwrap();
        }
    };
    write("aborted", false);
    write("committed", true);
    let config = source_config(&group, &topic).build().unwrap();
    let seen = consume(config, 1, 5);
    let payloads: Vec<String> = seen
        .iter()
        .map(|s| s.record.payload_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        payloads,
        (0..5).map(|i| format!("committed-{i}")).collect::<Vec<_>>(),
        "only the committed transaction's records"
    );
    let last = seen.last().unwrap().record.offset;
    assert!(
        last > 5,
        "the aborted records and a marker come first: {last}"
    );
    let end = end_offsets(&topic)[&0];
    assert_eq!(
        end,
        last + 2,
        "the committed transaction's marker ends the log"
    );
    assert_eq!(
        committed(&brokers(), &group, &topic, 1)[&0],
        Some(last + 1),
        "committed past the gap"
    );
}
