//! [`SinkRecord`]: what the sink writes.

use serde::{Deserialize, Serialize};

use crate::position::Position;
use crate::record::{KafkaRecord, RecordHeader};

/// A record to produce. Unset fields take the sink's defaults: the default topic, the
/// partitioner's choice, the producer's timestamp.
///
/// ```
/// use timely_kafka::sink::SinkRecord;
///
/// let record = SinkRecord::new("hello").key("user-7").topic("greetings").header("trace", "abc");
/// assert_eq!(record.topic.as_deref(), Some("greetings"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SinkRecord {
    /// The topic; `None` uses the sink's default topic.
    pub topic: Option<String>,
    /// An explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// The key (`None` is Kafka's null).
    pub key: Option<Vec<u8>>,
    /// The value (`None` is Kafka's null: a tombstone).
    pub payload: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<RecordHeader>,
    /// Create time in milliseconds since the Unix epoch; `None` lets the producer stamp it.
    pub timestamp_ms: Option<i64>,
    /// Where the record came from, if it came from Kafka: named in delivery errors.
    pub origin: Option<Position>,
}

impl SinkRecord {
    /// A record with this payload and nothing else set.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        SinkRecord {
            topic: None,
            partition: None,
            key: None,
            payload: Some(payload.into()),
            headers: Vec::new(),
            timestamp_ms: None,
            origin: None,
        }
    }

    /// A copy of `record` for the default topic: same key, payload, headers and timestamp,
    /// with `record`'s position as its origin.
    pub fn from_record(record: &KafkaRecord) -> Self {
        SinkRecord {
            topic: None,
            partition: None,
            key: record.key.clone(),
            payload: record.payload.clone(),
            headers: record.headers.clone(),
            timestamp_ms: record.timestamp.millis(),
            origin: Some(record.position()),
        }
    }

    /// Sets the topic.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Sets an explicit partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(RecordHeader {
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Sets the timestamp.
    pub fn timestamp_ms(mut self, ms: i64) -> Self {
        self.timestamp_ms = Some(ms);
        self
    }
}
