//! Keyed exchange: every record of one key goes to one worker, in the order it was sent.
//!
//! timely delivers the records one worker sends to another in the order they were sent,
//! within a process and across processes (each pair of workers is connected by an ordered
//! channel). So if every record of a key is *sent* by one worker in order, as a Kafka source
//! does for each partition, then after exchanging by that key every record of the key
//! arrives at one worker in that order. Operators with a pipeline pact after it (`map`,
//! `filter`, `flat_map`, `inspect`, ...) process their input in arrival order, so they keep
//! per-key order too.
//!
//! What this does *not* give: order between records of one key sent by two different
//! workers. Keep the sender of a key unique (a Kafka partition is read by one worker) and
//! order holds.

use std::hash::Hash;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;
use timely::progress::Timestamp;
use timely::ExchangeData;

use crate::stable_hash::stable_hash;

/// Routes records by a key, with a hash every process computes alike.
pub trait ExchangeByKey<'scope, T: Timestamp, D> {
    /// Sends every record to the worker chosen by the stable hash of `key(record)`.
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

impl<'scope, T: Timestamp, D: ExchangeData> ExchangeByKey<'scope, T, D>
    for StreamVec<'scope, T, D>
{
    fn exchange_by_key<K, F>(self, key: F) -> StreamVec<'scope, T, D>
    where
        K: Hash,
        F: Fn(&D) -> K + 'static,
    {
        self.unary(
            Exchange::new(move |d: &D| stable_hash(&key(d))),
            "ExchangeByKey",
            |_, _| {
                move |input, output| {
                    input.for_each_stamp(|cap, data| {
                        output.session(&cap).give_containers(data);
                    });
                }
            },
        )
    }
}
