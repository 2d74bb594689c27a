//! Commit lag: end offsets minus committed offsets, summed over a topic's partitions, read
//! from the broker with a client that joins no group.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely_kafka::TopicPartition;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The (low, high) watermarks of partitions `0..partitions` of `topic`.
pub fn watermarks(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, (i64, i64)>, String> {
    let consumer = client(bootstrap, "timely-kafka-bench-offsets")?;
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, TIMEOUT)
                .map(|w| (p, w))
                .map_err(|e| format!("watermarks of {}: {e}", TopicPartition::new(topic, p)))
        })
        .collect()
}

/// The offsets `group` has committed on partitions `0..partitions` of `topic`.
pub fn committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, i64>, String> {
    let consumer = client(bootstrap, group)?;
    // Every list is dropped before the consumer: dropping a consumer while a list from
    // `committed_offsets` lives can hang librdkafka's shutdown.
    let result = {
        let mut wanted = TopicPartitionList::with_capacity(partitions as usize);
        for p in 0..partitions {
            wanted.add_partition(topic, p);
        }
        consumer
            .committed_offsets(wanted, TIMEOUT)
            .map_err(|e| format!("committed offsets of group {group} on {topic}: {e}"))
            .map(|list| {
                list.elements_for_topic(topic)
                    .iter()
                    .filter_map(|e| match e.offset() {
                        Offset::Offset(o) => Some((e.partition(), o)),
                        _ => None,
                    })
                    .collect()
            })
    };
    drop(consumer);
    result
}

/// Σ (high watermark − committed offset); a partition without a commit counts from its
/// low watermark.
pub fn lag(watermarks: &BTreeMap<i32, (i64, i64)>, committed: &BTreeMap<i32, i64>) -> u64 {
    watermarks
        .iter()
        .map(|(p, &(low, high))| {
            let from = committed.get(p).copied().unwrap_or(low);
            (high - from).max(0) as u64
        })
        .sum()
}

fn client(bootstrap: &str, group: &str) -> Result<BaseConsumer, String> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("client.id", "timely-kafka-bench-offsets")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("offset reader: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_sums_the_uncommitted_records() {
        let marks = BTreeMap::from([(0, (0, 100)), (1, (10, 50)), (2, (0, 7))]);
        let committed = BTreeMap::from([(0, 100), (2, 3)]);
        assert_eq!(lag(&marks, &committed), 40 + 4); // partition 0 is fully committed
    }
}
