//! Record conversion: making owned, serializable records from a message's bytes, and moving
//! them between workers.
//!
//! Run: `cargo bench --bench record` (optionally `-- RECORDS`, default 2,000,000).
//!
//! The source's real conversion (librdkafka message → `KafkaRecord`, in
//! `src/group/partition_queue.rs`) is private, so this measures what is public and does the
//! same work: building a `KafkaRecord` from borrowed bytes (topic shared as an `Arc<str>`,
//! key, payload and headers copied into owned buffers, timestamp), as the source does for
//! every message once librdkafka has handed it over. Then the costs a record may meet
//! downstream: `clone`, a bincode round trip (timely 0.32 serializes records with serde
//! and bincode when it exchanges them between processes), a serde_json round trip, and
//! `SinkRecord::from_record` (the pipe's map). Figures are ns per record, best of 5 runs.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::{count_arg, ns_per_op, report};
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

fn main() {
    let records = count_arg(2_000_000);
    println!("records per run: {records}");
    let topic: Arc<str> = Arc::from("bench-topic");
    let payload = vec![b'x'; 100];
    let key = b"customer-0000042".to_vec();
    let headers: [(&str, Option<&[u8]>); 2] =
        [("trace-id", Some(b"4bf92f3577b34da6")), ("source", None)];
    let plain = |i: u64| Borrowed {
        partition: (i % 8) as i32,
        offset: i as i64,
        key: None,
        payload: Some(&payload),
        timestamp_ms: 1_700_000_000_000,
        headers: &[],
    };
    let full = |i: u64| Borrowed {
        key: Some(&key),
        headers: &headers,
        ..plain(i)
    };

    let ns = ns_per_op(records, |i| {
        black_box(to_owned(&topic, &black_box(plain(i))));
    });
    report("owned record: 100 B payload", ns);
    let ns = ns_per_op(records, |i| {
        black_box(to_owned(&topic, &black_box(full(i))));
    });
    report("owned record: 16 B key, 100 B payload, 2 headers", ns);

    let record = to_owned(&topic, &full(42));
    let ns = ns_per_op(records, |_| {
        black_box(black_box(&record).clone());
    });
    report("clone (full record)", ns);

    let mut buffer = Vec::with_capacity(512);
    let ns = ns_per_op(records, |_| {
        buffer.clear();
        bincode::serialize_into(&mut buffer, black_box(&record)).expect("serialize");
        let back: KafkaRecord = bincode::deserialize(&buffer).expect("deserialize");
        black_box(back);
    });
    report(
        &format!("bincode round trip ({} B encoded)", buffer.len()),
        ns,
    );

    let ns = ns_per_op(records / 4, |_| {
        buffer.clear();
        serde_json::to_writer(&mut buffer, black_box(&record)).expect("serialize");
        let back: KafkaRecord = serde_json::from_slice(&buffer).expect("deserialize");
        black_box(back);
    });
    report(
        &format!("serde_json round trip ({} B encoded)", buffer.len()),
        ns,
    );

    let ns = ns_per_op(records, |_| {
        black_box(SinkRecord::from_record(black_box(&record)));
    });
    report("SinkRecord::from_record (full record)", ns);
}
