//! (c, baseline) Raw copy: the pipe's physical baseline. One rdkafka `BaseConsumer` reading
//! every partition and one `ThreadedProducer` (as the sink's) writing each record to the
//! output topic, in one loop on one thread, no timely.
//!
//! It gives what the pipe gives: the producer has the sink's default settings (acks=all,
//! idempotence, the same linger, batch and queue limits, murmur2_random partitioner, no
//! compression), records keep their key, payload, headers and timestamp, and the input
//! offsets are committed every commit interval once every record read before them is
//! acknowledged (at-least-once, as the pipe's commits after its acknowledgement frontier).
//! Timed from the first record read to the last record acknowledged; latency is
//! acknowledged-at (the delivery report) minus the record's timestamp.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::latency::{now_micros, Histogram};
use super::measure::RunOutput;
use super::produce::send_waiting;
use super::raw::assigned_consumer;
use super::signals::RunSignals;

/// The sink's producer settings at its defaults (`SinkConfig::builder()`, see
/// `src/sink/config.rs`), which the pipe runs with.
const SINK_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("request.timeout.ms", "30000"),
    ("message.timeout.ms", "120000"),
    ("linger.ms", "5"),
    ("batch.num.messages", "10000"),
    ("batch.size", "1000000"),
    ("max.in.flight.requests.per.connection", "5"),
    ("message.send.max.retries", "2147483647"),
    ("retry.backoff.ms", "100"),
    ("compression.type", "none"),
    ("partitioner", "murmur2_random"),
    ("queue.buffering.max.messages", "100000"),
    ("queue.buffering.max.kbytes", "65536"),
];

/// What a copy run reads and writes.
pub struct CopySpec<'a> {
    pub bootstrap: &'a str,
    /// `--set` settings, for the consumer (as the raw consumer and the source get them).
    pub settings: &'a [(String, String)],
    pub input: &'a str,
    pub output: &'a str,
    pub partitions: i32,
    /// The group whose offsets are committed.
    pub group: &'a str,
    pub expected: u64,
    pub latency_every: u64,
    pub commit_interval: Duration,
}

/// Acknowledgements, counted by the commit epoch the record was sent in.
#[derive(Default)]
struct Acks {
    /// Acknowledged records per epoch.
    by_epoch: Vec<u64>,
    delivered: u64,
    failure: Option<String>,
    latency: Histogram,
}

struct Deliveries(Mutex<Acks>);

impl ClientContext for Deliveries {
    timely_kafka::oauth_token_refresh!();
}

impl ProducerContext for Deliveries {
    /// See [`opaque`].
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let mut acks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(_) => {
                let (epoch, stamp) = unpack(opaque);
                if acks.by_epoch.len() <= epoch {
                    acks.by_epoch.resize(epoch + 1, 0);
                }
                acks.by_epoch[epoch] += 1;
                acks.delivered += 1;
                if let Some(ts) = stamp {
                    acks.latency.record_since(ts, now_micros());
                }
            }
            Err((e, _)) => {
                acks.failure.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Bits of a delivery opaque holding a sampled record's timestamp + 1 (0: not sampled);
/// the commit epoch is above them. (The delivery report's own timestamp reads 0 here.)
const STAMP_BITS: u32 = 42;

/// The delivery opaque of a record sent in `epoch`, with its timestamp if sampled.
fn opaque(epoch: usize, stamp: Option<i64>) -> usize {
    let stamp = stamp.map_or(0, |ts| (ts.clamp(0, (1 << STAMP_BITS) - 2) + 1) as usize);
    epoch << STAMP_BITS | stamp
}

fn unpack(opaque: usize) -> (usize, Option<i64>) {
    let stamp = (opaque & ((1 << STAMP_BITS) - 1)) as i64;
    (opaque >> STAMP_BITS, (stamp > 0).then(|| stamp - 1))
}

/// Copies `expected` records from `input` to `output`, committing as described above.
pub fn copy(
    spec: &CopySpec<'_>,
    signals: &RunSignals,
    limit: Duration,
) -> Result<RunOutput, String> {
    let consumer = assigned_consumer(
        spec.bootstrap,
        spec.group,
        spec.settings,
        spec.input,
        spec.partitions,
        "raw copy",
    )?;
    let mut config = super::connection::client_config(spec.bootstrap);
    for (key, value) in SINK_DEFAULTS {
        config.set(*key, *value);
    }
    let deliveries = Deliveries(Mutex::new(Acks::default()));
    let producer: ThreadedProducer<Deliveries> = timely_kafka::client::create(&config, deliveries)
        .map_err(|e| format!("raw copy producer: {e}"))?;
    warm_up(&producer, spec.output)?;
    signals.set_ready();

    let deadline = Instant::now() + limit;
    let every = spec.latency_every.max(1);
    let mut out = RunOutput::default();
    let (mut read, mut bytes) = (0u64, 0u64);
    // The next offset to read per partition, and what each epoch sent.
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let mut sent_by_epoch: Vec<u64> = vec![0];
    // Closed epochs with the positions at their close, oldest first.
    let mut checkpoints: VecDeque<(usize, BTreeMap<i32, i64>)> = VecDeque::new();
    let mut committed: BTreeMap<i32, i64> = BTreeMap::new();
    let mut next_commit = Instant::now() + spec.commit_interval;
    loop {
        let delivered = {
            let acks = producer
                .context()
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(e) = &acks.failure {
                return Err(format!("raw copy: delivery failed: {e}"));
            }
            acks.delivered
        };
        if delivered >= spec.expected {
            out.throughput.last = Some(Instant::now());
            break;
        }
        if signals.failed() {
            return Err("raw copy: stopped, the producer failed".into());
        }
        let now = Instant::now();
        if now > deadline {
            return Err(format!(
                "raw copy: {delivered} of {} records acknowledged in {limit:?}",
                spec.expected
            ));
        }
        if now >= next_commit {
            next_commit = now + spec.commit_interval;
            checkpoints.push_back((sent_by_epoch.len() - 1, positions.clone()));
            sent_by_epoch.push(0);
        }
        commit_acknowledged(
            &consumer,
            &producer,
            &sent_by_epoch,
            &mut checkpoints,
            &mut committed,
            spec.input,
        )?;
        if read >= spec.expected {
            // Everything sent: wait for the acknowledgements (checking commits meanwhile).
            let _ = producer.flush(Duration::from_millis(10));
            continue;
        }
        // Read and send a burst: the first record waited for, the rest as they are queued.
        let burst_end = (read + 64).min(spec.expected);
        let mut wait = Duration::from_millis(10);
        while read < burst_end {
            let message = match consumer.poll(wait) {
                None => break,
                Some(Ok(message)) => message,
                Some(Err(e)) => return Err(format!("raw copy consumer: {e}")),
            };
            wait = Duration::ZERO;
            if read == 0 {
                out.throughput.first = Some(Instant::now());
            }
            let epoch = sent_by_epoch.len() - 1;
            let timestamp = message.timestamp().to_millis();
            let sampled = timestamp.filter(|_| read.is_multiple_of(every));
            let mut record = BaseRecord::with_opaque_to(spec.output, opaque(epoch, sampled));
            if let Some(payload) = message.payload() {
                record = record.payload(payload);
            }
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(ts) = timestamp {
                record = record.timestamp(ts);
            }
            if let Some(headers) = message.headers() {
                record = record.headers(headers.iter().fold(OwnedHeaders::new(), |owned, h| {
                    owned.insert(Header {
                        key: h.key,
                        value: h.value,
                    })
                }));
            }
            send_waiting(&producer, record, "raw copy producer")?;
            sent_by_epoch[epoch] += 1;
            positions.insert(message.partition(), message.offset() + 1);
            bytes += message.payload().map_or(0, <[u8]>::len) as u64;
            read += 1;
        }
    }
    out.throughput.records = read;
    out.throughput.bytes = bytes;
    // What a crash now would restart from; then the final commit, as the pipe's shutdown.
    out.committed_at_last = Some(committed);
    commit(&consumer, &positions, spec.input, CommitMode::Sync)?;
    out.latency = std::mem::take(
        &mut producer
            .context()
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .latency,
    );
    Ok(out)
}

/// Connects the producer and has its idempotent producer id before reading, as the sink
/// has by the time its source has joined the group: one empty record to each partition of
/// `topic`, acknowledged, then the counts reset.
fn warm_up(producer: &ThreadedProducer<Deliveries>, topic: &str) -> Result<(), String> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("raw copy producer: metadata of {topic}: {e}"))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map_or(0, |t| t.partitions().len() as i32);
    if partitions == 0 {
        return Err(format!("raw copy producer: topic {topic} not found"));
    }
    for partition in 0..partitions {
        let record = BaseRecord::with_opaque_to(topic, 0)
            .payload(&[][..])
            .key(&[][..])
            .partition(partition);
        send_waiting(producer, record, "raw copy producer")?;
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("raw copy producer warm-up flush: {e}"))?;
    let mut acks = producer
        .context()
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(e) = acks.failure.take() {
        return Err(format!("raw copy producer warm-up: {e}"));
    }
    if acks.delivered != partitions as u64 {
        return Err("raw copy producer: warm-up records were not acknowledged".into());
    }
    *acks = Acks::default();
    Ok(())
}

/// Commits the newest checkpoint whose epoch, and every one before, is acknowledged.
fn commit_acknowledged(
    consumer: &BaseConsumer<timely_kafka::client::BasicContext>,
    producer: &ThreadedProducer<Deliveries>,
    sent_by_epoch: &[u64],
    checkpoints: &mut VecDeque<(usize, BTreeMap<i32, i64>)>,
    committed: &mut BTreeMap<i32, i64>,
    topic: &str,
) -> Result<(), String> {
    let Some(&(oldest, _)) = checkpoints.front() else {
        return Ok(());
    };
    let acked: Vec<u64> = {
        let acks = producer
            .context()
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        acks.by_epoch.clone()
    };
    let mut newest = None;
    // Epochs before `oldest` were acknowledged when their checkpoints were committed.
    let mut epoch = oldest;
    while let Some((closed, _)) = checkpoints.front() {
        while epoch <= *closed && acked.get(epoch).copied().unwrap_or(0) == sent_by_epoch[epoch] {
            epoch += 1;
        }
        if epoch <= *closed {
            break;
        }
        newest = checkpoints.pop_front().map(|(_, positions)| positions);
    }
    if let Some(positions) = newest {
        commit(consumer, &positions, topic, CommitMode::Async)?;
        *committed = positions;
    }
    Ok(())
}

fn commit(
    consumer: &BaseConsumer<timely_kafka::client::BasicContext>,
    positions: &BTreeMap<i32, i64>,
    topic: &str,
    mode: CommitMode,
) -> Result<(), String> {
    if positions.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for (&partition, &offset) in positions {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| format!("raw copy commit: {e}"))?;
    }
    consumer
        .commit(&list, mode)
        .map_err(|e| format!("raw copy commit: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaques_carry_epoch_and_stamp() {
        assert_eq!(unpack(opaque(0, None)), (0, None));
        assert_eq!(unpack(opaque(3, Some(0))), (3, Some(0)));
        let now = 1_800_000_000_000;
        assert_eq!(unpack(opaque(1_000, Some(now))), (1_000, Some(now)));
    }
}
