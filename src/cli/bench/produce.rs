//! (c, baseline) Raw produce: an rdkafka producer writing the records, acks=all and
//! idempotence on, as the sink's defaults.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::data::{partition, Payloads};
use super::measure::{Measurement, RunOutput};

struct Counter {
    acked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl ClientContext for Counter {
    timely_kafka::oauth_token_refresh!();
}

impl ProducerContext for Counter {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.acked.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Produces `messages` payloads of `size` bytes to `topic` (round-robin over its partitions) and waits for every
/// acknowledgement. Timed from the first send to the last acknowledgement, after a warm-up
/// record per partition has been acknowledged: connecting and the idempotent producer's
/// id request are left out, as they are for the pipe's sink, created before its source
/// reads anything.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    messages: u64,
    size: usize,
) -> Result<RunOutput, String> {
    let acked = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut config = super::connection::client_config(bootstrap);
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    let counter = Counter {
        acked: Arc::clone(&acked),
        failed: Arc::clone(&failed),
    };
    let producer: ThreadedProducer<Counter> =
        timely_kafka::client::create(&config, counter).map_err(|e| format!("raw producer: {e}"))?;
    let partitions = partition_count(&producer, topic)?;
    for partition in 0..partitions {
        send_waiting(
            &producer,
            BaseRecord::<(), [u8]>::to(topic)
                .payload(&[][..])
                .partition(partition),
            "raw producer",
        )?;
    }
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("raw producer warm-up flush: {e}"))?;
    if acked.swap(0, Ordering::Relaxed) != partitions as u64 {
        return Err(format!(
            "raw producer: warm-up records were not acknowledged ({} failed)",
            failed.load(Ordering::Relaxed)
        ));
    }
    let started = Instant::now();
    let (mut sent, mut bytes) = (0u64, 0u64);
    let mut payloads = Payloads::new(size);
    for seq in 0..messages {
        let payload = payloads.get(seq);
        bytes += payload.len() as u64;
        send_waiting(
            &producer,
            BaseRecord::<(), [u8]>::to(topic)
                .payload(payload)
                .partition(partition(seq, partitions)),
            "raw producer",
        )?;
        sent += 1;
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("raw producer flush: {e}"))?;
    if failed.load(Ordering::Relaxed) > 0 || acked.load(Ordering::Relaxed) != sent {
        return Err(format!(
            "raw producer: {} of {sent} acknowledged, {} failed",
            acked.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed)
        ));
    }
    Ok(RunOutput {
        throughput: Measurement {
            records: sent,
            bytes,
            first: Some(started),
            last: Some(Instant::now()),
        },
        ..RunOutput::default()
    })
}

/// Sends one record, waiting for room while the producer's queue is full. `who` names the
/// producer in errors.
pub(super) fn send_waiting<C, K>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'_, K, [u8], C::DeliveryOpaque>,
    who: &str,
) -> Result<(), String>
where
    C: ProducerContext + 'static,
    K: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                // Room comes back as deliveries complete on the producer's own thread.
                std::thread::yield_now();
            }
            Err((e, _)) => return Err(format!("{who}: {e}")),
        }
    }
}

/// How many partitions `topic` has (an auto-created output topic has the broker's default).
fn partition_count(producer: &ThreadedProducer<Counter>, topic: &str) -> Result<i32, String> {
    let metadata = producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("raw producer: metadata of {topic}: {e}"))?;
    metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len() as i32)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("raw producer: topic {topic} not found"))
}
