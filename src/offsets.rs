//! Where a topic's partitions and a consumer group stand: partition counts, watermarks,
//! committed offsets and the lag between them, read from the brokers. The one place the
//! crate, its command (`timely-kafka lag`, `bench`) and its tests read them.
//!
//! # The figures
//!
//! For each partition of a topic:
//!
//! * **low watermark** ([`Watermarks::low`], the *start offset*): the offset of the oldest
//!   record the partition still holds. 0 until retention (or a mock cluster's size limit)
//!   removes old records.
//! * **high watermark** ([`Watermarks::high`], the *end offset*): the offset the next record
//!   written will get, one past the last record a consumer can read. `high - low` records
//!   are in the partition (fewer under transactions: commit markers take offsets too).
//! * **committed offset** ([`CommittedOffset`]): the offset a group resumes from, the one
//!   its members committed: the next record to process, *last processed + 1* (what
//!   [`kafka_source`](crate::KafkaSourceExt::kafka_source) commits). `None` where the group
//!   has committed nothing for the partition; the group's `auto.offset.reset` then decides
//!   where a member starts. A commit carries the committer's metadata string, kept here as
//!   bytes since another client's need not be UTF-8.
//! * **lag** ([`PartitionLag::lag`]): the records the group has not committed yet,
//!   `high - committed`. A partition without a commit counts from its low watermark, all
//!   its records, as a member starting from the earliest offset would read them (Kafka's
//!   `kafka-consumer-groups --describe` prints `-` there). Never negative.
//!
//! # Reading
//!
//! Every function takes an rdkafka client the caller built, generic over its context, so a
//! cluster that needs TLS or SASL is read with the caller's settings. Partition counts and
//! watermarks need any client ([`rdkafka::client::Client`]; every consumer and producer
//! has one). Committed offsets belong to a group, and librdkafka reads them for the
//! `group.id` of the consumer asked: the consumer must have one, and it never needs to
//! subscribe, so reading a group's offsets neither joins the group nor disturbs its
//! members. [`OffsetReader`] builds such a consumer from bootstrap servers and settings.
//!
//! Every request is fresh (never a client's metadata cache) and bounded by the timeout it is
//! given; [`DEFAULT_TIMEOUT`] is the reader's.
//!
//! Dropping a consumer while a `TopicPartitionList` from its `committed_offsets` is still
//! alive has hung librdkafka's shutdown: the functions here never let such a list escape, so
//! a caller may drop its consumer whenever it likes.
//!
//! # Example
//!
//! ```
//! use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
//! use rdkafka::{ClientConfig, Offset, TopicPartitionList};
//! use timely_kafka::offsets::OffsetReader;
//! use timely_kafka::testing::{EmbeddedCluster, TestRecord};
//! use timely_kafka::TopicPartition;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = EmbeddedCluster::new(1)?;
//! cluster.create_topic("orders", 2)?;
//! cluster.load("orders", (0..10).map(|i| TestRecord::new(format!("order {i}")).partition(i % 2)))?;
//!
//! // A member of group `billing` processed the first 3 records of partition 0.
//! let member: BaseConsumer = ClientConfig::new()
//!     .set("bootstrap.servers", cluster.bootstrap_servers())
//!     .set("group.id", "billing")
//!     .create()?;
//! let mut commit = TopicPartitionList::new();
//! commit.add_partition_offset("orders", 0, Offset::Offset(3))?;
//! member.commit(&commit, CommitMode::Sync)?;
//!
//! let reader = OffsetReader::new(&cluster.bootstrap_servers(), "billing", &ClientConfig::new())?;
//! assert_eq!(reader.partition_count("orders")?, 2);
//! let lag = reader.group_lag(&["orders"])?;
//! let p0 = &lag.partitions[0];
//! assert_eq!(p0.topic_partition, TopicPartition::new("orders", 0));
//! assert_eq!((p0.committed, p0.low, p0.high, p0.lag), (Some(3), 0, 5, 2));
//! let p1 = &lag.partitions[1];
//! assert_eq!((p1.committed, p1.lag), (None, 5), "no commit: every record counts");
//! assert_eq!(lag.total(), 7);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CStr;
use std::time::Duration;

use rdkafka::client::Client;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::client::{is_secret_key, Passthrough};
use crate::group::metadata_bytes;
use crate::position::TopicPartition;

/// The timeout of each request an [`OffsetReader`] makes, unless
/// [`OffsetReader::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A partition's low and high watermarks; see the [module docs](self) for what each means.
///
/// ```
/// use timely_kafka::offsets::Watermarks;
///
/// assert_eq!(Watermarks { low: 10, high: 50 }.records(), 40);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Watermarks {
    /// The start offset: the oldest record the partition still holds.
    pub low: i64,
    /// The end offset: the offset the next record will get.
    pub high: i64,
}

impl Watermarks {
    /// How many offsets lie between the watermarks: the records the partition holds (fewer
    /// under transactions, whose markers take offsets too).
    pub fn records(&self) -> u64 {
        (self.high - self.low).max(0) as u64
    }
}

/// A group's commit on one partition; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CommittedOffset {
    /// The offset the group resumes from (last processed + 1), or `None` where it has
    /// committed nothing.
    pub offset: Option<i64>,
    /// The metadata string sent with the commit, as bytes (empty when there was none).
    pub metadata: Vec<u8>,
}

/// One partition of a group's lag: where the group stands against the partition's
/// watermarks.
///
/// ```
/// use timely_kafka::offsets::{PartitionLag, Watermarks};
/// use timely_kafka::TopicPartition;
///
/// let marks = Watermarks { low: 10, high: 50 };
/// let committed = PartitionLag::new(TopicPartition::new("t", 0), Some(45), marks);
/// assert_eq!(committed.lag, 5);
/// let never = PartitionLag::new(TopicPartition::new("t", 1), None, marks);
/// assert_eq!(never.lag, 40, "counts from the low watermark");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionLag {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// The group's committed offset, `None` where it has committed nothing.
    pub committed: Option<i64>,
    /// The low watermark (start offset).
    pub low: i64,
    /// The high watermark (end offset).
    pub high: i64,
    /// `high - committed`, or `high - low` without a commit; never negative.
    pub lag: u64,
}

impl PartitionLag {
    /// The lag of a group that committed `committed` on a partition with `watermarks`.
    pub fn new(
        topic_partition: TopicPartition,
        committed: Option<i64>,
        watermarks: Watermarks,
    ) -> Self {
        let from = committed.unwrap_or(watermarks.low);
        PartitionLag {
            topic_partition,
            committed,
            low: watermarks.low,
            high: watermarks.high,
            lag: (watermarks.high - from).max(0) as u64,
        }
    }
}

/// A group's lag on every partition of some topics, as [`group_lag`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupLag {
    /// The consumer group.
    pub group: String,
    /// One entry per partition, ordered by topic, then partition.
    pub partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// The lag summed over every partition.
    pub fn total(&self) -> u64 {
        self.partitions.iter().map(|p| p.lag).sum()
    }

    /// The partitions of `topic`.
    pub fn topic<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a PartitionLag> + 'a {
        self.partitions
            .iter()
            .filter(move |p| p.topic_partition.topic() == topic)
    }
}

pub use crate::error::OffsetsError;

/// The partitions of `topic`, ordered, from a fresh metadata request.
///
/// A topic the brokers do not know, or that has no partitions, is
/// [`OffsetsError::UnknownTopic`]; another error the brokers report for the topic is
/// [`OffsetsError::Metadata`].
pub fn partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<TopicPartition>, OffsetsError> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|source| OffsetsError::Metadata {
            topic: topic.to_owned(),
            source: Box::new(source),
        })?;
    let unknown = || OffsetsError::UnknownTopic {
        topic: topic.to_owned(),
    };
    let found = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(unknown)?;
    if let Some(code) = found.error() {
        return match RDKafkaErrorCode::from(code) {
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                Err(unknown())
            }
            other => Err(OffsetsError::Metadata {
                topic: topic.to_owned(),
                source: Box::new(KafkaError::MetadataFetch(other)),
            }),
        };
    }
    let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    if ids.is_empty() {
        return Err(unknown());
    }
    ids.sort_unstable();
    Ok(ids
        .into_iter()
        .map(|id| TopicPartition::new(topic, id))
        .collect())
}

/// How many partitions `topic` has, from a fresh metadata request; errors as
/// [`partitions`].
pub fn partition_count<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<i32, OffsetsError> {
    partitions(client, topic, timeout).map(|partitions| partitions.len() as i32)
}

/// The watermarks of each of `partitions`, one request per partition, each bounded by
/// `timeout`.
pub fn watermarks<C: ClientContext>(
    client: &Client<C>,
    partitions: &[TopicPartition],
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, Watermarks>, OffsetsError> {
    partitions
        .iter()
        .map(|tp| {
            client
                .fetch_watermarks(tp.topic(), tp.partition, timeout)
                .map(|(low, high)| (tp.clone(), Watermarks { low, high }))
                .map_err(|source| OffsetsError::Watermarks {
                    topic_partition: tp.clone(),
                    source: Box::new(source),
                })
        })
        .collect()
}

/// The end offset (high watermark) of every partition of `topic`: the offset the next
/// record will get.
pub fn end_offsets<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, i64>, OffsetsError> {
    let partitions = partitions(client, topic, timeout)?;
    Ok(watermarks(client, &partitions, timeout)?
        .into_iter()
        .map(|(tp, marks)| (tp, marks.high))
        .collect())
}

/// The commit of `consumer`'s group (its `group.id`) on each of `partitions`, in one
/// request; a partition without a commit has `offset: None`. The consumer need not
/// subscribe, and reading does not join the group.
///
/// ```
/// use rdkafka::consumer::BaseConsumer;
/// use rdkafka::ClientConfig;
/// use timely_kafka::offsets::{self, DEFAULT_TIMEOUT};
/// use timely_kafka::testing::EmbeddedCluster;
/// use timely_kafka::TopicPartition;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = EmbeddedCluster::new(1)?;
/// cluster.create_topic("events", 1)?;
/// // A consumer the application configured (security settings and all).
/// let consumer: BaseConsumer = ClientConfig::new()
///     .set("bootstrap.servers", cluster.bootstrap_servers())
///     .set("group.id", "audit")
///     .create()?;
/// let partition = TopicPartition::new("events", 0);
/// let committed = offsets::committed_offsets(&consumer, &[partition.clone()], DEFAULT_TIMEOUT)?;
/// assert_eq!(committed[&partition].offset, None, "the group has committed nothing");
/// # Ok(())
/// # }
/// ```
pub fn committed_offsets<C, K>(
    consumer: &K,
    partitions: &[TopicPartition],
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, CommittedOffset>, OffsetsError>
where
    C: ConsumerContext,
    K: Consumer<C>,
{
    let group = configured_group(consumer.client()).ok_or(OffsetsError::NoGroup)?;
    if partitions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut wanted = TopicPartitionList::with_capacity(partitions.len());
    for tp in partitions {
        wanted.add_partition(tp.topic(), tp.partition);
    }
    // The list lives only in this function: see the module docs on librdkafka's shutdown.
    let list = consumer
        .committed_offsets(wanted, timeout)
        .map_err(|source| OffsetsError::CommittedOffsets {
            group: group.clone(),
            topics: topic_names(partitions),
            source: Box::new(source),
        })?;
    let metadata = metadata_bytes(&list);
    list.elements()
        .iter()
        .zip(metadata)
        .map(|(element, metadata)| {
            let tp = TopicPartition::new(element.topic(), element.partition());
            if let Err(source) = element.error() {
                return Err(OffsetsError::PartitionCommittedOffset {
                    group: group.clone(),
                    topic_partition: tp,
                    source: Box::new(source),
                });
            }
            let offset = match element.offset() {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            };
            Ok((tp, CommittedOffset { offset, metadata }))
        })
        .collect()
}

/// The topics on which `consumer`'s group has committed an offset: every topic of the
/// cluster (from one metadata request), then the group's commits on all their partitions
/// (one more). Topics the brokers report an error for (one this client may not describe,
/// for example) are left out, as is a topic whose commits have expired. The answer is
/// ordered by name.
pub fn group_topics<C, K>(consumer: &K, timeout: Duration) -> Result<Vec<String>, OffsetsError>
where
    C: ConsumerContext,
    K: Consumer<C>,
{
    let metadata = consumer
        .client()
        .fetch_metadata(None, timeout)
        .map_err(|source| OffsetsError::ClusterMetadata {
            source: Box::new(source),
        })?;
    let partitions: Vec<TopicPartition> = metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .flat_map(|t| {
            t.partitions()
                .iter()
                .map(|p| TopicPartition::new(t.name(), p.id()))
        })
        .collect();
    drop(metadata);
    let topics: BTreeSet<String> = committed_offsets(consumer, &partitions, timeout)?
        .into_iter()
        .filter(|(_, committed)| committed.offset.is_some())
        .map(|(tp, _)| tp.topic().to_owned())
        .collect();
    Ok(topics.into_iter().collect())
}

/// The lag of `consumer`'s group on every partition of `topics`: their partitions and
/// watermarks, and the group's commits (one request for all).
///
/// Fails on the first topic that does not exist ([`OffsetsError::UnknownTopic`]), so a
/// misspelt topic is never reported as a group without lag.
pub fn group_lag<C, K, T>(
    consumer: &K,
    topics: impl IntoIterator<Item = T>,
    timeout: Duration,
) -> Result<GroupLag, OffsetsError>
where
    C: ConsumerContext,
    K: Consumer<C>,
    T: AsRef<str>,
{
    let group = configured_group(consumer.client()).ok_or(OffsetsError::NoGroup)?;
    let mut partitions = Vec::new();
    for topic in topics {
        partitions.extend(self::partitions(
            consumer.client(),
            topic.as_ref(),
            timeout,
        )?);
    }
    partitions.sort();
    partitions.dedup();
    let marks = watermarks(consumer.client(), &partitions, timeout)?;
    let mut committed = committed_offsets(consumer, &partitions, timeout)?;
    let partitions = marks
        .into_iter()
        .map(|(tp, marks)| {
            let offset = committed.remove(&tp).and_then(|c| c.offset);
            PartitionLag::new(tp, offset, marks)
        })
        .collect();
    Ok(GroupLag { group, partitions })
}

/// A consumer for reading one group's offsets, with the settings the caller gives (security
/// and all): it never subscribes, so it does not join the group. Its methods are the
/// module's functions with this reader's timeout.
///
/// ```
/// use rdkafka::ClientConfig;
/// use timely_kafka::offsets::{OffsetReader, OffsetsError};
/// use timely_kafka::testing::{EmbeddedCluster, TestRecord};
/// use timely_kafka::TopicPartition;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = EmbeddedCluster::new(1)?;
/// cluster.create_topic("clicks", 3)?;
/// cluster.load("clicks", (0..6).map(|i| TestRecord::new("click").partition(i % 3)))?;
///
/// let mut settings = ClientConfig::new();
/// settings.set("client.id", "lag-monitor"); // and `security.protocol`, `sasl.*`, ...
/// let reader = OffsetReader::new(&cluster.bootstrap_servers(), "dashboards", &settings)?;
/// assert_eq!(reader.group(), "dashboards");
/// let ends = reader.end_offsets("clicks")?;
/// assert_eq!(ends[&TopicPartition::new("clicks", 2)], 2);
/// assert!(matches!(
///     reader.partition_count("no-such-topic"),
///     Err(OffsetsError::UnknownTopic { .. })
/// ));
/// # Ok(())
/// # }
/// ```
pub struct OffsetReader<C: ConsumerContext + 'static = crate::client::BasicContext> {
    consumer: BaseConsumer<C>,
    group: String,
    timeout: Duration,
}

impl OffsetReader {
    /// A reader of `group`'s offsets on the cluster at `bootstrap_servers`, with `settings`
    /// (security, `client.id`, ...). `bootstrap.servers` and `group.id` are set from the
    /// arguments, and `enable.auto.commit` off: the reader never commits.
    pub fn new(
        bootstrap_servers: &str,
        group: &str,
        settings: &ClientConfig,
    ) -> Result<Self, OffsetsError> {
        Self::with_context(
            bootstrap_servers,
            group,
            settings,
            crate::client::BasicContext,
        )
    }

    /// [`new`](Self::new) with the crate's passthrough settings (those a
    /// [`SourceConfig`](crate::SourceConfig) carries).
    pub fn with_passthrough(
        bootstrap_servers: &str,
        group: &str,
        settings: &Passthrough,
    ) -> Result<Self, OffsetsError> {
        let mut config = ClientConfig::new();
        settings.apply_to(&mut config);
        Self::new(bootstrap_servers, group, &config)
    }
}

impl<C: ConsumerContext + 'static> OffsetReader<C> {
    /// [`new`](OffsetReader::new) with the client context `context` (for its logging,
    /// statistics or OAUTHBEARER token callbacks).
    pub fn with_context(
        bootstrap_servers: &str,
        group: &str,
        settings: &ClientConfig,
        context: C,
    ) -> Result<Self, OffsetsError> {
        let mut config = settings.clone();
        config
            .set("bootstrap.servers", bootstrap_servers)
            .set("group.id", group)
            .set("enable.auto.commit", "false");
        let consumer: BaseConsumer<C> =
            crate::client::create(&config, context).map_err(|source| OffsetsError::Client {
                group: group.to_owned(),
                source: Box::new(redacted(source)),
            })?;
        crate::client::serve_startup_events(&consumer);
        Ok(OffsetReader {
            consumer,
            group: group.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Bounds each request by `timeout` instead of [`DEFAULT_TIMEOUT`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # fn main() -> Result<(), timely_kafka::offsets::OffsetsError> {
    /// use rdkafka::ClientConfig;
    /// use timely_kafka::offsets::OffsetReader;
    ///
    /// let reader = OffsetReader::new("localhost:9092", "g", &ClientConfig::new())?
    ///     .timeout(Duration::from_secs(2));
    /// assert_eq!(reader.request_timeout(), Duration::from_secs(2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout of each request.
    pub fn request_timeout(&self) -> Duration {
        self.timeout
    }

    /// The group whose offsets this reader reads.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The consumer underneath, for any other request.
    pub fn consumer(&self) -> &BaseConsumer<C> {
        &self.consumer
    }

    /// [`partitions`]: the partitions of `topic`.
    pub fn partitions(&self, topic: &str) -> Result<Vec<TopicPartition>, OffsetsError> {
        partitions(self.consumer.client(), topic, self.timeout)
    }

    /// [`partition_count`]: how many partitions `topic` has.
    pub fn partition_count(&self, topic: &str) -> Result<i32, OffsetsError> {
        partition_count(self.consumer.client(), topic, self.timeout)
    }

    /// [`watermarks`]: the watermarks of each of `partitions`.
    pub fn watermarks(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Watermarks>, OffsetsError> {
        watermarks(self.consumer.client(), partitions, self.timeout)
    }

    /// [`end_offsets`]: the high watermark of every partition of `topic`.
    pub fn end_offsets(&self, topic: &str) -> Result<BTreeMap<TopicPartition, i64>, OffsetsError> {
        end_offsets(self.consumer.client(), topic, self.timeout)
    }

    /// [`committed_offsets`]: the group's commit on each of `partitions`.
    pub fn committed_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, CommittedOffset>, OffsetsError> {
        committed_offsets(&self.consumer, partitions, self.timeout)
    }

    /// [`group_topics`]: the topics on which the group has committed an offset.
    pub fn group_topics(&self) -> Result<Vec<String>, OffsetsError> {
        group_topics(&self.consumer, self.timeout)
    }

    /// [`group_lag`]: the group's lag on every partition of `topics`.
    pub fn group_lag<T: AsRef<str>>(
        &self,
        topics: impl IntoIterator<Item = T>,
    ) -> Result<GroupLag, OffsetsError> {
        group_lag(&self.consumer, topics, self.timeout)
    }
}

impl<C: ConsumerContext + 'static> std::fmt::Debug for OffsetReader<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetReader")
            .field("group", &self.group)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// `error` without the value of a secret setting librdkafka refused.
fn redacted(error: KafkaError) -> KafkaError {
    match error {
        KafkaError::ClientConfig(code, description, key, value) if is_secret_key(&key) => {
            // librdkafka's description quotes the value too.
            let description = if value.is_empty() {
                description
            } else {
                description.replace(&value, "[redacted]")
            };
            KafkaError::ClientConfig(code, description, key, "[redacted]".to_owned())
        }
        other => other,
    }
}

/// The distinct topics of `partitions`, in order.
fn topic_names(partitions: &[TopicPartition]) -> Vec<String> {
    let topics: BTreeSet<&str> = partitions.iter().map(TopicPartition::topic).collect();
    topics.into_iter().map(str::to_owned).collect()
}

/// The `group.id` the client was created with, if any (librdkafka reads committed offsets for
/// it, so errors name it).
fn configured_group<C: ClientContext>(client: &Client<C>) -> Option<String> {
    const NAME: &CStr = c"group.id";
    let rk = client.native_ptr();
    let mut size: usize = 0;
    // SAFETY: `rk` is the live handle `client` owns; `rd_kafka_conf` returns its
    // configuration, valid while the handle lives. With a null destination librdkafka only
    // writes the value's size (with its terminating NUL) to `size`.
    let found = unsafe {
        let conf = rdkafka_sys::rd_kafka_conf(rk);
        rdkafka_sys::rd_kafka_conf_get(conf, NAME.as_ptr(), std::ptr::null_mut(), &mut size)
    };
    if found != rdkafka_sys::rd_kafka_conf_res_t::RD_KAFKA_CONF_OK || size == 0 {
        return None;
    }
    let mut value = vec![0u8; size];
    // SAFETY: as above; `value` has room for `size` bytes, which librdkafka writes at most
    // (NUL-terminated).
    let found = unsafe {
        let conf = rdkafka_sys::rd_kafka_conf(rk);
        rdkafka_sys::rd_kafka_conf_get(conf, NAME.as_ptr(), value.as_mut_ptr().cast(), &mut size)
    };
    if found != rdkafka_sys::rd_kafka_conf_res_t::RD_KAFKA_CONF_OK {
        return None;
    }
    let group = CStr::from_bytes_until_nul(&value).ok()?.to_str().ok()?;
    (!group.is_empty()).then(|| group.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_the_commit_or_else_the_low_watermark() {
        let marks = [(0, (0, 100)), (1, (10, 50)), (2, (0, 7))];
        let committed = BTreeMap::from([(0, 100), (2, 3)]);
        let lag = GroupLag {
            group: "g".into(),
            partitions: marks
                .iter()
                .map(|&(p, (low, high))| {
                    PartitionLag::new(
                        TopicPartition::new("t", p),
                        committed.get(&p).copied(),
                        Watermarks { low, high },
                    )
                })
                .collect(),
        };
        let each: Vec<u64> = lag.partitions.iter().map(|p| p.lag).collect();
        assert_eq!(each, [0, 40, 4], "partition 0 is fully committed");
        assert_eq!(lag.total(), 44);
        assert_eq!(lag.topic("t").count(), 3);
        assert_eq!(lag.topic("other").count(), 0);
    }

    #[test]
    fn a_commit_past_the_end_is_no_lag_not_a_negative_one() {
        let lag = PartitionLag::new(
            TopicPartition::new("t", 0),
            Some(12),
            Watermarks { low: 0, high: 10 },
        );
        assert_eq!(lag.lag, 0);
    }

    #[test]
    fn a_refused_secret_is_not_repeated() {
        use rdkafka::types::RDKafkaConfRes;
        let refused = |key: &str| {
            redacted(KafkaError::ClientConfig(
                RDKafkaConfRes::RD_KAFKA_CONF_INVALID,
                format!("Invalid value \"hunter2\" for configuration property \"{key}\""),
                key.into(),
                "hunter2".into(),
            ))
            .to_string()
        };
        let secret = refused("sasl.password");
        assert!(
            !secret.contains("hunter2") && secret.contains("sasl.password"),
            "{secret}"
        );
        assert!(refused("client.id").contains("hunter2"));
    }

    #[test]
    fn the_group_is_read_from_the_consumer_configuration() {
        let with: BaseConsumer = ClientConfig::new()
            .set("group.id", "payments")
            .create()
            .unwrap();
        assert_eq!(configured_group(with.client()).as_deref(), Some("payments"));
        let long = "g".repeat(300);
        let with: BaseConsumer = ClientConfig::new().set("group.id", &long).create().unwrap();
        assert_eq!(configured_group(with.client()), Some(long));
        let without: BaseConsumer = ClientConfig::new().create().unwrap();
        assert_eq!(configured_group(without.client()), None);
        let partition = [TopicPartition::new("t", 0)];
        assert!(matches!(
            committed_offsets(&without, &partition, Duration::from_millis(10)),
            Err(OffsetsError::NoGroup)
        ));
    }
}
