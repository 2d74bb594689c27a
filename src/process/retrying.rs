//! [`process_retrying`](RetryingExt::process_retrying): [`process_ref`] with a
//! [`RetryPolicy`], for handlers that run in line on the worker (a parse, a lookup in memory,
//! a quick local call).
//!
//! A failed attempt is tried again after the policy's backoff, which the worker waits out
//! in line: the record holds its tick, and every record behind it on the worker waits,
//! so order is kept and no commit passes it. That wait stalls every partition the worker
//! owns; for calls that wait on I/O, use
//! [`process_concurrent`](super::ConcurrentExt::process_concurrent), which retries without
//! holding the worker.
//!
//! [`process_ref`]: super::ProcessExt::process_ref

use timely::dataflow::operators::core::OkErr;
use timely::dataflow::StreamVec;

use super::{Failure, Message, Origin, Processed, RetryPolicy};

/// Adds [`process_retrying`](RetryingExt::process_retrying) to streams of Kafka records.
pub trait RetryingExt<'scope, D> {
    /// Applies `logic` to each record in order, trying a failed record again as `policy`
    /// says (attempts, backoff, which errors). `Ok` values continue as [`Message`]s; a
    /// record that fails for good moves into its [`Failure`] whole, with the last error and
    /// the attempts made.
    ///
    /// The worker waits out each backoff in line: the record holds its tick and every record
    /// behind it on the worker waits, so order is kept and no commit passes it, but every
    /// partition the worker owns stalls meanwhile. For calls that wait on I/O, use
    /// [`process_concurrent`](super::ConcurrentExt::process_concurrent).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use timely::dataflow::operators::{Capture, ToStream};
    /// use timely::dataflow::operators::capture::Extract;
    /// use timely_kafka::process::{RetryPolicy, RetryingExt};
    /// use timely_kafka::{KafkaRecord, RecordTimestamp};
    ///
    /// let record = |offset: i64| KafkaRecord {
    ///     topic: "t".into(), partition: 0, offset, key: None,
    ///     payload: Some(b"x".to_vec()), timestamp: RecordTimestamp::NotAvailable, headers: vec![],
    /// };
    /// let (ok, failed) = timely::example(move |scope| {
    ///     // Offset 0 succeeds on its second attempt; offset 1 never does.
    ///     let tries = Rc::new(Cell::new(0));
    ///     let policy = RetryPolicy::exponential(3).initial_backoff(Duration::from_millis(1));
    ///     let processed = vec![record(0), record(1)]
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .process_retrying(policy, move |record: &KafkaRecord| {
    ///             tries.set(tries.get() + 1);
    ///             match (record.offset, tries.get()) {
    ///                 (0, 1) => Err("busy"),
    ///                 (0, _) => Ok(record.offset),
    ///                 _ => Err("refused"),
    ///             }
    ///         });
    ///     (processed.ok.capture(), processed.failed.capture())
    /// });
    /// let ok: Vec<_> = ok.extract().into_iter().flat_map(|(_, m)| m).map(|m| m.data).collect();
    /// assert_eq!(ok, vec![0]);
    /// let failed: Vec<_> = failed.extract().into_iter().flat_map(|(_, f)| f).collect();
    /// assert_eq!((failed[0].position.offset, failed[0].attempts, failed[0].error), (1, 3, "refused"));
    /// assert!(failed[0].record.is_some(), "the record, for a dead-letter topic");
    /// ```
    fn process_retrying<O, E, F>(self, policy: RetryPolicy<E>, logic: F) -> Processed<'scope, O, E>
    where
        O: 'static,
        E: 'static,
        F: FnMut(&D) -> Result<O, E> + 'static;
}

impl<'scope, D: Origin + 'static> RetryingExt<'scope, D> for StreamVec<'scope, u64, D> {
    fn process_retrying<O, E, F>(
        self,
        policy: RetryPolicy<E>,
        mut logic: F,
    ) -> Processed<'scope, O, E>
    where
        O: 'static,
        E: 'static,
        F: FnMut(&D) -> Result<O, E> + 'static,
    {
        let (ok, failed) = self.ok_err(move |item: D| {
            let mut attempts = 0;
            loop {
                attempts += 1;
                match logic(&item) {
                    Ok(data) => {
                        return Ok(Message {
                            position: item.position(),
                            data,
                        })
                    }
                    Err(error) if policy.retries_handler_error(&error, attempts) => {
                        std::thread::sleep(policy.backoff(attempts));
                    }
                    Err(error) => {
                        return Err(Failure {
                            position: item.position(),
                            error,
                            attempts,
                            record: item.into_record().map(Box::new),
                        })
                    }
                }
            }
        });
        Processed { ok, failed }
    }
}
