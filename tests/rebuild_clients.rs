//! The clients `rebuild_to_kafka` builds besides the source and the sink (the reader of the
//! output topic's keys, the watcher of the group's commits): they carry the user's client
//! settings, and commit metadata another client left does not break them.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely_kafka::differential::{KafkaCollectionExt, UpsertSinkExt};
use timely_kafka::sink::SinkConfig;
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::{KafkaSourceExt, OffsetReset};

/// A TCP proxy in front of a broker that notes the `client.id` of the first request on
/// every connection. Clients connect to it to bootstrap; the broker's metadata then sends
/// them to the broker itself, so every client shows up here once, at its first connection.
struct ClientIds {
    address: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ClientIds {
    fn start(broker: &str) -> ClientIds {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (broker, noted) = (broker.to_owned(), Arc::clone(&seen));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut upstream) = TcpStream::connect(&broker) else {
                    continue;
                };
                let noted = Arc::clone(&noted);
                let (mut client_back, mut upstream_back) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                thread::spawn(move || {
                    let _ = std::io::copy(&mut upstream_back, &mut client_back);
                });
                thread::spawn(move || {
                    // A request: size (i32), api key (i16), api version (i16), correlation
                    // id (i32), client id (i16 length, then the bytes), ...
                    let mut size = [0u8; 4];
                    if client.read_exact(&mut size).is_err() {
                        return;
                    }
                    let mut frame = vec![0u8; i32::from_be_bytes(size) as usize];
                    if client.read_exact(&mut frame).is_err() {
                        return;
                    }
                    let length = i16::from_be_bytes([frame[8], frame[9]]);
                    let id = if length < 0 {
                        String::new()
                    } else {
                        String::from_utf8_lossy(&frame[10..10 + length as usize]).into_owned()
                    };
                    noted.lock().unwrap().push(id);
                    if upstream.write_all(&size).is_err() || upstream.write_all(&frame).is_err() {
                        return;
                    }
                    let _ = std::io::copy(&mut client, &mut upstream);
                });
            }
        });
        ClientIds { address, seen }
    }
}

/// The final value of every key in a changelog topic (a tombstone removes the key).
fn final_state(cluster: &EmbeddedCluster, topic: &str) -> BTreeMap<String, String> {
    changelog_state(&read_topic(cluster, topic))
}

/// Rebuilds the upsert view of `input` into `output` through `brokers`, with `settings`
/// passed through to both the source and the sink, until the input is committed to its end.
fn rebuild(
    cluster: &EmbeddedCluster,
    brokers: &str,
    group: &str,
    input: &str,
    output: &str,
    settings: &[(&str, &str)],
) {
    let mut source = config(brokers, group, input)
        .ignore_committed(true)
        .offset_reset(OffsetReset::Earliest);
    let mut sink = SinkConfig::builder().brokers(brokers).default_topic(output);
    for (key, value) in settings {
        source = source.set(*key, *value);
        sink = sink.set(*key, *value);
    }
    let (source, sink) = (source.build().unwrap(), sink.build().unwrap());
    let end = cluster.end_offsets(input).unwrap()[&0];
    let (bootstrap, group, input) = (
        cluster.bootstrap_servers(),
        group.to_owned(),
        input.to_owned(),
    );
    timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let handle = worker.dataflow(|scope| {
            let consumed = scope.kafka_source(&source).unwrap();
            consumed
                .records
                .upserts()
                .collection
                .rebuild_to_kafka(&sink, &source)
                .unwrap()
                .acknowledged
                .probe_with(&probe);
            consumed.handle.commit_after(&probe);
            consumed.handle
        });
        let started = Instant::now();
        let mut checked = Instant::now();
        while !handle.control().is_closed() {
            worker.step_or_park(Some(Duration::from_millis(10)));
            if checked.elapsed() > Duration::from_millis(200) {
                checked = Instant::now();
                let done = committed(&bootstrap, &group, &input, 1)[&0] == Some(end);
                if done || started.elapsed() > DEADLINE {
                    handle.shutdown();
                }
            }
        }
    });
}

/// An input of five keys and an output holding a key that left the view.
fn topics(cluster: &EmbeddedCluster, prefix: &str) -> (String, String) {
    let (input, output) = (
        unique_name(&format!("{prefix}-in")),
        unique_name(&format!("{prefix}-out")),
    );
    cluster.create_topic(&input, 1).unwrap();
    cluster.create_topic(&output, 1).unwrap();
    let records = (0..5).map(|k| TestRecord::new(format!("v{k}")).key(format!("k{k}")));
    cluster.load(&input, records).unwrap();
    cluster
        .load(&output, [TestRecord::new("old").key("gone")])
        .unwrap();
    (input, output)
}

fn expected() -> BTreeMap<String, String> {
    (0..5).map(|k| (format!("k{k}"), format!("v{k}"))).collect()
}

/// Every client a rebuilt view builds presents the `client.id` the user passed through
/// (and with it the rest of the user's settings: security, timeouts, ...).
#[test]
fn every_client_of_a_rebuild_carries_the_users_settings() {
    init_logging();
    let cluster = EmbeddedCluster::new(1).unwrap();
    let (input, output) = topics(&cluster, "carry");
    let proxy = ClientIds::start(&cluster.bootstrap_servers());
    let group = unique_name("carry-group");
    rebuild(
        &cluster,
        &proxy.address,
        &group,
        &input,
        &output,
        &[("client.id", "users-client")],
    );
    assert_eq!(final_state(&cluster, &output), expected());
    let seen = proxy.seen.lock().unwrap().clone();
    // The source's consumer, the sink's producer, the output reader and the watcher.
    assert!(seen.len() >= 4, "clients seen: {seen:?}");
    assert!(
        seen.iter().all(|id| id == "users-client"),
        "a client without the user's client.id: {seen:?}"
    );
}

/// Commits `offset` of `topic`/0 for `group` with `metadata` as raw bytes, the way a
/// client in another language may leave them.
fn commit_with_raw_metadata(
    bootstrap: &str,
    group: &str,
    topic: &str,
    offset: i64,
    metadata: &[u8],
) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    let placeholder = "x".repeat(metadata.len());
    tpl.find_partition(topic, 0)
        .unwrap()
        .set_metadata(&placeholder);
    // SAFETY: the list has one element, whose metadata buffer was just allocated with
    // `metadata.len()` bytes; we overwrite those bytes in place.
    unsafe {
        let elem = &mut *(*tpl.ptr()).elems;
        assert_eq!(elem.metadata_size, metadata.len());
        std::ptr::copy_nonoverlapping(metadata.as_ptr(), elem.metadata as *mut u8, metadata.len());
    }
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
    drop(tpl);
}

/// Commit metadata that is not UTF-8, left on the group by another client, is foreign
/// metadata like any other: the rebuild converges.
#[test]
fn foreign_commit_metadata_that_is_not_utf8_does_not_break_a_rebuild() {
    init_logging();
    let cluster = EmbeddedCluster::new(1).unwrap();
    let (input, output) = topics(&cluster, "raw-meta");
    let bootstrap = cluster.bootstrap_servers();
    let group = unique_name("raw-meta-group");
    commit_with_raw_metadata(&bootstrap, &group, &input, 2, &[0xff, 0xfe, 0x00, 0xc3]);
    rebuild(&cluster, &bootstrap, &group, &input, &output, &[]);
    assert_eq!(final_state(&cluster, &output), expected());
}
