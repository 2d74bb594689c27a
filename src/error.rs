//! Errors: what went wrong, and where (key, topic, partition, offset).
//!
//! Configuration problems are [`ConfigError`]s, raised by [`SourceConfig`] builders before
//! anything connects. Everything that can go wrong once a source runs is an [`Error`].
//!
//! [`SourceConfig`]: crate::SourceConfig

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::position::{Position, TopicPartition};

/// A configuration value that cannot be used. Every variant names the offending key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting was not given.
    #[error("missing required setting `{key}`: {hint}")]
    Missing {
        /// The setting's name (the librdkafka key where there is one).
        key: String,
        /// How to provide it.
        hint: String,
    },
    /// A value was given but cannot be used.
    #[error("invalid value for `{key}` ({value}): {reason}")]
    Invalid {
        /// The setting's name.
        key: String,
        /// The offending value (redacted for secrets).
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A librdkafka key whose value correctness depends on was set to something else.
    #[error("`{key}` must be `{required}` for frontier-driven commits, but was set to `{value}`: {reason}")]
    Forced {
        /// The librdkafka key.
        key: String,
        /// The value the user set.
        value: String,
        /// The value timely-kafka requires.
        required: String,
        /// Why the value is forced.
        reason: String,
    },
    /// A librdkafka key that a typed setter owns was passed through `set`.
    #[error("`{key}` cannot be passed through `set`: use `{setter}` instead")]
    Managed {
        /// The librdkafka key.
        key: String,
        /// The builder method that owns it.
        setter: String,
    },
    /// A librdkafka key the library cannot honour was passed through `set`, in any value.
    #[error("`{key}` cannot be set (it was set to `{value}`): {reason}")]
    Refused {
        /// The librdkafka key.
        key: String,
        /// The value the user set (redacted for secrets).
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A client properties file could not be read or parsed.
    #[error("client properties file `{}` {reason}", path.display())]
    PropertiesFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// librdkafka rejected a passthrough key or value.
    #[error("librdkafka rejected `{key}` = `{value}`: {message}")]
    Rejected {
        /// The librdkafka key.
        key: String,
        /// The offending value (redacted for secrets).
        value: String,
        /// librdkafka's explanation.
        message: String,
    },
}

/// A failure while a source runs.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration was rejected.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// No broker answered within the configured connect timeout.
    #[error(
        "no broker reachable at `{brokers}` within {waited:?} (setting `connect_timeout`): {source}{}",
        cause_suffix(.cause)
    )]
    BrokersUnreachable {
        /// The bootstrap servers that were tried.
        brokers: String,
        /// How long we waited.
        waited: Duration,
        /// The error of the request that timed out.
        source: Box<KafkaError>,
        /// Why the connections failed, as librdkafka last reported it: a refused connection,
        /// a failed TLS handshake (an unknown CA, a certificate for another host, a client
        /// certificate missing), a SASL authentication failure. `None` when it reported
        /// nothing.
        cause: Option<String>,
    },
    /// A Kafka operation failed.
    #[error("{operation} failed: {source}")]
    Kafka {
        /// What we were doing, with the topic/partition where it applies.
        operation: String,
        /// The client error.
        source: Box<KafkaError>,
    },
    /// A second source was built from one config (or a clone of it) on one worker: it would
    /// read the same partition queues as the first.
    #[error("worker {worker} already has a source of group `{group}` built from this config: build one source per config on each worker (clones of a config share its membership); build a second config for a second, independent membership")]
    SourceAlreadyBuilt {
        /// The consumer group.
        group: String,
        /// The worker's index.
        worker: usize,
    },
    /// An offset commit failed.
    #[error("commit of {offsets} for group `{group}` failed: {source}")]
    Commit {
        /// The consumer group.
        group: String,
        /// The offsets we tried to commit, as `topic/partition@offset` items.
        offsets: String,
        /// The client error.
        source: Box<KafkaError>,
    },
    /// The group refused this member in a way no retry cures (an invalid session timeout,
    /// no authorization for the group, a full group, a fenced static member, ...).
    #[error("group `{group}`: {reason} ({source})")]
    GroupRefused {
        /// The consumer group.
        group: String,
        /// What the refusal means.
        reason: &'static str,
        /// The broker's or librdkafka's error.
        source: Box<KafkaError>,
    },
    /// A lifecycle hook returned an error, which stops the source.
    #[error("the {hook} hook failed for {topic_partition} (generation {generation}): {source}")]
    Hook {
        /// Which hook: `on_assigned` or `on_revoked`.
        hook: &'static str,
        /// The partition it was called for.
        topic_partition: TopicPartition,
        /// The Kafka group generation it was called in (-1 if unknown).
        generation: i32,
        /// The hook's error.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The workers of one process disagree on how many workers the process has.
    #[error("group `{group}`: worker {rank} says the process has {workers} workers, but an earlier worker said {registered}")]
    WorkerCount {
        /// The consumer group.
        group: String,
        /// The local rank of the worker that disagreed.
        rank: usize,
        /// The worker count it gave.
        workers: usize,
        /// The worker count registered first.
        registered: usize,
    },
    /// A record reached the group's own queue instead of its partition's queue; its
    /// partition is rewound so the record is read again, not lost.
    #[error("{position} was read on the group queue; rewinding it")]
    StrayRecord {
        /// The record's position.
        position: Position,
    },
    /// A [`FailurePolicy::Stop`](crate::process::FailurePolicy::Stop) halted a partition's
    /// commits at a failed record: the source keeps reading, but commits of that partition
    /// stay below the failure.
    #[error("group `{group}`: commits of {} halted at offset {} by a failure: {error}", position.topic_partition, position.offset)]
    Halted {
        /// The consumer group.
        group: String,
        /// The partition and the offset of its first failed record; commits stay below it.
        position: Position,
        /// The failure, as the failed record's error displays it.
        error: String,
    },
    /// Reading a partition returned an error instead of a record (for example an offset
    /// out of range); librdkafka goes on fetching.
    #[error("{position}: fetch error: {source}")]
    Fetch {
        /// The partition and the offset the error was read at.
        position: Position,
        /// The client error.
        source: Box<KafkaError>,
    },
    /// librdkafka gave no queue for an assigned partition: its records stay unread until the
    /// next rebalance (nothing is committed for it meanwhile).
    #[error("group `{group}`: no queue for {topic_partition}; its records stay unread until the next rebalance")]
    NoPartitionQueue {
        /// The consumer group.
        group: String,
        /// The partition.
        topic_partition: TopicPartition,
    },
    /// A thread the membership needs could not be started.
    #[error("starting the {thread} thread of group `{group}` failed: {source}")]
    Thread {
        /// The consumer group.
        group: String,
        /// Which thread.
        thread: &'static str,
        /// The operating system's error.
        source: Arc<std::io::Error>,
    },
}

/// librdkafka error codes that say "try again": the condition is transient (a broker moving,
/// a coordinator loading, a connection dropped, a request timing out).
fn code_is_retriable(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::BrokerTransportFailure
            | C::AllBrokersDown
            | C::OperationTimedOut
            | C::RequestTimedOut
            | C::MessageTimedOut
            | C::NetworkException
            | C::NotCoordinator
            | C::CoordinatorLoadInProgress
            | C::CoordinatorNotAvailable
            | C::RebalanceInProgress
            | C::LeaderNotAvailable
            | C::NotLeaderForPartition
            | C::BrokerNotAvailable
            | C::NotEnoughReplicas
            | C::NotEnoughReplicasAfterAppend
            | C::UnknownTopicOrPartition
            | C::KafkaStorageError
            | C::Retry
            | C::QueueFull
            | C::WaitCache
            | C::InProgress
            | C::PreviousInProgress
            | C::ThrottlingQuotaExceeded
    )
}

/// Whether a client error is transient.
fn kafka_is_retriable(err: &KafkaError) -> bool {
    err.rdkafka_error_code().is_some_and(code_is_retriable)
}

impl Error {
    /// Whether the failure may go away by itself: a broker unreachable for now, a
    /// coordinator moving, a request timing out. A source stopped by one can be built again
    /// (or the process restarted) and may succeed. Configuration errors, refusals by the
    /// group, hook failures and misuse are fatal: retrying does the same thing again.
    ///
    /// ```
    /// use timely_kafka::{ConfigError, Error};
    ///
    /// let config = Error::from(ConfigError::Missing { key: "group.id".into(), hint: String::new() });
    /// assert!(!config.is_retriable());
    /// ```
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::BrokersUnreachable { .. } => true,
            Error::Kafka { source, .. }
            | Error::Commit { source, .. }
            | Error::Fetch { source, .. } => kafka_is_retriable(source),
            Error::Thread { .. } | Error::NoPartitionQueue { .. } => true,
            Error::Config(_)
            | Error::SourceAlreadyBuilt { .. }
            | Error::GroupRefused { .. }
            | Error::Hook { .. }
            | Error::WorkerCount { .. }
            | Error::StrayRecord { .. }
            | Error::Halted { .. } => false,
        }
    }

    /// Wraps a client error with a description of the operation that failed.
    pub(crate) fn kafka(operation: impl Into<String>, source: KafkaError) -> Self {
        Error::Kafka {
            operation: operation.into(),
            source: Box::new(source),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(err: ConfigError) -> Self {
        Error::Config(Box::new(err))
    }
}

/// A failure of the Kafka sink. After one, the sink holds its frontier at the failed
/// record, so no offset commit that follows the sink passes it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A record could not be delivered: a fatal error, or retries exhausted within the
    /// delivery timeout.
    #[error("delivery to {topic}/{partition} failed (first failed record: key {key:?}, from {}): {source}", from_input(origin))]
    Delivery {
        /// The output topic.
        topic: String,
        /// The output partition (-1 if none was assigned yet).
        partition: i32,
        /// The record's key, as text.
        key: Option<String>,
        /// The input position the record came from.
        origin: Option<Position>,
        /// The producer error.
        source: Box<KafkaError>,
    },
    /// librdkafka refused to queue a record (for example one larger than `message.max.bytes`).
    #[error(
        "could not queue a record for {topic} (from {}): {source}",
        from_input(origin)
    )]
    Enqueue {
        /// The output topic.
        topic: String,
        /// The input position the record came from.
        origin: Option<Position>,
        /// The producer error.
        source: Box<KafkaError>,
    },
    /// The sink stopped waiting for room in the producer's queue because the source it
    /// follows was shut down now ([`SinkHandle::stop_with`](crate::sink::SinkHandle::stop_with)):
    /// this record and the ones after it were not sent, and their tick stays held.
    #[error("stopped before queueing a record for {topic} (from {}): the source was shut down now while the producer's queue was full", from_input(origin))]
    Stopped {
        /// The output topic.
        topic: String,
        /// The input position the record came from.
        origin: Option<Position>,
    },
    /// A record names no topic and the sink has no default topic.
    #[error(
        "a record (from {}) names no topic and the sink has no `default_topic`",
        from_input(origin)
    )]
    NoTopic {
        /// The input position the record came from.
        origin: Option<Position>,
    },
    /// The partition count of a topic could not be read (needed by md5, round-robin and
    /// custom partitioners).
    #[error("no metadata for topic `{topic}`: {reason}")]
    Metadata {
        /// The output topic.
        topic: String,
        /// What went wrong.
        reason: String,
    },
    /// A custom partitioner returned a partition the topic does not have.
    #[error("the partitioner chose partition {partition} of `{topic}`, which has {partitions} partitions")]
    BadPartition {
        /// The output topic.
        topic: String,
        /// The partition chosen.
        partition: i32,
        /// The topic's partition count.
        partitions: i32,
    },
    /// The producer could not be created.
    #[error("creating the producer failed: {0}")]
    Create(Box<KafkaError>),
    /// A rebuilt view's upsert sink could not read where its input or output stood at start.
    #[error("preparing the rebuild of a view: {0}")]
    Rebuild(#[from] RebuildError),
}

/// Why reading offsets failed. Every variant names what it was reading: the topic, the
/// partition, the group.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OffsetsError {
    /// librdkafka could not create the consumer that reads a group's offsets (a setting it
    /// refused, for example).
    #[error("could not create a client to read the offsets of group `{group}`: {source}")]
    Client {
        /// The group the client was for.
        group: String,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// A consumer asked for committed offsets has no `group.id`: offsets belong to a group.
    #[error("the consumer has no `group.id`: committed offsets are read for a group")]
    NoGroup,

    /// The metadata request for a topic failed (no broker answered within the timeout, for
    /// example), or the brokers reported an error for the topic.
    #[error("could not fetch the metadata of topic `{topic}`: {source}")]
    Metadata {
        /// The topic.
        topic: String,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// The metadata request for the cluster's topics failed.
    #[error("could not fetch the cluster's list of topics: {source}")]
    ClusterMetadata {
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// The topic does not exist (or has no partitions).
    #[error("topic `{topic}` does not exist")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },

    /// Reading a partition's watermarks failed.
    #[error("could not fetch the watermarks of {topic_partition}: {source}")]
    Watermarks {
        /// The partition.
        topic_partition: TopicPartition,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// Reading a group's committed offsets failed as a whole.
    #[error(
        "could not read the committed offsets of group `{group}` on {}: {source}",
        quoted(topics)
    )]
    CommittedOffsets {
        /// The consumer group.
        group: String,
        /// The topics asked for.
        topics: Vec<String>,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },

    /// The brokers reported an error for one partition's committed offset.
    #[error(
        "could not read the committed offset of group `{group}` on {topic_partition}: {source}"
    )]
    PartitionCommittedOffset {
        /// The consumer group.
        group: String,
        /// The partition.
        topic_partition: TopicPartition,
        /// The underlying librdkafka error.
        #[source]
        source: Box<KafkaError>,
    },
}

impl OffsetsError {
    /// The Kafka or librdkafka error code behind the failure, if there is one: for example
    /// `BrokerTransportFailure` or `OperationTimedOut` when no broker answered.
    pub fn code(&self) -> Option<RDKafkaErrorCode> {
        match self {
            OffsetsError::Client { source, .. }
            | OffsetsError::Metadata { source, .. }
            | OffsetsError::ClusterMetadata { source }
            | OffsetsError::Watermarks { source, .. }
            | OffsetsError::CommittedOffsets { source, .. }
            | OffsetsError::PartitionCommittedOffset { source, .. } => source.rdkafka_error_code(),
            OffsetsError::NoGroup | OffsetsError::UnknownTopic { .. } => None,
        }
    }
}

/// Topics as `` `a`, `b` ``.
fn quoted(topics: &[String]) -> String {
    topics
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a view rebuilt with `rebuild_to_kafka` could not prepare: reading where its input
/// and output stood at start.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RebuildError {
    /// Reading the input's offsets or the group's commits failed.
    #[error(transparent)]
    Offsets(#[from] OffsetsError),
    /// The input topic does not exist: a view rebuilt from it would look empty, count as
    /// caught up at once and delete every key of its output.
    #[error("input topic `{topic}` does not exist (or has no partitions): a view rebuilt from it would be empty and would delete every key of its output topic; check the source's topics")]
    MissingInput {
        /// The input topic.
        topic: String,
    },
    /// The view's sink has no `default_topic`: a rebuild reads the output topic's keys.
    #[error("the sink needs a `default_topic` to rebuild into")]
    NoOutputTopic,
    /// Reading the view's output topic (its live keys) failed.
    #[error("reading `{topic}` (the view's output) failed: {source}")]
    ReadOutput {
        /// The output topic.
        topic: String,
        /// The client error.
        source: Box<KafkaError>,
    },
    /// Reading the view's output topic to its end took too long.
    #[error("reading `{topic}` (the view's output) to its end took longer than {waited:?}")]
    ReadOutputTimedOut {
        /// The output topic.
        topic: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The thread that watches the group's commits could not start.
    #[error("starting the snapshot watcher failed: {0}")]
    Thread(Arc<std::io::Error>),
}

impl SinkError {
    /// Whether the failure may go away by itself (see [`Error::is_retriable`]): a delivery
    /// that timed out, a queue that was full, metadata that could not be read yet. A record
    /// too large, an unknown topic the broker will not create, a partitioner's mistake and a
    /// stop are fatal.
    pub fn is_retriable(&self) -> bool {
        match self {
            SinkError::Delivery { source, .. }
            | SinkError::Enqueue { source, .. }
            | SinkError::Create(source) => kafka_is_retriable(source),
            SinkError::Metadata { .. } => true,
            SinkError::Rebuild(error) => match error {
                RebuildError::Offsets(offsets) => offsets.code().is_some_and(code_is_retriable),
                RebuildError::ReadOutput { source, .. } => kafka_is_retriable(source),
                RebuildError::ReadOutputTimedOut { .. } | RebuildError::Thread(_) => true,
                RebuildError::MissingInput { .. } | RebuildError::NoOutputTopic => false,
            },
            SinkError::Stopped { .. }
            | SinkError::NoTopic { .. }
            | SinkError::BadPartition { .. } => false,
        }
    }
}

/// Where a sink record came from, for its errors: `topic/partition@offset`.
fn from_input(origin: &Option<Position>) -> String {
    origin
        .as_ref()
        .map_or_else(|| "no Kafka input".to_owned(), Position::to_string)
}

/// `; cause: ...` when there is one.
fn cause_suffix(cause: &Option<String>) -> String {
    cause
        .as_deref()
        .map(|cause| format!("; {cause}"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_failing_with(code: RDKafkaErrorCode) -> Error {
        Error::Commit {
            group: "g".into(),
            offsets: "t/0@5".into(),
            source: Box::new(KafkaError::ConsumerCommit(code)),
        }
    }

    #[test]
    fn transient_failures_are_retriable_and_refusals_are_not() {
        assert!(commit_failing_with(RDKafkaErrorCode::RequestTimedOut).is_retriable());
        assert!(commit_failing_with(RDKafkaErrorCode::NotCoordinator).is_retriable());
        assert!(!commit_failing_with(RDKafkaErrorCode::GroupAuthorizationFailed).is_retriable());
        assert!(!commit_failing_with(RDKafkaErrorCode::OffsetMetadataTooLarge).is_retriable());
        let refused = Error::GroupRefused {
            group: "g".into(),
            reason: "the group is full",
            source: Box::new(KafkaError::MessageConsumption(
                RDKafkaErrorCode::GroupMaxSizeReached,
            )),
        };
        assert!(!refused.is_retriable());
        let unreachable = Error::BrokersUnreachable {
            brokers: "b:9092".into(),
            waited: Duration::from_secs(1),
            source: Box::new(KafkaError::MetadataFetch(
                RDKafkaErrorCode::OperationTimedOut,
            )),
            cause: None,
        };
        assert!(unreachable.is_retriable());
        let too_large = SinkError::Enqueue {
            topic: "out".into(),
            origin: None,
            source: Box::new(KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageSizeTooLarge,
            )),
        };
        assert!(!too_large.is_retriable());
        let timed_out = SinkError::Delivery {
            topic: "out".into(),
            partition: 0,
            key: None,
            origin: None,
            source: Box::new(KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageTimedOut,
            )),
        };
        assert!(timed_out.is_retriable());
    }
}
