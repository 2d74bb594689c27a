//! [`Message`]: a value with the Kafka position it came from, and [`Origin`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::record::KafkaRecord;

/// Where a record came from: what batching, commits and error reports key on.
pub trait Origin {
    /// The topic.
    fn topic(&self) -> &Arc<str>;
    /// The partition.
    fn partition(&self) -> i32;
    /// The offset within the partition.
    fn offset(&self) -> i64;

    /// `(topic, partition)`, the key that keeps Kafka's order.
    fn topic_partition(&self) -> (Arc<str>, i32) {
        (Arc::clone(self.topic()), self.partition())
    }
}

impl Origin for KafkaRecord {
    fn topic(&self) -> &Arc<str> {
        &self.topic
    }
    fn partition(&self) -> i32 {
        self.partition
    }
    fn offset(&self) -> i64 {
        self.offset
    }
}

/// A processed value and the position of the record it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Message<T> {
    /// The topic of the source record.
    pub topic: Arc<str>,
    /// The partition of the source record.
    pub partition: i32,
    /// The offset of the source record.
    pub offset: i64,
    /// The value.
    pub data: T,
}

impl<T> Message<T> {
    /// Transforms the value, keeping the position.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Message<U> {
        Message {
            topic: self.topic,
            partition: self.partition,
            offset: self.offset,
            data: f(self.data),
        }
    }
}

impl<T> Origin for Message<T> {
    fn topic(&self) -> &Arc<str> {
        &self.topic
    }
    fn partition(&self) -> i32 {
        self.partition
    }
    fn offset(&self) -> i64 {
        self.offset
    }
}
