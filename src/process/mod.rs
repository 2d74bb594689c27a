//! Processing Kafka records in order, with failures routed instead of lost.
//!
//! ```text
//!  records ──► process(f: record -> Result<O, E>) ──► ok:     Message<O>  ──► batch / sink
//!                                                └──► failed: Failure<E>  ──► dead letters
//!                                                       │
//!                                                       └─ FailurePolicy::Stop: halt commits
//!                                                          of that partition at the failure
//! ```
//!
//! # Order
//!
//! The source emits each partition from one worker, in offset order, at non-decreasing
//! times. `process`, `map`, `filter`, `flat_map` and every other operator with a pipeline
//! pact run on that worker and take the messages waiting for them sorted by time, which
//! leaves messages already in time order in their order, so per-partition order holds
//! through them with no exchange at all. An exchange keyed by `(topic, partition)` (see
//! [`ExchangeByKey`](timely_kafka_operators::ExchangeByKey)) keeps it too: each partition
//! still has a single sender, the exchange forwards each sender's records in the order they
//! arrive, and on each worker it emits at non-decreasing times (the input frontier's, which
//! may be earlier than a record's own). An exchange by anything finer does not.
//!
//! # Failures and commits
//!
//! Kafka has one committed offset per partition, so a failed record cannot be skipped while
//! committing past it. As in Broadway, failures are *handled*, not retried forever: by
//! default ([`FailurePolicy::Continue`]) a failed record advances the commit position like a
//! successful one, once the failure output has been handled (route it to a dead-letter
//! topic, log it, count it). With [`FailurePolicy::Stop`] a partition's commits halt at its
//! first failure: nothing at or past the failed offset is committed, so a restart reads the
//! failed record again, and the halt is reported with topic, partition and offset.

#[cfg(feature = "concurrent")]
pub mod concurrent;
mod decode;
mod failure;
mod message;
mod policy;
#[cfg(feature = "concurrent")]
mod retry;
#[cfg(feature = "concurrent")]
mod retrying;

#[cfg(feature = "concurrent")]
pub use concurrent::{shared_runtime, ConcurrentConfig, ConcurrentExt, Ordering, StageError};
pub use decode::{json, utf8, DecodeError};
pub use failure::Failure;
pub use message::{Message, Origin};
pub use policy::{FailurePolicy, FailurePolicyExt};
#[cfg(feature = "concurrent")]
pub use retry::{Retriable, RetryPolicy};
#[cfg(feature = "concurrent")]
pub use retrying::RetryingExt;

use timely::dataflow::operators::core::OkErr;
use timely::dataflow::StreamVec;

/// The two outputs of [`ProcessExt::process`].
pub struct Processed<'scope, O, E> {
    /// Records processed successfully, with their Kafka position.
    pub ok: StreamVec<'scope, u64, Message<O>>,
    /// Records whose processing failed, with their Kafka position and the error.
    pub failed: StreamVec<'scope, u64, Failure<E>>,
}

/// Adds [`process`](ProcessExt::process) to streams of Kafka records and messages.
pub trait ProcessExt<'scope, D> {
    /// Applies `logic` to each record in order. `Ok` values continue as [`Message`]s,
    /// `Err` values go to the failure output as [`Failure`]s, both carrying the record's
    /// [`Position`](crate::Position) (topic, partition and offset).
    ///
    /// ```
    /// use timely::dataflow::operators::{Capture, ToStream};
    /// use timely::dataflow::operators::capture::Extract;
    /// use timely_kafka::process::{utf8, ProcessExt};
    /// use timely_kafka::{KafkaRecord, RecordTimestamp};
    ///
    /// let record = |offset: i64, payload: &[u8]| KafkaRecord {
    ///     topic: "numbers".into(), partition: 0, offset, key: None,
    ///     payload: Some(payload.to_vec()), timestamp: RecordTimestamp::NotAvailable, headers: vec![],
    /// };
    /// let (ok, failed) = timely::example(move |scope| {
    ///     let processed = vec![record(0, b"21"), record(1, b"\xff"), record(2, b"oops")]
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .process(|record| {
    ///             let text = utf8(record).map_err(|e| e.to_string())?;
    ///             text.parse::<i64>().map(|n| n * 2).map_err(|e| format!("{text:?}: {e}"))
    ///         });
    ///     (processed.ok.capture(), processed.failed.capture())
    /// });
    /// let ok: Vec<_> = ok.extract().into_iter().flat_map(|(_, m)| m).map(|m| (m.position.offset, m.data)).collect();
    /// assert_eq!(ok, vec![(0, 42)]);
    /// let failed: Vec<_> = failed.extract().into_iter().flat_map(|(_, f)| f).map(|f| f.position.offset).collect();
    /// assert_eq!(failed, vec![1, 2]);
    /// ```
    fn process<O, E, F>(self, logic: F) -> Processed<'scope, O, E>
    where
        O: 'static,
        E: 'static,
        F: FnMut(D) -> Result<O, E> + 'static;

    /// Like [`process`](Self::process), but `logic` borrows each record, and a failed
    /// record moves into its [`Failure`] whole ([`Failure::record`]: key, payload, headers,
    /// timestamp), ready for a dead-letter topic. Nothing is copied for records that succeed.
    ///
    /// ```
    /// use timely::dataflow::operators::{Capture, ToStream};
    /// use timely::dataflow::operators::capture::Extract;
    /// use timely_kafka::process::ProcessExt;
    /// use timely_kafka::{KafkaRecord, RecordTimestamp};
    ///
    /// let record = |offset: i64, payload: &[u8]| KafkaRecord {
    ///     topic: "words".into(), partition: 0, offset, key: Some(b"k".to_vec()),
    ///     payload: Some(payload.to_vec()), timestamp: RecordTimestamp::NotAvailable, headers: vec![],
    /// };
    /// let failed = timely::example(move |scope| {
    ///     let processed = vec![record(0, b"fine"), record(1, b"spam")]
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .process_ref(|record: &KafkaRecord| match record.payload_str() {
    ///             Some("spam") => Err("rejected"),
    ///             _ => Ok(record.offset),
    ///         });
    ///     processed.failed.capture()
    /// });
    /// let failed: Vec<_> = failed.extract().into_iter().flat_map(|(_, f)| f).collect();
    /// assert_eq!(failed[0].position.offset, 1);
    /// assert_eq!(failed[0].record.as_ref().unwrap().payload.as_deref(), Some(&b"spam"[..]));
    /// ```
    fn process_ref<O, E, F>(self, logic: F) -> Processed<'scope, O, E>
    where
        O: 'static,
        E: 'static,
        F: FnMut(&D) -> Result<O, E> + 'static;
}

impl<'scope, D: Origin + 'static> ProcessExt<'scope, D> for StreamVec<'scope, u64, D> {
    fn process<O, E, F>(self, mut logic: F) -> Processed<'scope, O, E>
    where
        O: 'static,
        E: 'static,
        F: FnMut(D) -> Result<O, E> + 'static,
    {
        let (ok, failed) = self.ok_err(move |item: D| {
            let position = item.position();
            match logic(item) {
                Ok(data) => Ok(Message { position, data }),
                Err(error) => Err(Failure::new(position, error)),
            }
        });
        Processed { ok, failed }
    }

    fn process_ref<O, E, F>(self, mut logic: F) -> Processed<'scope, O, E>
    where
        O: 'static,
        E: 'static,
        F: FnMut(&D) -> Result<O, E> + 'static,
    {
        let (ok, failed) = self.ok_err(move |item: D| match logic(&item) {
            Ok(data) => Ok(Message {
                position: item.position(),
                data,
            }),
            Err(error) => {
                let position = item.position();
                Err(Failure {
                    position,
                    error,
                    attempts: 1,
                    record: item.into_record().map(Box::new),
                })
            }
        });
        Processed { ok, failed }
    }
}
