//! Keyed exchange: every record of one key goes to one worker, and each sender's records
//! arrive and leave there in the order they were sent.
//!
//! ```text
//!  worker 0 ──┐                            ┌──► worker 0 ──► map / filter / inspect ...
//!  worker 1 ──┼──► by stable_hash(key) ────┼──► worker 1 ──► ...
//!  worker 2 ──┘   (ordered channel per     └──► worker 2 ──► ...
//!                  pair of workers)
//!      read in arrival order; emitted in that order at the input frontier's time
//! ```
//!
//! # Guarantees
//!
//! * Every record of a key goes to the worker chosen by the [stable hash](crate::stable_hash())
//!   of the key, the same in every process.
//! * The records one worker sends to another arrive in the order they were sent, within a
//!   process and across processes (timely connects each pair of workers by an ordered
//!   channel), and the exchange emits them in arrival order. So each sender's records of a
//!   key leave the exchange in the order the operator before it produced them.
//! * On each worker, records leave at non-decreasing times, so the operators after the
//!   exchange (`map`, `filter`, `flat_map`, `inspect`, ...) keep that order too. Those take
//!   the messages waiting for one activation sorted by time, with an unstable sort that
//!   leaves messages already in time order as they are, but shuffles out-of-order ones:
//!   messages from senders at different times, interleaved, would be reordered, and with
//!   them the messages of one sender, even those that share a time. So the exchange reads
//!   its input in arrival order, and emits what it read in one activation at one time, the
//!   least any waiting or future record may have: its input frontier.
//! * A record may so leave at a time *earlier* than the one it arrived with, never later,
//!   and the exchange holds a capability at its input frontier to do so: the frontier after
//!   the exchange (and any offset commit that follows it) never passes a record that has
//!   not left it. Timestamps must be totally ordered.
//!
//! So if every record of a key is *sent* by one worker in order, as a Kafka source does
//! for each partition, every record of the key reaches one worker in that order and stays
//! in that order through the pipeline operators after the exchange.
//!
//! What this does *not* give: order between records of one key sent by two different
//! workers. Keep the sender of a key unique (a Kafka partition is read by one worker) and
//! order holds.

use std::hash::Hash;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, CapabilitySet};
use timely::dataflow::StreamVec;
use timely::order::TotalOrder;
use timely::progress::Timestamp;
use timely::ExchangeData;

use crate::stable_hash::stable_hash;

/// Routes records by a key, with a hash every process computes alike.
pub trait ExchangeByKey<'scope, T: Timestamp, D> {
    /// Sends every record to the worker chosen by the stable hash of `key(record)`, keeping
    /// each sender's order; records leave at the input frontier's time, which may be earlier
    /// than their own. See the [module docs](crate::exchange).
    ///
    /// ```
    /// use timely::dataflow::operators::{Inspect, ToStream};
    /// use timely_kafka_operators::ExchangeByKey;
    ///
    /// timely::example(|scope| {
    ///     (0..10u64)
    ///         .map(|i| (i % 3, i))
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .exchange_by_key(|(key, _)| *key)
    ///         .inspect(|(key, value)| println!("key {key}: {value}"));
    /// });
    /// ```
    fn exchange_by_key<K, F>(self, key: F) -> StreamVec<'scope, T, D>
    where
        K: Hash,
        F: Fn(&D) -> K + 'static;
}

impl<'scope, T, D> ExchangeByKey<'scope, T, D> for StreamVec<'scope, T, D>
where
    T: Timestamp + TotalOrder,
    D: ExchangeData,
{
    fn exchange_by_key<K, F>(self, key: F) -> StreamVec<'scope, T, D>
    where
        K: Hash,
        F: Fn(&D) -> K + 'static,
    {
        self.unary_frontier(
            Exchange::new(move |d: &D| stable_hash(&key(d))),
            "ExchangeByKey",
            |capability, _info| {
                // Follows the input frontier: no record can still arrive at an earlier time,
                // so records emitted at (or before) it are never followed by earlier ones.
                let mut at_frontier: Option<Capability<T>> = Some(capability);
                // The containers read in one activation, in arrival order.
                let mut arrived: Vec<Vec<D>> = Vec::new();
                move |(input, frontier), output| {
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
                    // In arrival order, which keeps each sender's order: `for_each_stamp` would
                    // sort the messages by time (unstably), putting one sender's messages behind
                    // another's and shuffling those that share a time.
                    let mut earliest: Option<Capability<T>> = None;
                    input.for_each(|cap, data| {
                        if let Some(time) = cap.least() {
                            let earlier = |held: &Option<Capability<T>>| {
                                held.as_ref().is_none_or(|held| time.less_than(held.time()))
                            };
                            // Never before the frontier, by progress tracking; kept exact anyway.
                            if earlier(&at_frontier) && earlier(&earliest) {
                                earliest = cap.retain_least(output.output_index());
                            }
                        }
                        arrived.push(std::mem::take(data));
                    });
                    if arrived.is_empty() {
                        return;
                    }
                    // All at the least time a record may still have: the input frontier, which
                    // no waiting record precedes. Emitted at their own times, records from
                    // senders at different times would leave out of time order, and the
                    // operators after this one, which take their input sorted by time, would
                    // reorder them.
                    match earliest.as_ref().or(at_frontier.as_ref()) {
                        Some(least) => {
                            output.session(least).give_containers(arrived.iter_mut());
                        }
                        // The input is done and every record came with an empty stamp (no
                        // progress claims): they leave as they came.
                        None => {
                            let no_claims = CapabilitySet::<T>::new();
                            output
                                .session(&no_claims)
                                .give_containers(arrived.iter_mut());
                        }
                    }
                    arrived.clear();
                }
            },
        )
    }
}
