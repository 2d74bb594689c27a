//! [`KafkaRecord`]: an owned Kafka record that can cross worker and process boundaries.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::position::{Position, TopicPartition};

/// A Kafka record's timestamp, with the kind of time it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RecordTimestamp {
    /// The broker gave no timestamp.
    NotAvailable,
    /// Set by the producer, in milliseconds since the Unix epoch.
    CreateTime(i64),
    /// Set by the broker when it appended the record, in milliseconds since the Unix epoch.
    LogAppendTime(i64),
}

impl RecordTimestamp {
    /// Milliseconds since the Unix epoch, if there is a timestamp.
    pub fn millis(self) -> Option<i64> {
        match self {
            RecordTimestamp::NotAvailable => None,
            RecordTimestamp::CreateTime(ms) | RecordTimestamp::LogAppendTime(ms) => Some(ms),
        }
    }
}

impl From<rdkafka::Timestamp> for RecordTimestamp {
    fn from(ts: rdkafka::Timestamp) -> Self {
        match ts {
            rdkafka::Timestamp::NotAvailable => RecordTimestamp::NotAvailable,
            rdkafka::Timestamp::CreateTime(ms) => RecordTimestamp::CreateTime(ms),
            rdkafka::Timestamp::LogAppendTime(ms) => RecordTimestamp::LogAppendTime(ms),
        }
    }
}

/// One record header. Kafka allows repeated keys and null values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordHeader {
    /// The header's key.
    pub key: String,
    /// The header's value; `None` is Kafka's null.
    pub value: Option<Vec<u8>>,
}

/// A record read from Kafka, owned, and serializable with serde so timely can exchange it
/// between workers and processes.
///
/// `key` and `payload` are `None` for Kafka's null (a tombstone has a key and a null payload).
/// The topic name is shared between the records of a partition, so cloning a record does not
/// copy it.
///
/// # Examples
///
/// ```
/// use timely_kafka::{KafkaRecord, RecordTimestamp};
///
/// let record = KafkaRecord {
///     topic: "orders".into(),
///     partition: 3,
///     offset: 42,
///     key: Some(b"customer-7".to_vec()),
///     payload: Some(b"{\"total\": 12}".to_vec()),
///     timestamp: RecordTimestamp::CreateTime(1_700_000_000_000),
///     headers: vec![],
/// };
/// assert_eq!(record.topic_partition().to_string(), "orders/3");
/// assert_eq!(record.position().to_string(), "orders/3@42");
/// assert_eq!(record.payload_str(), Some("{\"total\": 12}"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// The topic the record was read from.
    pub topic: Arc<str>,
    /// The partition within the topic.
    pub partition: i32,
    /// The record's offset within the partition.
    pub offset: i64,
    /// The record's key.
    pub key: Option<Vec<u8>>,
    /// The record's value.
    pub payload: Option<Vec<u8>>,
    /// The record's timestamp and its kind.
    pub timestamp: RecordTimestamp,
    /// The record's headers, in order.
    pub headers: Vec<RecordHeader>,
}

impl KafkaRecord {
    /// The record's partition: the key that keeps Kafka's order through exchanges. Shares
    /// the topic name (no allocation).
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: Arc::clone(&self.topic),
            partition: self.partition,
        }
    }

    /// The record's position: partition and offset. Shares the topic name (no allocation).
    pub fn position(&self) -> Position {
        Position {
            topic_partition: self.topic_partition(),
            offset: self.offset,
        }
    }

    /// The payload as UTF-8 text, if it is present and valid UTF-8.
    pub fn payload_str(&self) -> Option<&str> {
        self.payload
            .as_deref()
            .and_then(|p| std::str::from_utf8(p).ok())
    }

    /// The key as UTF-8 text, if it is present and valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// A hash of `(topic, partition)` that is the same on every process and every Rust
    /// release (FNV-1a), for exchange pacts that must keep per-partition order.
    pub fn partition_hash(&self) -> u64 {
        partition_hash(&self.topic, self.partition)
    }
}

/// FNV-1a over the topic's bytes and the partition number: stable across processes, hosts
/// and Rust releases, unlike `DefaultHasher`.
pub fn partition_hash(topic: &str, partition: i32) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in topic.bytes().chain(partition.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_hash_is_stable() {
        // Pinned values: changing the hash would move partitions between workers of
        // processes running different builds.
        assert_eq!(partition_hash("orders", 0), partition_hash("orders", 0));
        assert_ne!(partition_hash("orders", 0), partition_hash("orders", 1));
        assert_eq!(partition_hash("", 0), 0x4d25_767f_9dce_13f5);
    }
}
