//! `timely_kafka::offsets` against the embedded cluster: what each figure reads, which
//! topics a group has commits on, and errors that name what they were reading.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely_kafka::offsets::{OffsetReader, OffsetsError, Watermarks};
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::TopicPartition;

/// Commits `offsets` (partition, offset, metadata) on `topic` for `group`, as a member would.
fn commit(cluster: &EmbeddedCluster, group: &str, topic: &str, offsets: &[(i32, i64, &str)]) {
    let member: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("create a member");
    let mut list = TopicPartitionList::new();
    for &(partition, offset, metadata) in offsets {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .expect("add");
        list.find_partition(topic, partition)
            .expect("just added")
            .set_metadata(metadata);
    }
    member.commit(&list, CommitMode::Sync).expect("commit");
}

/// A cluster with `topic` of 3 partitions holding 4, 5 and 6 records.
fn loaded(topic: &str) -> EmbeddedCluster {
    let cluster = EmbeddedCluster::new(1).expect("start the cluster");
    cluster.create_topic(topic, 3).expect("create the topic");
    let records = (0..3).flat_map(|p| (0..4 + p).map(move |_| TestRecord::new("x").partition(p)));
    cluster
        .load(topic, records.collect::<Vec<_>>())
        .expect("load");
    cluster
}

#[test]
fn each_figure_reads_what_the_cluster_holds() {
    let topic = unique_name("figures");
    let cluster = loaded(&topic);
    let group = unique_name("group");
    commit(&cluster, &group, &topic, &[(0, 4, "run-1"), (2, 1, "")]);

    let reader = OffsetReader::new(&cluster.bootstrap_servers(), &group, &ClientConfig::new())
        .expect("reader");
    let partitions = reader.partitions(&topic).expect("partitions");
    assert_eq!(
        partitions,
        (0..3)
            .map(|p| TopicPartition::new(topic.as_str(), p))
            .collect::<Vec<_>>()
    );
    let marks = reader.watermarks(&partitions).expect("watermarks");
    let highs: Vec<i64> = marks.values().map(|m| m.high).collect();
    assert_eq!(highs, [4, 5, 6]);
    assert!(marks.values().all(|m| m.low == 0));
    assert_eq!(
        marks[&partitions[1]],
        Watermarks { low: 0, high: 5 },
        "the same figures as the cluster's own end offsets: {:?}",
        cluster.end_offsets(&topic)
    );

    let committed = reader.committed_offsets(&partitions).expect("committed");
    let offsets: Vec<Option<i64>> = committed.values().map(|c| c.offset).collect();
    assert_eq!(offsets, [Some(4), None, Some(1)]);
    assert_eq!(committed[&partitions[0]].metadata, b"run-1");

    let lag = reader.group_lag([&topic]).expect("lag");
    assert_eq!(lag.group, group);
    let each: Vec<u64> = lag.partitions.iter().map(|p| p.lag).collect();
    assert_eq!(each, [0, 5, 5], "caught up; no commit counts all; 6 - 1");
    assert_eq!(lag.total(), 10);
}

#[test]
fn the_group_topics_are_those_it_has_commits_on() {
    let cluster = EmbeddedCluster::new(1).expect("start the cluster");
    let (orders, clicks, unread) = (
        unique_name("orders"),
        unique_name("clicks"),
        unique_name("unread"),
    );
    for topic in [&orders, &clicks, &unread] {
        cluster.create_topic(topic, 2).expect("create");
    }
    let group = unique_name("group");
    commit(&cluster, &group, &orders, &[(1, 0, "")]);
    commit(&cluster, &group, &clicks, &[(0, 0, "")]);

    let reader = OffsetReader::new(&cluster.bootstrap_servers(), &group, &ClientConfig::new())
        .expect("reader");
    let mut expected = vec![clicks, orders];
    expected.sort();
    assert_eq!(reader.group_topics().expect("topics"), expected);

    let stranger = OffsetReader::new(
        &cluster.bootstrap_servers(),
        &unique_name("stranger"),
        &ClientConfig::new(),
    )
    .expect("reader");
    assert!(stranger.group_topics().expect("topics").is_empty());
}

#[test]
fn an_unknown_topic_is_an_error_naming_it_never_an_empty_lag() {
    let topic = unique_name("known");
    let cluster = loaded(&topic);
    let reader =
        OffsetReader::new(&cluster.bootstrap_servers(), "g", &ClientConfig::new()).expect("reader");
    let missing = unique_name("missing");
    let err = reader
        .group_lag([topic.as_str(), missing.as_str()])
        .expect_err("a missing topic");
    assert!(
        matches!(&err, OffsetsError::UnknownTopic { topic } if *topic == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains(&missing), "{err}");
}

#[test]
fn unreachable_brokers_fail_within_the_timeout_with_a_code() {
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").to_string()
    };
    let reader = OffsetReader::new(&closed, "g", &ClientConfig::new())
        .expect("creating a client connects to nothing")
        .timeout(Duration::from_secs(1));
    let started = Instant::now();
    let err = reader.partition_count("t").expect_err("no broker");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, OffsetsError::Metadata { topic, .. } if topic == "t"),
        "{err:?}"
    );
    assert!(err.code().is_some(), "{err:?}");
}
