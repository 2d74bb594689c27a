//! [`Message`]: a value with the Kafka position it came from, and [`Origin`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::position::{Position, TopicPartition};
use crate::record::KafkaRecord;

/// Where a record came from: what batching, commits and error reports key on.
pub trait Origin {
    /// The topic.
    fn topic(&self) -> &Arc<str>;
    /// The partition.
    fn partition(&self) -> i32;
    /// The offset within the partition.
    fn offset(&self) -> i64;

    /// The partition, the key that keeps Kafka's order. Shares the topic name: no
    /// allocation.
    fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: Arc::clone(self.topic()),
            partition: self.partition(),
        }
    }

    /// The position: partition and offset.
    fn position(&self) -> Position {
        Position {
            topic_partition: self.topic_partition(),
            offset: self.offset(),
        }
    }

    /// The Kafka key the value came from, if it has one: what
    /// [`Ordering::PerKey`](super::Ordering::PerKey) orders by. `None` (the default) puts
    /// every value of a partition under one key.
    fn record_key(&self) -> Option<&[u8]> {
        None
    }

    /// The value as the original Kafka record, for a [`Failure`](super::Failure) to carry:
    /// `Some` for a [`KafkaRecord`], `None` (the default) for anything else.
    fn into_record(self) -> Option<KafkaRecord>
    where
        Self: Sized,
    {
        None
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
    fn record_key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
    fn into_record(self) -> Option<KafkaRecord> {
        Some(self)
    }
}

impl Origin for Position {
    fn topic(&self) -> &Arc<str> {
        &self.topic_partition.topic
    }
    fn partition(&self) -> i32 {
        self.topic_partition.partition
    }
    fn offset(&self) -> i64 {
        self.offset
    }
    fn position(&self) -> Position {
        self.clone()
    }
}

/// A processed value and the position of the record it came from.
///
/// ```
/// use timely_kafka::process::Message;
/// use timely_kafka::Position;
///
/// let message = Message { position: Position::new("numbers", 0, 7), data: 21 };
/// let doubled = message.map(|n| n * 2);
/// assert_eq!((doubled.position.to_string(), doubled.data), ("numbers/0@7".to_string(), 42));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Message<T> {
    /// The position of the source record.
    pub position: Position,
    /// The value.
    pub data: T,
}

impl<T> Message<T> {
    /// Transforms the value, keeping the position.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Message<U> {
        Message {
            position: self.position,
            data: f(self.data),
        }
    }
}

impl<T> Origin for Message<T> {
    fn topic(&self) -> &Arc<str> {
        &self.position.topic_partition.topic
    }
    fn partition(&self) -> i32 {
        self.position.topic_partition.partition
    }
    fn offset(&self) -> i64 {
        self.position.offset
    }
    fn position(&self) -> Position {
        self.position.clone()
    }
}
