//! Dead letters: failed records written to a Kafka topic, with headers saying why.

use std::fmt::Display;
use std::time::{SystemTime, UNIX_EPOCH};

use timely::dataflow::operators::vec::Map;
use timely::dataflow::StreamVec;

use super::{KafkaSink, KafkaSinkExt, SinkConfig, SinkRecord};
use crate::error::SinkError;
use crate::process::{DecodeError, Failure};
use crate::record::RecordHeader;

/// The header naming the error (its `Display`).
pub const HEADER_ERROR: &str = "x-dead-letter-error";
/// The header naming the kind of error ([`DeadLetterError::kind`]).
pub const HEADER_ERROR_KIND: &str = "x-dead-letter-error-kind";
/// The header naming the topic the record was read from.
pub const HEADER_TOPIC: &str = "x-dead-letter-topic";
/// The header naming the partition the record was read from.
pub const HEADER_PARTITION: &str = "x-dead-letter-partition";
/// The header naming the record's offset.
pub const HEADER_OFFSET: &str = "x-dead-letter-offset";
/// The header counting the attempts made.
pub const HEADER_ATTEMPTS: &str = "x-dead-letter-attempts";
/// The header giving the time the record was routed, in milliseconds since the Unix epoch.
pub const HEADER_TIME: &str = "x-dead-letter-time";

/// An error that can be written to a dead-letter topic: its text, and a short name for its
/// kind (default `error`).
///
/// ```
/// use timely_kafka::sink::DeadLetterError;
///
/// struct Rejected;
/// impl std::fmt::Display for Rejected {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("rejected") }
/// }
/// impl DeadLetterError for Rejected {
///     fn kind(&self) -> String { "validation".into() }
/// }
/// assert_eq!(Rejected.kind(), "validation");
/// assert_eq!(DeadLetterError::kind(&"any text"), "error");
/// ```
pub trait DeadLetterError: Display {
    /// The kind of error, for the `x-dead-letter-error-kind` header.
    fn kind(&self) -> String {
        "error".to_owned()
    }
}

impl DeadLetterError for String {}
impl DeadLetterError for &'static str {}
impl DeadLetterError for DecodeError {
    fn kind(&self) -> String {
        "decode".to_owned()
    }
}
#[cfg(feature = "concurrent")]
impl<E: Display> DeadLetterError for crate::process::StageError<E> {
    fn kind(&self) -> String {
        crate::process::StageError::kind(self).to_owned()
    }
}

/// The dead-letter record for `failure`, for `topic`: the original key, payload, headers
/// and timestamp (moved, not copied; a failure that kept no record gives a null key and
/// payload), followed by the `x-dead-letter-*` headers naming the error, its kind, the
/// source topic, partition and offset, the attempts and the time.
///
/// ```
/// use timely_kafka::process::Failure;
/// use timely_kafka::sink::dead_letter_record;
/// use timely_kafka::{KafkaRecord, RecordTimestamp};
///
/// let record = KafkaRecord { topic: "orders".into(), partition: 2, offset: 41, key: Some(b"k".to_vec()),
///     payload: Some(b"{}".to_vec()), timestamp: RecordTimestamp::CreateTime(5), headers: vec![] };
/// let out = dead_letter_record(Failure::of_record(record, "no total").attempts(3), "orders.dlq");
/// assert_eq!((out.topic.as_deref(), out.key.as_deref(), out.payload.as_deref()),
///     (Some("orders.dlq"), Some(&b"k"[..]), Some(&b"{}"[..])));
/// let header = |name: &str| out.headers.iter().find(|h| h.key == name).and_then(|h| h.value.clone());
/// assert_eq!(header("x-dead-letter-error").unwrap(), b"no total");
/// assert_eq!(header("x-dead-letter-offset").unwrap(), b"41");
/// assert_eq!(header("x-dead-letter-attempts").unwrap(), b"3");
/// ```
pub fn dead_letter_record<E: DeadLetterError>(failure: Failure<E>, topic: &str) -> SinkRecord {
    let Failure {
        position,
        error,
        attempts,
        record,
    } = failure;
    let mut out = match record.map(|boxed| *boxed) {
        Some(record) => SinkRecord {
            topic: None,
            partition: None,
            key: record.key,
            payload: record.payload,
            headers: record.headers,
            timestamp_ms: record.timestamp.millis(),
            origin: None,
        },
        None => SinkRecord {
            topic: None,
            partition: None,
            key: None,
            payload: None,
            headers: Vec::new(),
            timestamp_ms: None,
            origin: None,
        },
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let headers = [
        (HEADER_ERROR, error.to_string()),
        (HEADER_ERROR_KIND, error.kind()),
        (HEADER_TOPIC, position.topic_partition.topic.to_string()),
        (
            HEADER_PARTITION,
            position.topic_partition.partition.to_string(),
        ),
        (HEADER_OFFSET, position.offset.to_string()),
        (HEADER_ATTEMPTS, attempts.to_string()),
        (HEADER_TIME, now_ms.to_string()),
    ];
    out.headers
        .extend(headers.into_iter().map(|(key, value)| RecordHeader {
            key: key.to_owned(),
            value: Some(value.into_bytes()),
        }));
    out.topic = Some(topic.to_owned());
    out.origin = Some(position);
    out
}

/// Adds [`dead_letter`](DeadLetterExt::dead_letter) to streams of [`Failure`]s.
pub trait DeadLetterExt<'scope> {
    /// Writes every failure to `topic` through a [Kafka sink](super) built from `config`
    /// (its default topic is not used), as [`dead_letter_record`] shapes it. Probe the
    /// returned sink's `acknowledged` stream with the main output before
    /// [`commit_after`](crate::SourceHandle::commit_after): a failed record's offset is
    /// then committed only once its dead letter is durable.
    ///
    /// ```
    /// use timely::dataflow::operators::{Probe, ToStream};
    /// use timely::dataflow::ProbeHandle;
    /// use timely_kafka::process::Failure;
    /// use timely_kafka::sink::{DeadLetterExt, SinkConfig};
    /// use timely_kafka::testing::EmbeddedCluster;
    /// use timely_kafka::Position;
    ///
    /// let cluster = EmbeddedCluster::new(1).unwrap();
    /// cluster.create_topic("orders.dlq", 1).unwrap();
    /// let config = SinkConfig::builder().brokers(cluster.bootstrap_servers()).build().unwrap();
    /// timely::execute_directly(move |worker| {
    ///     let probe = ProbeHandle::new();
    ///     worker.dataflow::<u64, _, _>(|scope| {
    ///         let dead = vec![Failure::new(Position::new("orders", 0, 7), "bad total".to_string())]
    ///             .to_stream(scope)
    ///             .container::<Vec<_>>()
    ///             .dead_letter(&config, "orders.dlq")
    ///             .unwrap();
    ///         dead.acknowledged.probe_with(&probe);
    ///     });
    ///     while !probe.done() {
    ///         worker.step_or_park(None);
    ///     }
    /// });
    /// assert_eq!(cluster.end_offsets("orders.dlq").unwrap()[&0], 1);
    /// ```
    fn dead_letter(self, config: &SinkConfig, topic: &str) -> Result<KafkaSink<'scope>, SinkError>;
}

impl<'scope, E> DeadLetterExt<'scope> for StreamVec<'scope, u64, Failure<E>>
where
    E: DeadLetterError + 'static,
{
    fn dead_letter(self, config: &SinkConfig, topic: &str) -> Result<KafkaSink<'scope>, SinkError> {
        let topic = topic.to_owned();
        self.map(move |failure| dead_letter_record(failure, &topic))
            .kafka_sink(config)
    }
}
