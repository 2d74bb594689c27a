//! The embedded cluster's offsets, read through [`crate::offsets`] and reported as
//! [`ClusterError`]s.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;

use super::error::ClusterError;
use crate::offsets::{OffsetReader, OffsetsError};
use crate::position::TopicPartition;

/// Timeout of one request to the cluster (metadata, watermarks, committed offsets).
pub(super) const REQUEST_TIMEOUT: Duration = crate::offsets::DEFAULT_TIMEOUT;

impl From<OffsetsError> for ClusterError {
    fn from(error: OffsetsError) -> Self {
        match error {
            OffsetsError::Client { source, .. } => ClusterError::Client {
                role: "offset reader",
                source,
            },
            OffsetsError::Metadata { topic, source } => ClusterError::Metadata { topic, source },
            OffsetsError::UnknownTopic { topic } => ClusterError::UnknownTopic { topic },
            OffsetsError::Watermarks {
                topic_partition,
                source,
            } => ClusterError::Watermarks {
                topic: topic_partition.topic().to_owned(),
                partition: topic_partition.partition,
                source,
            },
            OffsetsError::CommittedOffsets {
                group,
                topics,
                source,
            } => ClusterError::CommittedOffsets {
                group,
                topic: topics.join(","),
                source,
            },
            OffsetsError::PartitionCommittedOffset {
                group,
                topic_partition,
                source,
            } => ClusterError::PartitionCommittedOffset {
                group,
                topic: topic_partition.topic().to_owned(),
                partition: topic_partition.partition,
                source,
            },
            other @ (OffsetsError::NoGroup | OffsetsError::ClusterMetadata { .. }) => {
                ClusterError::Offsets(other)
            }
        }
    }
}

/// The offsets `group` has committed for partitions `0..partitions` of `topic` on the
/// cluster at `bootstrap_servers`; `None` where it has committed none. Any Kafka cluster,
/// not only an [`EmbeddedCluster`](super::EmbeddedCluster): a short-lived
/// [`OffsetReader`] that joins no group (it never subscribes), so the group's members are
/// not disturbed. [`crate::offsets`] reads the same with the caller's client settings.
pub fn committed_offsets(
    bootstrap_servers: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, Option<i64>>, ClusterError> {
    let mut settings = ClientConfig::new();
    settings.set("client.id", "timely-kafka-testing-offset-reader");
    let reader = OffsetReader::new(bootstrap_servers, group, &settings)?;
    let wanted: Vec<TopicPartition> = (0..partitions)
        .map(|partition| TopicPartition::new(topic, partition))
        .collect();
    Ok(reader
        .committed_offsets(&wanted)?
        .into_iter()
        .map(|(tp, committed)| (tp.partition, committed.offset))
        .collect())
}
