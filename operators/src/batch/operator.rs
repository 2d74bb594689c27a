//! The batching operator.

use std::hash::Hash;
use std::time::Instant;

use timely::dataflow::channels::pact::{Exchange, ParallelizationContract, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;
use timely::order::TotalOrder;
use timely::progress::Timestamp;
use timely::ExchangeData;

use super::buffer::{BatchBuffer, FlushReason, Flushed, Stamp};
use super::flush_request::{self, Registration};
use super::{Batch, BatchConfig, KeyFn, WeightFn};
use crate::stable_hash::stable_hash;

impl<T: Timestamp + TotalOrder> Stamp for Capability<T> {
    fn earlier_than(&self, other: &Self) -> bool {
        self.time() < other.time()
    }
}

/// Adds [`batch`](BatchOp::batch) to streams.
pub trait BatchOp<'scope, T: Timestamp, D> {
    /// Groups records into [`Batch`]es per key; see the [module docs](crate::batch).
    ///
    /// ```
    /// use std::time::Duration;
    /// use timely::dataflow::operators::{Capture, ToStream};
    /// use timely::dataflow::operators::capture::Extract;
    /// use timely_kafka_operators::{BatchConfig, BatchOp};
    ///
    /// let batches = timely::example(|scope| {
    ///     (0..10u64)
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .batch(BatchConfig::by_key(|n: &u64| n % 2).max_size(3).timeout(Duration::from_secs(60)))
    ///         .capture()
    /// });
    /// let mut sizes: Vec<(u64, Vec<u64>)> = batches
    ///     .extract()
    ///     .into_iter()
    ///     .flat_map(|(_, batches)| batches)
    ///     .map(|b| (b.key, b.records))
    ///     .collect();
    /// sizes.sort();
    /// assert_eq!(sizes, vec![(0, vec![0, 2, 4]), (0, vec![6, 8]), (1, vec![1, 3, 5]), (1, vec![7, 9])]);
    /// ```
    fn batch<K>(self, config: BatchConfig<D, K>) -> StreamVec<'scope, T, Batch<K, D>>
    where
        K: Hash + Eq + Clone + ExchangeData;
}

impl<'scope, T, D> BatchOp<'scope, T, D> for StreamVec<'scope, T, D>
where
    T: Timestamp + TotalOrder,
    D: ExchangeData,
{
    fn batch<K>(self, config: BatchConfig<D, K>) -> StreamVec<'scope, T, Batch<K, D>>
    where
        K: Hash + Eq + Clone + ExchangeData,
    {
        let BatchConfig {
            key,
            max_size,
            max_bytes,
            timeout,
            local,
        } = config;
        let key = std::rc::Rc::new(key);
        let (bytes_limit, weight) = match max_bytes {
            Some((limit, weight)) => (Some(limit), Some(weight)),
            None => (None, None),
        };
        let limits = Limits {
            max_size,
            bytes_limit,
            timeout,
        };
        if local {
            batch_with(self, Pipeline, key, weight, limits)
        } else {
            let route = std::rc::Rc::clone(&key);
            batch_with(
                self,
                Exchange::new(move |d: &D| stable_hash(&route(d))),
                key,
                weight,
                limits,
            )
        }
    }
}

struct Limits {
    max_size: usize,
    bytes_limit: Option<usize>,
    timeout: std::time::Duration,
}

/// The batching operator behind a given parallelization contract.
fn batch_with<'scope, T, D, K, P>(
    stream: StreamVec<'scope, T, D>,
    pact: P,
    key: std::rc::Rc<KeyFn<D, K>>,
    weight: Option<WeightFn<D>>,
    limits: Limits,
) -> StreamVec<'scope, T, Batch<K, D>>
where
    T: Timestamp + TotalOrder,
    D: ExchangeData,
    K: Hash + Eq + Clone + ExchangeData,
    P: ParallelizationContract<T, Vec<D>>,
{
    let Limits {
        max_size,
        bytes_limit,
        timeout,
    } = limits;
    let scope = stream.scope();
    stream.unary_frontier(pact, "Batch", move |capability, info| {
        let _registration =
            Registration::new(scope.worker().sync_activator_for(info.address.to_vec()));
        let mut flushes_seen = flush_request::requested();
        let activator = scope.activator_for(info.address);
        let mut buffer: BatchBuffer<K, D, Capability<T>> =
            BatchBuffer::new(max_size, bytes_limit, timeout);
        let mut flushed: Vec<Flushed<K, D, Capability<T>>> = Vec::new();
        let mut timer_for: Option<Instant> = None;
        // Follows the input frontier: no record can still arrive at an earlier time, so a
        // batch emitted at (or before) it is never followed by one at an earlier time.
        let mut at_frontier: Option<Capability<T>> = Some(capability);
        move |(input, frontier), output| {
            let _registration = &_registration;
            let now = Instant::now();
            // A total order: the frontier is one time, or none once the input is done.
            match frontier.frontier().iter().next() {
                Some(time) => {
                    if let Some(cap) = at_frontier.as_mut() {
                        if cap.time().less_than(time) {
                            cap.downgrade(time);
                        }
                    }
                }
                None => at_frontier = None,
            }
            input.for_each(|cap, data| {
                let Some(cap) = cap.retain_least(output.output_index()) else {
                    // A message with an empty stamp has no time to batch at; say so.
                    tracing::error!(
                        "batcher: {} records arrived with an empty stamp and cannot be batched",
                        data.len()
                    );
                    return;
                };
                for record in data.drain(..) {
                    let w = weight.as_ref().map_or(0, |w| w(&record));
                    buffer.push(key(&record), record, w, &cap, now, &mut flushed);
                }
            });
            buffer.flush_expired(now, &mut flushed);
            if frontier.is_empty() {
                buffer.flush_all(FlushReason::InputDone, &mut flushed);
            }
            let flushes = flush_request::requested();
            if flushes != flushes_seen {
                flushes_seen = flushes;
                buffer.flush_all(FlushReason::Requested, &mut flushed);
            }
            // Batches leave in time order, each at the least time any batch may still have:
            // the earliest among those flushed now, those still open, and the input frontier.
            // A batch flushed at its own earliest time could otherwise be followed by one at
            // an earlier time (a record from another worker overtaken in the exchange), and
            // the operators after this one, which take their input grouped by time, would
            // put that later batch first.
            let least = flushed
                .iter()
                .map(|batch| &batch.stamp)
                .chain(buffer.earliest_stamp())
                .chain(at_frontier.as_ref())
                .reduce(|a, b| if b.time().less_than(a.time()) { b } else { a })
                .cloned();
            if let Some(least) = least {
                let mut session = output.session(&least);
                for batch in flushed.drain(..) {
                    session.give(Batch {
                        key: batch.key,
                        records: batch.records,
                    });
                }
            }
            // Wake for the next timeout, unless a wake-up for it is already due.
            match buffer.next_deadline() {
                Some(deadline) if timer_for.is_none_or(|t| deadline < t || t <= now) => {
                    activator.activate_after(deadline.saturating_duration_since(now));
                    timer_for = Some(deadline);
                }
                None => timer_for = None,
                _ => {}
            }
        }
    })
}
