//! Record conversion: making owned, serializable records from a message's bytes, and moving
//! them between workers (divan).
//!
//! Run: `cargo bench --bench record`.
//!
//! The source's real conversion (librdkafka message → `KafkaRecord`, in
//! `src/group/partition_queue.rs`) is private, so this measures what is public and does the
//! same work: building a `KafkaRecord` from borrowed bytes (topic shared as an `Arc<str>`,
//! key, payload and headers copied into owned buffers, timestamp), as the source does for
//! every message once librdkafka has handed it over. Then the costs a record may meet
//! downstream: `clone`, a bincode round trip (timely 0.32 serializes records with serde
//! and bincode when it exchanges them between processes), a serde_json round trip, and
//! `SinkRecord::from_record` (the pipe's map). Each figure is one record.

use std::sync::{Arc, LazyLock};

use divan::{black_box, Bencher};
use timely_kafka::sink::SinkRecord;
use timely_kafka::{KafkaRecord, RecordHeader, RecordTimestamp};

/// A message as librdkafka lends it: borrowed bytes.
struct Borrowed<'a> {
    partition: i32,
    offset: i64,
    key: Option<&'a [u8]>,
    payload: Option<&'a [u8]>,
    timestamp_ms: i64,
    headers: &'a [(&'a str, Option<&'a [u8]>)],
}

/// What the source does with it: copy into an owned record.
#[inline]
fn to_owned(topic: &Arc<str>, m: &Borrowed<'_>) -> KafkaRecord {
    KafkaRecord {
        topic: Arc::clone(topic),
        partition: m.partition,
        offset: m.offset,
        key: m.key.map(<[u8]>::to_vec),
        payload: m.payload.map(<[u8]>::to_vec),
        timestamp: RecordTimestamp::CreateTime(m.timestamp_ms),
        headers: m
            .headers
            .iter()
            .map(|(k, v)| RecordHeader {
                key: (*k).to_owned(),
                value: v.map(<[u8]>::to_vec),
            })
            .collect(),
    }
}

static TOPIC: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("bench-topic"));
const PAYLOAD: [u8; 100] = [b'x'; 100];
const KEY: &[u8] = b"customer-0000042";
const HEADERS: [(&str, Option<&[u8]>); 2] =
    [("trace-id", Some(b"4bf92f3577b34da6")), ("source", None)];

fn plain(i: u64) -> Borrowed<'static> {
    Borrowed {
        partition: (i % 8) as i32,
        offset: i as i64,
        key: None,
        payload: Some(&PAYLOAD),
        timestamp_ms: 1_700_000_000_000,
        headers: &[],
    }
}

fn full(i: u64) -> Borrowed<'static> {
    Borrowed {
        key: Some(KEY),
        headers: &HEADERS,
        ..plain(i)
    }
}

/// The full record (16 B key, 100 B payload, 2 headers).
fn record() -> KafkaRecord {
    to_owned(&TOPIC, &full(42))
}

fn main() {
    let record = record();
    println!(
        "full record encoded: bincode {} B, serde_json {} B",
        bincode::serialize(&record).map_or(0, |b| b.len()),
        serde_json::to_vec(&record).map_or(0, |b| b.len())
    );
    divan::main();
}

/// Owned record from borrowed bytes: 100 B payload.
#[divan::bench]
fn owned_plain(bencher: Bencher) {
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        to_owned(&TOPIC, &black_box(plain(i)))
    });
}

/// Owned record from borrowed bytes: 16 B key, 100 B payload, 2 headers.
#[divan::bench]
fn owned_full(bencher: Bencher) {
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        to_owned(&TOPIC, &black_box(full(i)))
    });
}

#[divan::bench]
fn clone_full(bencher: Bencher) {
    let record = record();
    bencher.bench_local(|| black_box(&record).clone());
}

#[divan::bench]
fn bincode_round_trip(bencher: Bencher) {
    let record = record();
    let mut buffer = Vec::with_capacity(512);
    bencher.bench_local(|| {
        buffer.clear();
        bincode::serialize_into(&mut buffer, black_box(&record)).expect("serialize");
        bincode::deserialize::<KafkaRecord>(&buffer).expect("deserialize")
    });
}

#[divan::bench]
fn serde_json_round_trip(bencher: Bencher) {
    let record = record();
    let mut buffer = Vec::with_capacity(1024);
    bencher.bench_local(|| {
        buffer.clear();
        serde_json::to_writer(&mut buffer, black_box(&record)).expect("serialize");
        serde_json::from_slice::<KafkaRecord>(&buffer).expect("deserialize")
    });
}

#[divan::bench]
fn sink_record_from_record(bencher: Bencher) {
    let record = record();
    bencher.bench_local(|| SinkRecord::from_record(black_box(&record)));
}
