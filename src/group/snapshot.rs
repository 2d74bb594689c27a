//! What a user reads of the group's state: progress, commit status, halted partitions,
//! copied out from behind the group's lock.

use crate::error::Error;
use crate::position::{Position, TopicPartition};

/// The commit status of one partition, as last published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStatus {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// The offset after the last record the dataflow has fully processed.
    pub processed: Option<i64>,
    /// The last offset the broker acknowledged as committed by this process.
    pub committed: Option<i64>,
}

/// A snapshot of a source's progress in this process.
#[derive(Debug, Clone, Default)]
pub struct SourceProgress {
    /// Whether every local worker has registered and the process has subscribed.
    pub joined: bool,
    /// Bumped on every change to this process's assignment (assign, revoke, drain); not the
    /// Kafka group generation, which lifecycle hooks receive.
    pub generation: u64,
    /// The partitions currently assigned to this process, in `(topic, partition)` order.
    pub assigned: Vec<TopicPartition>,
    /// Commit status per partition this process has read from, in `(topic, partition)` order.
    pub partitions: Vec<PartitionStatus>,
    /// The last group-level error, if any (for example a failed commit).
    pub last_error: Option<Error>,
    /// Partitions whose commits a `FailurePolicy::Stop` halted, in `(topic, partition)` order.
    pub halted: Vec<HaltedPartition>,
}

/// A partition whose commits a [`FailurePolicy::Stop`](crate::process::FailurePolicy::Stop)
/// halted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaltedPartition {
    /// The partition and the offset of its first failed record; commits stay below it.
    pub position: Position,
    /// The failure, as the failed record's error displays it.
    pub error: String,
}
