//! Integration tests of `timely_kafka::testing` and the `mock-cluster` command, against
//! real librdkafka mock brokers.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::{Offset, TopicPartitionList};
use timely_kafka::testing::{unique_name, ClusterError, EmbeddedCluster, TestRecord};

const DEADLINE: Duration = Duration::from_secs(30);

/// What a consumer read back from one record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    partition: i32,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp_ms: Option<i64>,
}

fn records_for(partition: i32, count: usize) -> Vec<TestRecord> {
    (0..count)
        .map(|i| {
            TestRecord::new(format!("payload {partition}/{i}"))
                .partition(partition)
                .key(format!("key-{i}"))
                .header("seq", i.to_string())
                .header("origin", "test")
                .timestamp_ms(1_700_000_000_000 + i as i64)
        })
        .collect()
}

/// Reads `expected` records from `topic` (partitions `0..partitions`, from the start)
/// with a plain consumer that assigns instead of subscribing.
fn consume_all(bootstrap: &str, topic: &str, partitions: i32, expected: usize) -> Vec<Received> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique_name("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("create consumer");
    let mut received = Vec::new();
    {
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .expect("add partition");
        }
        consumer.assign(&assignment).expect("assign");
    }
    let deadline = Instant::now() + DEADLINE;
    while received.len() < expected {
        assert!(
            Instant::now() < deadline,
            "read {} of {expected} records before the deadline",
            received.len()
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.expect("consume");
            let headers = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default();
            received.push(Received {
                partition: message.partition(),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().map(<[u8]>::to_vec),
                headers,
                timestamp_ms: message.timestamp().to_millis(),
            });
        }
    }
    received
}

#[test]
fn loaded_records_round_trip_through_a_plain_consumer() {
    let cluster = EmbeddedCluster::new(2).expect("start cluster");
    let topic = unique_name("round-trip");
    cluster.create_topic(&topic, 3).expect("create topic");

    let counts = [5usize, 0, 12];
    let sent: Vec<TestRecord> = (0..3)
        .flat_map(|p| records_for(p, counts[p as usize]))
        .collect();
    let report = cluster.load(&topic, sent.clone()).expect("load");
    assert_eq!(report.records, 17);
    let expected_bytes: usize = sent
        .iter()
        .map(|r| r.key.as_ref().map_or(0, Vec::len) + r.payload.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!(report.bytes, expected_bytes as u64);

    let ends = cluster.end_offsets(&topic).expect("end offsets");
    assert_eq!(ends, BTreeMap::from([(0, 5), (1, 0), (2, 12)]));

    let starts = cluster.start_offsets(&topic).expect("start offsets");
    assert_eq!(starts, BTreeMap::from([(0, 0), (1, 0), (2, 0)]));

    let received = consume_all(&cluster.bootstrap_servers(), &topic, 3, 17);
    for partition in 0..3 {
        let got: Vec<&Received> = received
            .iter()
            .filter(|r| r.partition == partition)
            .collect();
        let want: Vec<Received> = sent
            .iter()
            .filter(|r| r.partition == Some(partition))
            .map(|r| Received {
                partition,
                key: r.key.clone(),
                payload: r.payload.clone(),
                headers: r.headers.clone(),
                timestamp_ms: r.timestamp_ms,
            })
            .collect();
        assert_eq!(
            got,
            want.iter().collect::<Vec<_>>(),
            "partition {partition} (in order)"
        );
    }
}

#[test]
fn records_without_partition_and_tombstones_are_loaded() {
    let cluster = EmbeddedCluster::new(1).expect("start cluster");
    let topic = unique_name("unpartitioned");
    cluster.create_topic(&topic, 4).expect("create topic");
    let records = (0..40)
        .map(|i| TestRecord::new(vec![b'x'; 10]).key(format!("k{i}")))
        .chain(std::iter::once(TestRecord::tombstone().key("gone")));
    let report = cluster.load(&topic, records).expect("load");
    assert_eq!(report.records, 41);
    // Payloads 40 x 10; keys "k0".."k9" 2 bytes, "k10".."k39" 3 bytes; "gone" 4.
    assert_eq!(report.bytes, 40 * 10 + 10 * 2 + 30 * 3 + 4);
    let total: i64 = cluster
        .end_offsets(&topic)
        .expect("end offsets")
        .values()
        .sum();
    assert_eq!(total, 41);
}

#[test]
fn load_rejects_unknown_topics_and_partitions_by_name() {
    let cluster = EmbeddedCluster::new(1).expect("start cluster");
    let missing = unique_name("missing");
    let err = cluster
        .load(&missing, [TestRecord::new("x")])
        .expect_err("unknown topic");
    assert!(matches!(err, ClusterError::UnknownTopic { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");

    let topic = unique_name("two");
    cluster.create_topic(&topic, 2).expect("create topic");
    let err = cluster
        .load(
            &topic,
            [
                TestRecord::new("ok").partition(1),
                TestRecord::new("bad").partition(2),
            ],
        )
        .expect_err("partition 2 of 2");
    assert!(
        matches!(
            err,
            ClusterError::InvalidPartition {
                partition: 2,
                partitions: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&topic), "{err}");
    // The record before the bad one was written and acknowledged before `load` returned.
    assert_eq!(
        cluster.end_offsets(&topic).expect("end offsets"),
        BTreeMap::from([(0, 0), (1, 1)])
    );

    let err = cluster.create_topic(&topic, 2).expect_err("exists");
    assert!(err.to_string().contains(&topic), "{err}");
    assert!(matches!(
        EmbeddedCluster::new(0),
        Err(ClusterError::InvalidBrokerCount { brokers: 0 })
    ));
}

#[test]
fn start_offsets_reveal_what_the_mock_dropped_past_its_retention() {
    let cluster = EmbeddedCluster::new(1).expect("start cluster");
    let topic = unique_name("retention");
    cluster.create_topic(&topic, 1).expect("create topic");
    // 80,000 incompressible 100-byte records: ~8 MB, more than the mock keeps.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let records = (0..80_000).map(|_| {
        let payload: Vec<u8> = (0..100)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        TestRecord::new(payload).partition(0)
    });
    let report = cluster.load(&topic, records).expect("load");
    assert_eq!(report.records, 80_000);
    assert_eq!(cluster.end_offsets(&topic).expect("end")[&0], 80_000);
    let start = cluster.start_offsets(&topic).expect("start")[&0];
    assert!(
        start > 0 && start < 80_000,
        "the oldest records should be gone, the newest kept: start offset {start}"
    );
}

#[test]
fn a_failed_delivery_is_an_error_naming_topic_and_partition() {
    let cluster = EmbeddedCluster::new(1).expect("start cluster");
    let topic = unique_name("faulty");
    cluster.create_topic(&topic, 2).expect("create topic");
    // A non-retriable error on the next Produce request. (Not a topic-level error like
    // TOPIC_AUTHORIZATION_FAILED: librdkafka would mark the topic unusable in the
    // loader until its next metadata refresh.)
    cluster.mock().request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let err = cluster
        .load(&topic, [TestRecord::new("rejected").partition(1)])
        .expect_err("the broker rejects the produce request");
    assert!(
        matches!(&err, ClusterError::Delivery { partition: 1, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&topic) && message.contains("partition 1"),
        "{message}"
    );

    // The fault was one-shot: the next load goes through.
    let report = cluster
        .load(&topic, [TestRecord::new("accepted").partition(1)])
        .expect("load after the fault");
    assert_eq!(report.records, 1);
}

/// A consumer subscribed to a two-partition topic of `cluster`, in a new group.
fn joining_consumer(cluster: &EmbeddedCluster) -> BaseConsumer {
    let topic = unique_name("join");
    cluster.create_topic(&topic, 2).expect("create topic");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", unique_name("joiners"))
        .create()
        .expect("create consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    consumer
}

/// Groups on an `EmbeddedCluster` join at once, not after the mock's default 3 s initial
/// rebalance delay. Measured against a cluster that keeps that delay, joining at the same
/// time under the same load: the default cluster's group must be assigned at least a second
/// earlier (a fixed bound on a loaded machine would flake; both clusters share its load).
#[test]
fn consumer_groups_join_without_the_mocks_initial_delay() {
    const MOCK_DEFAULT: Duration = Duration::from_secs(3);
    let (quick, delayed) = (
        EmbeddedCluster::new(1).expect("start cluster"),
        EmbeddedCluster::new(1).expect("start cluster"),
    );
    delayed.set_group_initial_rebalance_delay(MOCK_DEFAULT);
    let started = Instant::now();
    let consumers = [joining_consumer(&quick), joining_consumer(&delayed)];
    let mut joined: [Option<Duration>; 2] = [None, None];
    while joined.iter().any(Option::is_none) {
        assert!(
            started.elapsed() < DEADLINE,
            "no assignment within {DEADLINE:?}: {joined:?}"
        );
        for (consumer, joined) in consumers.iter().zip(&mut joined) {
            // Serving the consumer's queue drives the join; no message is expected.
            let _ = consumer.poll(Duration::from_millis(10));
            if joined.is_none() && consumer.assignment().expect("assignment").count() == 2 {
                *joined = Some(started.elapsed());
            }
        }
    }
    let [quick, delayed] = joined.map(Option::unwrap);
    assert!(delayed >= MOCK_DEFAULT, "the delay applies: {delayed:?}");
    assert!(
        quick + Duration::from_secs(1) < delayed,
        "joining took {quick:?}, against {delayed:?} with the mock's default delay"
    );
}

#[test]
fn committed_offsets_are_none_until_a_consumer_commits() {
    let cluster = EmbeddedCluster::new(1).expect("start cluster");
    let topic = unique_name("commits");
    let group = unique_name("group");
    cluster.create_topic(&topic, 3).expect("create topic");
    cluster
        .load(&topic, (0..3).flat_map(|p| records_for(p, 4)))
        .expect("load");

    assert_eq!(
        cluster
            .committed_offsets(&group, &topic)
            .expect("committed"),
        BTreeMap::from([(0, None), (1, None), (2, None)])
    );

    {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("create consumer");
        {
            let mut offsets = TopicPartitionList::new();
            offsets
                .add_partition_offset(&topic, 0, Offset::Offset(3))
                .expect("add");
            offsets
                .add_partition_offset(&topic, 2, Offset::Offset(4))
                .expect("add");
            consumer.commit(&offsets, CommitMode::Sync).expect("commit");
        }
    }

    assert_eq!(
        cluster
            .committed_offsets(&group, &topic)
            .expect("committed"),
        BTreeMap::from([(0, Some(3)), (1, None), (2, Some(4))])
    );
    let other = unique_name("other-group");
    assert_eq!(
        cluster
            .committed_offsets(&other, &topic)
            .expect("committed"),
        BTreeMap::from([(0, None), (1, None), (2, None)]),
        "offsets belong to the group that committed them"
    );
}

#[test]
fn the_cluster_can_be_shared_between_threads() {
    let cluster = EmbeddedCluster::new(1).expect("start cluster");
    let topic = unique_name("shared");
    cluster.create_topic(&topic, 2).expect("create topic");
    std::thread::scope(|scope| {
        for partition in 0..2 {
            let cluster = &cluster;
            let topic = &topic;
            scope.spawn(move || {
                let report = cluster
                    .load(topic, records_for(partition, 100))
                    .expect("load");
                assert_eq!(report.records, 100);
            });
        }
    });
    assert_eq!(
        cluster.end_offsets(&topic).expect("end offsets"),
        BTreeMap::from([(0, 100), (1, 100)])
    );
}

/// Waits for `child` to exit, killing it if it outlives `timeout`.
fn wait_with_deadline(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mock-cluster did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mock_cluster_command_serves_other_clients_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args(["mock-cluster", "--topic", "t:4", "--topic", "other:1"])
        .args(["--load", "t:1000", "--initial-rebalance-delay-ms", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mock-cluster");
    common::forward_lines(child.id(), child.stderr.take().expect("stderr"));

    let stdout = child.stdout.take().expect("stdout");
    let (line_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let bootstrap = match lines.recv_timeout(DEADLINE) {
        Ok(line) => line.trim().to_owned(),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mock-cluster printed no bootstrap line within {DEADLINE:?}");
        }
    };
    assert!(
        bootstrap.starts_with("127.0.0.1:"),
        "first line: {bootstrap:?}"
    );

    {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("create client");
        let metadata = client
            .fetch_metadata(Some("t"), Duration::from_secs(10))
            .expect("metadata from the served cluster");
        let topic = metadata
            .topics()
            .iter()
            .find(|t| t.name() == "t")
            .expect("topic t");
        assert_eq!(topic.error(), None);
        assert_eq!(topic.partitions().len(), 4);
        let loaded: i64 = (0..4)
            .map(|p| {
                let (low, high) = client
                    .fetch_watermarks("t", p, Duration::from_secs(10))
                    .expect("watermarks");
                high - low
            })
            .sum();
        assert_eq!(
            loaded, 1000,
            "--load t:1000 is in t before the bootstrap line"
        );
    }

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    let report: Vec<String> = lines.try_iter().collect();
    assert_eq!(
        report,
        ["t records=1000", "other records=0"],
        "shutdown report"
    );
}

#[test]
fn mock_cluster_command_rejects_a_load_into_an_uncreated_topic() {
    let output = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args(["mock-cluster", "--topic", "t:1", "--load", "elsewhere:10"])
        .stdin(Stdio::null())
        .output()
        .expect("run mock-cluster");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--load elsewhere"),
        "the error names the option: {stderr}"
    );
    assert!(output.stdout.is_empty(), "no bootstrap line on failure");
}

#[test]
fn mock_cluster_command_rejects_a_bad_topic_flag() {
    for bad in ["x", "t:0", "t:many"] {
        let output = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
            .args(["mock-cluster", "--topic", bad])
            .stdin(Stdio::null())
            .output()
            .expect("run mock-cluster");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--topic"), "{bad}: {stderr}");
        assert!(stderr.contains(bad), "{bad}: {stderr}");
        assert!(output.stdout.is_empty(), "{bad}: printed a bootstrap line");
    }
}

#[test]
fn mock_cluster_command_has_long_help_and_leaves_short_h_free() {
    let help = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args(["mock-cluster", "--help"])
        .output()
        .expect("run --help");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("--topic <NAME:PARTITIONS>"), "{text}");
    assert!(text.contains("--brokers"), "{text}");

    let short = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args(["mock-cluster", "-h"])
        .output()
        .expect("run -h");
    assert_eq!(short.status.code(), Some(2), "-h must not be a help flag");
}
