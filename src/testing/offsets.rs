//! Reading topic layout and offsets: partition counts, end offsets, committed offsets.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::client::Client;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::error::ClusterError;

/// Timeout of one request to the cluster (metadata, watermarks, committed offsets).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How many partitions `topic` has, from a fresh metadata request.
pub(crate) fn partition_count<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<i32, ClusterError> {
    let metadata = client
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|source| ClusterError::Metadata {
            topic: topic.to_owned(),
            source: Box::new(source),
        })?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(ClusterError::UnknownTopic {
            topic: topic.to_owned(),
        });
    };
    match found.error() {
        None if !found.partitions().is_empty() => Ok(found.partitions().len() as i32),
        None => Err(ClusterError::UnknownTopic {
            topic: topic.to_owned(),
        }),
        Some(code) => match RDKafkaErrorCode::from(code) {
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                Err(ClusterError::UnknownTopic {
                    topic: topic.to_owned(),
                })
            }
            other => Err(ClusterError::Metadata {
                topic: topic.to_owned(),
                source: Box::new(KafkaError::MetadataFetch(other)),
            }),
        },
    }
}

/// The (low, high) watermarks of partitions `0..partitions` of `topic`.
pub(crate) fn watermarks<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, (i64, i64)>, ClusterError> {
    (0..partitions)
        .map(|partition| {
            client
                .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
                .map(|watermarks| (partition, watermarks))
                .map_err(|source| ClusterError::Watermarks {
                    topic: topic.to_owned(),
                    partition,
                    source: Box::new(source),
                })
        })
        .collect()
}

/// The offsets `group` has committed for partitions `0..partitions` of `topic` on the
/// cluster at `bootstrap_servers`; `None` where it has committed none. Any Kafka cluster,
/// not only an [`EmbeddedCluster`](super::EmbeddedCluster): this is how every test and tool
/// of the project reads a group's commits, through a short-lived consumer that joins no
/// group (it never subscribes), so the group's members are not disturbed.
pub fn committed_offsets(
    bootstrap_servers: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, Option<i64>>, ClusterError> {
    let error = |source| ClusterError::CommittedOffsets {
        group: group.to_owned(),
        topic: topic.to_owned(),
        source: Box::new(source),
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .set("group.id", group)
        .set("client.id", "timely-kafka-testing-offset-reader")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|source| ClusterError::Client {
            role: "offset reader",
            source: Box::new(source),
        })?;
    // Every TopicPartitionList lives in this block, so all are dropped before the
    // consumer: dropping a consumer while a list from `committed` is alive can hang
    // librdkafka's shutdown.
    let offsets = {
        let mut wanted = TopicPartitionList::with_capacity(partitions as usize);
        for partition in 0..partitions {
            wanted.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(wanted, REQUEST_TIMEOUT)
            .map_err(error)?;
        committed
            .elements_for_topic(topic)
            .into_iter()
            .map(|element| {
                element
                    .error()
                    .map_err(|source| ClusterError::PartitionCommittedOffset {
                        group: group.to_owned(),
                        topic: topic.to_owned(),
                        partition: element.partition(),
                        source: Box::new(source),
                    })?;
                let offset = match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                };
                Ok((element.partition(), offset))
            })
            .collect::<Result<BTreeMap<_, _>, ClusterError>>()
    };
    drop(consumer);
    offsets
}
