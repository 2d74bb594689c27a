//! (a) The physical baseline: a raw rdkafka `BaseConsumer` reading every partition.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use timely_kafka::client::{create, BasicContext};

use super::latency::now_micros;
use super::measure::RunOutput;
use super::signals::RunSignals;

/// Reads `expected` records from partitions `0..partitions` of `topic` from the beginning,
/// with the same fetch settings as the source, touching each payload. Timed from the first
/// record to the last. The latency of every `latency_every`-th record is noted (the clock
/// read costs ~3 % of this loop, so preloaded runs sample).
#[allow(clippy::too_many_arguments)]
pub fn consume(
    bootstrap: &str,
    settings: &[(String, String)],
    topic: &str,
    partitions: i32,
    expected: u64,
    latency_every: u64,
    signals: &RunSignals,
    limit: Duration,
) -> Result<RunOutput, String> {
    let consumer = assigned_consumer(
        bootstrap,
        "timely-kafka-bench-raw",
        settings,
        topic,
        partitions,
        "raw consumer",
    )?;
    signals.set_ready();
    let deadline = Instant::now() + limit;
    let every = latency_every.max(1);
    let mut out = RunOutput::default();
    let (mut records, mut bytes) = (0u64, 0u64);
    while records < expected {
        if signals.failed() {
            return Err("raw consumer: stopped, the producer failed".into());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "raw consumer read {records} of {expected} records in {limit:?}"
            ));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(message)) => {
                if records == 0 {
                    out.throughput.first = Some(Instant::now());
                }
                if records.is_multiple_of(every) {
                    if let Some(ts) = message.timestamp().to_millis() {
                        out.latency.record_since(ts, now_micros());
                    }
                }
                records += 1;
                bytes += (message.payload().map_or(0, <[u8]>::len)
                    + message.key().map_or(0, <[u8]>::len)) as u64;
            }
            Some(Err(e)) => return Err(format!("raw consumer: {e}")),
        }
    }
    out.throughput.last = Some(Instant::now());
    out.throughput.records = records;
    out.throughput.bytes = bytes;
    Ok(out)
}

/// A `BaseConsumer` in group `group` (for commits; it does not join), with the bench's
/// fetch settings then `settings`, connected and assigned partitions `0..partitions` of
/// `topic` from the beginning. `who` names it in errors.
pub(super) fn assigned_consumer(
    bootstrap: &str,
    group: &str,
    settings: &[(String, String)],
    topic: &str,
    partitions: i32,
    who: &str,
) -> Result<BaseConsumer<BasicContext>, String> {
    let mut config = super::connection::client_config(bootstrap);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.queue.backoff.ms", "10")
        .set("queued.max.messages.kbytes", "65536");
    for (key, value) in settings {
        config.set(key, value);
    }
    let consumer: BaseConsumer<BasicContext> =
        create(&config, BasicContext).map_err(|e| format!("{who}: {e}"))?;
    timely_kafka::client::serve_startup_events(&consumer);
    // Connect and learn the leaders first, as the source has by the time it is assigned:
    // with --rate, records produced from the ready signal on are read live.
    consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("{who}: metadata of {topic}: {e}"))?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| format!("{who}: {e}"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| format!("{who}: assign: {e}"))?;
    Ok(consumer)
}
