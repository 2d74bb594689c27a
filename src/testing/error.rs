//! The error type of the embedded cluster.

use std::time::Duration;

use rdkafka::error::KafkaError;

/// Why an [`EmbeddedCluster`](super::EmbeddedCluster) operation failed.
///
/// Every variant names what failed (the topic, partition, group or operation), so a
/// failing test says where to look without a debugger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// [`EmbeddedCluster::new`](super::EmbeddedCluster::new) was asked for fewer than one
    /// broker.
    #[error("invalid broker count {brokers}: an embedded cluster needs at least 1 broker")]
    InvalidBrokerCount {
        /// The broker count that was asked for.
        brokers: i32,
    },

    /// librdkafka could not create the client that hosts the mock cluster, or a client
    /// that talks to it.
    #[error("could not create the {role} client of the embedded cluster: {source}")]
    Client {
        /// Which client failed: `"mock-hosting"`, `"loader"` or `"offset reader"`.
        role: &'static str,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// librdkafka created the hosting client but did not attach a mock cluster to it.
    #[error("librdkafka did not start a mock cluster with {brokers} broker(s)")]
    NoMockCluster {
        /// The broker count that was asked for.
        brokers: i32,
    },

    /// A fault-injection call on the mock cluster failed.
    #[error("mock cluster: {operation} failed: {code}")]
    MockOperation {
        /// What was attempted.
        operation: String,
        /// librdkafka's error code.
        code: String,
    },

    /// A topic was asked for with fewer than one partition.
    #[error("invalid partition count {partitions} for topic {topic:?}: need at least 1")]
    InvalidPartitionCount {
        /// The topic.
        topic: String,
        /// The partition count that was asked for.
        partitions: i32,
    },

    /// The mock cluster refused to create a topic (for example, it already exists).
    #[error("could not create topic {topic:?} with {partitions} partition(s): {source}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// The partition count that was asked for.
        partitions: i32,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// Fetching the metadata of a topic failed.
    #[error("could not fetch metadata for topic {topic:?}: {source}")]
    Metadata {
        /// The topic.
        topic: String,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// The topic does not exist in the cluster. Create it with
    /// [`EmbeddedCluster::create_topic`](super::EmbeddedCluster::create_topic) first.
    #[error("topic {topic:?} does not exist in the embedded cluster (create it first)")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },

    /// A record asked for a partition the topic does not have.
    #[error(
        "record for topic {topic:?} names partition {partition}, \
         but the topic has {partitions} partition(s)"
    )]
    InvalidPartition {
        /// The topic.
        topic: String,
        /// The partition the record asked for.
        partition: i32,
        /// How many partitions the topic has.
        partitions: i32,
    },

    /// librdkafka refused to enqueue a record for another reason than a full queue.
    #[error("could not enqueue a record for topic {topic:?} partition {partition}: {source}")]
    Enqueue {
        /// The topic.
        topic: String,
        /// The partition the record asked for, or -1 when the partitioner picks it.
        partition: i32,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// The broker did not acknowledge a record.
    #[error("delivery to topic {topic:?} partition {partition} failed: {source}")]
    Delivery {
        /// The topic.
        topic: String,
        /// The partition of the record, or -1 if none was assigned before it failed.
        partition: i32,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// Delivery reports were still missing when the load's deadline passed.
    #[error(
        "timed out after {waited:?} waiting for {pending} delivery report(s) for topic {topic:?}"
    )]
    DeliveryTimeout {
        /// The topic.
        topic: String,
        /// How many records had no delivery report yet.
        pending: u64,
        /// How long the load waited.
        waited: Duration,
    },

    /// Reading a partition's watermarks (start and end offsets) failed.
    #[error("could not fetch the watermarks of topic {topic:?} partition {partition}: {source}")]
    Watermarks {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// Reading a group's committed offsets failed.
    #[error(
        "could not read the committed offsets of group {group:?} for topic {topic:?}: {source}"
    )]
    CommittedOffsets {
        /// The consumer group.
        group: String,
        /// The topic.
        topic: String,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// The broker reported an error for one partition's committed offset.
    #[error(
        "could not read the committed offset of group {group:?} for topic {topic:?} \
         partition {partition}: {source}"
    )]
    PartitionCommittedOffset {
        /// The consumer group.
        group: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// Another failure reading offsets (see [`crate::offsets`]).
    #[error(transparent)]
    Offsets(crate::offsets::OffsetsError),
}
