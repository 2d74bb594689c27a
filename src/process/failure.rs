//! [`Failure`]: a record that could not be processed, where it was, and the record itself.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::message::Origin;
use crate::position::Position;
use crate::record::KafkaRecord;

/// A record whose processing failed: what Broadway's `handle_failed` receives. It names the
/// record's position and the error, counts the attempts made, and, when the stage that failed
/// kept it, carries the whole original record (key, payload, headers, timestamp), so a
/// dead-letter topic can hold an exact copy. Displays as `topic/partition at offset N: error`.
///
/// Stages keep the record without copying it on the success path: [`process_ref`] hands the
/// logic a reference and moves the record into the failure only when the logic fails, and
/// [`process_concurrent`] shares it with the handler through an `Arc`. [`process`] moves the
/// record into the logic, so its failures carry no record.
///
/// [`process`]: super::ProcessExt::process
/// [`process_ref`]: super::ProcessExt::process_ref
/// [`process_concurrent`]: super::ConcurrentExt::process_concurrent
///
/// ```
/// use timely_kafka::process::Failure;
/// use timely_kafka::Position;
///
/// let failure = Failure::new(Position::new("orders", 1, 9), "bad total");
/// assert_eq!(failure.to_string(), "orders/1 at offset 9: bad total");
/// assert_eq!((failure.attempts, failure.record), (1, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Failure<E> {
    /// The position of the failed record.
    pub position: Position,
    /// What went wrong (on the last attempt, when there were several).
    pub error: E,
    /// How many times the record was tried: 1 without retries.
    pub attempts: u32,
    /// The original record, when the stage kept it (boxed: failures are rare, and a
    /// stream of them stays small) (`None` from [`process`], which moves
    /// the record into its logic, and for streams of values other than [`KafkaRecord`]).
    ///
    /// [`process`]: super::ProcessExt::process
    pub record: Option<Box<KafkaRecord>>,
}

impl<E> Failure<E> {
    /// A failure at `position` after one attempt, without the record.
    pub fn new(position: Position, error: E) -> Self {
        Failure {
            position,
            error,
            attempts: 1,
            record: None,
        }
    }

    /// A failure of `record` after one attempt, keeping the record.
    ///
    /// ```
    /// use timely_kafka::process::Failure;
    /// use timely_kafka::{KafkaRecord, RecordTimestamp};
    ///
    /// let record = KafkaRecord { topic: "t".into(), partition: 0, offset: 4, key: Some(b"k".to_vec()),
    ///     payload: Some(b"v".to_vec()), timestamp: RecordTimestamp::NotAvailable, headers: vec![] };
    /// let failure = Failure::of_record(record, "rejected").attempts(3);
    /// assert_eq!(failure.position.to_string(), "t/0@4");
    /// assert_eq!(failure.record.unwrap().payload.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(failure.attempts, 3);
    /// ```
    pub fn of_record(record: KafkaRecord, error: E) -> Self {
        Failure {
            position: record.position(),
            error,
            attempts: 1,
            record: Some(Box::new(record)),
        }
    }

    /// Sets the number of attempts made.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// Transforms the error, keeping the rest.
    pub fn map_err<F>(self, f: impl FnOnce(E) -> F) -> Failure<F> {
        Failure {
            position: self.position,
            error: f(self.error),
            attempts: self.attempts,
            record: self.record,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.position.topic_partition, self.position.offset, self.error
        )
    }
}

impl<E> Origin for Failure<E> {
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
    fn record_key(&self) -> Option<&[u8]> {
        self.record.as_ref().and_then(|r| r.key.as_deref())
    }
}
