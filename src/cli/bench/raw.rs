//! (a) The physical baseline: a raw rdkafka `BaseConsumer` reading every partition.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::measure::Measurement;

/// Reads `expected` records from partitions `0..partitions` of `topic` from the beginning,
/// with the same fetch settings as the source, touching each payload. Timed from the first
/// record to the last.
pub fn consume(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: u64,
) -> Result<Measurement, String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "timely-kafka-bench-raw")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.queue.backoff.ms", "10")
        .set("fetch.wait.max.ms", "100")
        .set("queued.max.messages.kbytes", "65536")
        .create()
        .map_err(|e| format!("raw consumer: {e}"))?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| format!("raw consumer: {e}"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| format!("raw consumer: assign: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut measurement = Measurement::default();
    while measurement.records < expected {
        if Instant::now() > deadline {
            return Err(format!(
                "raw consumer read {} of {expected} records in 300 s",
                measurement.records
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                let bytes =
                    message.payload().map_or(0, <[u8]>::len) + message.key().map_or(0, <[u8]>::len);
                measurement.record(bytes as u64);
            }
            Some(Err(e)) => return Err(format!("raw consumer: {e}")),
        }
    }
    drop(assignment);
    Ok(measurement)
}
