//! The Kafka sink on the mock cluster: configuration errors, compression codecs,
//! partitioners, and errors for records it cannot place.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use timely_kafka::sink::{
    Acks, Compression, Partitioner, SinkConfig, SinkConfigBuilder, SinkRecord,
};
use timely_kafka::testing::{unique_name, EmbeddedCluster};
use timely_kafka::SinkError;

fn rejected(builder: SinkConfigBuilder, key: &str) {
    let err = builder.build().expect_err("must be rejected");
    assert_eq!(config_error_key(&err), key, "{err}");
    assert!(err.to_string().contains(key), "{err}");
}

#[test]
fn invalid_sink_configs_name_their_key() {
    let b = || SinkConfig::builder().brokers("localhost:9092");
    rejected(SinkConfig::builder(), "bootstrap.servers");
    rejected(b().default_topic("bad topic"), "topics");
    rejected(b().acks(Acks::Leader), "acks");
    rejected(b().acks(Acks::None), "acks");
    rejected(b().max_in_flight(6), "max_in_flight");
    rejected(b().max_in_flight(0), "max_in_flight");
    rejected(b().retries(0), "retries");
    rejected(b().delivery_timeout(Duration::ZERO), "delivery_timeout");
    rejected(b().set("compression.type", "gzip"), "compression.type");
    rejected(b().set("enable.idempotence", "false"), "enable.idempotence");
    rejected(
        b().set("delivery.report.only.error", "true"),
        "delivery.report.only.error",
    );
    rejected(b().set("no.such.key", "1"), "no.such.key");
    // A producer queue smaller than one maximum-size record would never fit it.
    rejected(b().queue_max_kbytes(100), "queue_max_kbytes");
    // Without idempotence, weaker acks are allowed.
    b().idempotence(false)
        .acks(Acks::Leader)
        .max_in_flight(10)
        .build()
        .unwrap();
    let printed = format!("{:?}", b().set("sasl.password", "hunter2").build().unwrap());
    assert!(!printed.contains("hunter2"), "{printed}");
}

#[test]
fn every_compression_codec_round_trips() {
    let cluster = EmbeddedCluster::new(1).unwrap();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = unique_name("codec");
        cluster.create_topic(&topic, 1).unwrap();
        let config = SinkConfig::builder()
            .brokers(cluster.bootstrap_servers())
            .default_topic(&topic)
            .compression(codec)
            .build()
            .unwrap();
        let records = (0..50)
            .map(|i| SinkRecord::new(format!("record {i} {}", "x".repeat(100))))
            .collect();
        assert!(write_through_sink(config, records).is_none());
        let read = read_topic(&cluster, &topic);
        assert_eq!(read.len(), 50, "{codec:?}");
        assert_eq!(
            read[7].payload.as_deref(),
            Some(format!("record 7 {}", "x".repeat(100)).as_str())
        );
    }
}

#[test]
fn partitioners_place_records_where_they_say() {
    let cluster = EmbeddedCluster::new(1).unwrap();
    let keys: Vec<String> = (0..40).map(|i| format!("customer-{i}")).collect();
    let run = |partitioner: Partitioner| {
        let topic = unique_name("placed");
        cluster.create_topic(&topic, 6).unwrap();
        let config = SinkConfig::builder()
            .brokers(cluster.bootstrap_servers())
            .default_topic(&topic)
            .partitioner(partitioner)
            .build()
            .unwrap();
        let mut records: Vec<SinkRecord> = keys
            .iter()
            .map(|k| SinkRecord::new(k.clone()).key(k.clone()))
            .collect();
        records.push(SinkRecord::new("explicit").key("customer-0").partition(5));
        assert!(write_through_sink(config, records).is_none());
        read_topic(&cluster, &topic)
    };
    let md5 = |key: &str| {
        use md5::{Digest, Md5};
        let d = Md5::digest(key.as_bytes());
        (u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 6) as i32
    };
    for written in run(Partitioner::Md5) {
        let expected = if written.payload.as_deref() == Some("explicit") {
            5
        } else {
            md5(written.key.as_deref().unwrap())
        };
        assert_eq!(written.partition, expected, "{written:?}");
    }
    for written in run(Partitioner::Crc32) {
        if written.payload.as_deref() != Some("explicit") {
            let expected = (crc32fast::hash(written.key.as_deref().unwrap().as_bytes()) % 6) as i32;
            assert_eq!(written.partition, expected, "{written:?}");
        }
    }
    let by_length = Partitioner::Custom(Arc::new(|key, n| key.map_or(0, |k| k.len() as i32 % n)));
    for written in run(by_length) {
        if written.payload.as_deref() != Some("explicit") {
            assert_eq!(
                written.partition,
                written.key.as_deref().unwrap().len() as i32 % 6
            );
        }
    }
    let spread: std::collections::BTreeSet<i32> = run(Partitioner::RoundRobin)
        .iter()
        .map(|w| w.partition)
        .collect();
    assert_eq!(spread.len(), 6, "round robin uses every partition");
}

#[test]
fn records_the_sink_cannot_place_are_errors_not_panics() {
    let cluster = EmbeddedCluster::new(1).unwrap();
    let topic = unique_name("placed");
    cluster.create_topic(&topic, 2).unwrap();
    // No topic anywhere.
    let no_default = SinkConfig::builder()
        .brokers(cluster.bootstrap_servers())
        .build()
        .unwrap();
    let error = write_through_sink(no_default, vec![SinkRecord::new("where to?")]);
    assert!(
        matches!(error, Some(SinkError::NoTopic { .. })),
        "{error:?}"
    );
    // A custom partitioner out of range names the topic and partition.
    let config = SinkConfig::builder()
        .brokers(cluster.bootstrap_servers())
        .default_topic(&topic)
        .partitioner(Partitioner::Custom(Arc::new(|_, _| 7)))
        .build()
        .unwrap();
    match write_through_sink(config, vec![SinkRecord::new("x").key("k")]) {
        Some(SinkError::BadPartition {
            topic: t,
            partition: 7,
            partitions: 2,
        }) => assert_eq!(t, topic),
        other => panic!("expected BadPartition, got {other:?}"),
    }
}
