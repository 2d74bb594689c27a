//! The crate's vocabulary of Kafka positions: [`TopicPartition`] names a partition of a
//! topic, [`Position`] a record's place in it.
//!
//! Both are cheap to clone (the topic name is an `Arc<str>` shared by every record of a
//! partition), hash, compare and order by `(topic, partition[, offset])`, serialize with serde
//! (records cross timely processes with bincode) and print the way every log line and error
//! of the crate names them: `topic/partition` and `topic/partition@offset`.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A topic and a partition number: the unit of Kafka's order, of assignment and of commits.
///
/// Ordered by topic name, then partition. Cloning shares the topic name (one reference-count
/// increment, no allocation). Displays as `topic/partition`.
///
/// ```
/// use timely_kafka::TopicPartition;
///
/// let tp = TopicPartition::new("orders", 3);
/// assert_eq!(tp.to_string(), "orders/3");
/// assert_eq!((tp.topic(), tp.partition), ("orders", 3));
/// assert!(TopicPartition::new("orders", 2) < tp);
/// assert_eq!(tp.at(42).to_string(), "orders/3@42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    /// The topic's name.
    pub topic: Arc<str>,
    /// The partition number within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The position of `offset` in this partition.
    pub fn at(&self, offset: i64) -> Position {
        Position {
            topic_partition: self.clone(),
            offset,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

impl<T: Into<Arc<str>>> From<(T, i32)> for TopicPartition {
    fn from((topic, partition): (T, i32)) -> Self {
        TopicPartition::new(topic, partition)
    }
}

/// An offset within a [`TopicPartition`]: where a record is, what a commit names, where a
/// failure happened.
///
/// Ordered by topic, partition, then offset. Displays as `topic/partition@offset`.
///
/// ```
/// use timely_kafka::{Position, TopicPartition};
///
/// let position = Position::new("orders", 3, 42);
/// assert_eq!(position.to_string(), "orders/3@42");
/// assert_eq!(position.topic_partition, TopicPartition::new("orders", 3));
/// assert_eq!((position.topic(), position.partition(), position.offset), ("orders", 3, 42));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// The offset within the partition.
    pub offset: i64,
}

impl Position {
    /// The position of `offset` in partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32, offset: i64) -> Self {
        Position {
            topic_partition: TopicPartition::new(topic, partition),
            offset,
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic_partition.topic
    }

    /// The partition number.
    pub fn partition(&self) -> i32 {
        self.topic_partition.partition
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.topic_partition, self.offset)
    }
}

/// `topic/partition` items, for logs.
pub(crate) fn describe(partitions: &[TopicPartition]) -> String {
    if partitions.is_empty() {
        return "no partitions".to_owned();
    }
    partitions
        .iter()
        .map(TopicPartition::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_hash_match_the_tuples_they_replace() {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let hash = |h: &dyn Fn(&mut DefaultHasher)| {
            let mut s = DefaultHasher::new();
            h(&mut s);
            s.finish()
        };
        let tp = TopicPartition::new("b", 1);
        assert_eq!(
            hash(&|s| tp.hash(s)),
            hash(&|s| ("b", 1i32).hash(s)),
            "hashing is unchanged, so hash-based exchanges keep their routing"
        );
        assert_eq!(
            timely_kafka_operators::stable_hash(&tp),
            timely_kafka_operators::stable_hash(&("b", 1i32)),
            "exchanges by (topic, partition) keep their routing"
        );
        let mut tps = [
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 10),
            TopicPartition::new("a", 2),
        ];
        tps.sort();
        let tuples: Vec<_> = tps.iter().map(|t| (t.topic(), t.partition)).collect();
        assert_eq!(tuples, [("a", 2), ("a", 10), ("b", 0)]);
    }

    #[test]
    fn round_trips_through_bincode() {
        let position = Position::new("orders", 3, 42);
        let bytes = bincode::serialize(&position).unwrap();
        assert_eq!(bincode::deserialize::<Position>(&bytes).unwrap(), position);
    }
}
