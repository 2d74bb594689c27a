//! Ordered batching: records grouped per key, emitted by size, bytes, timeout or end of
//! input, Broadway's batchers on timely.
//!
//! ```text
//!  records ──► exchange by stable_hash(key) ──► open batch per key ──► Batch { key, records }
//!                                                 │ flushed when
//!                                                 ├ max_size records
//!                                                 ├ max_bytes (by a weight function)
//!                                                 ├ timeout since its first record (a timer,
//!                                                 │   not a spin: it fires with no new input)
//!                                                 ├ flush_open_batches() (a stage upstream
//!                                                 │   waits for the open batches)
//!                                                 └ the input frontier is empty (input done)
//! ```
//!
//! # Guarantees
//!
//! * Every record is in exactly one batch.
//! * The records of one key are batched by one worker, in arrival order; the batches of a
//!   key are emitted in order. With a keyed source upstream (each key sent by one worker in
//!   order, as a Kafka partition is), that is the source's order.
//! * A batch is emitted no later than the earliest time among its records, and the operator
//!   holds that time while the batch is open: the frontier after the batcher (and so any
//!   offset commit that follows it) never passes a record whose batch is not yet out.
//! * Batches leave each worker in time order, so the operators after the batcher keep their
//!   order: timely's operators (`map`, `filter`, `inspect`, ...) take the messages waiting
//!   for them grouped by time, earliest first. A batch flushed while a record at an earlier
//!   time may still arrive (from another worker, whose records the exchange delivered
//!   later) or waits in another open batch is emitted at that earlier time.
//! * A partial batch waits at most `timeout` after its first record, less when
//!   [`flush_open_batches`] is called (see [`flush_request`]).
//!
//! # Choosing the key
//!
//! * **The source's key** (for Kafka, `(topic, partition)`) makes each batch a contiguous,
//!   ordered run of one partition.
//! * **A coarser key** (the topic, or one key for everything) packs several partitions into
//!   a batch. Each partition's records stay in their relative order within and across
//!   batches, because one worker receives all of them from their single sender.
//! * **A finer key** (for example the record key within a partition) spreads one partition
//!   over several workers and gives up per-partition order; order holds per finer key only.
//!   It is the right choice when one hot partition would otherwise bound throughput to one
//!   worker, or when there are more workers than partitions and per-partition order is not
//!   needed (per-entity order, such as per customer id, often is all that matters).

mod buffer;
pub mod flush_request;
mod operator;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use buffer::{BatchBuffer, FlushReason, Flushed, Stamp};
pub use flush_request::flush_open_batches;
pub use operator::BatchOp;

/// A batch of records that share a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Batch<K, D> {
    /// The key every record in the batch maps to.
    pub key: K,
    /// The records, in arrival order.
    pub records: Vec<D>,
}

/// Maps a record to its batch key.
pub(crate) type KeyFn<D, K> = Box<dyn Fn(&D) -> K>;
/// Weighs a record, for the byte limit.
pub(crate) type WeightFn<D> = Box<dyn Fn(&D) -> usize>;

/// How to batch: a key function and the limits that flush a batch.
pub struct BatchConfig<D, K> {
    pub(crate) key: KeyFn<D, K>,
    pub(crate) max_size: usize,
    pub(crate) max_bytes: Option<(usize, WeightFn<D>)>,
    pub(crate) timeout: Duration,
    pub(crate) local: bool,
}

impl<D, K> BatchConfig<D, K> {
    /// Batches by `key`, 100 records or 1 s (Broadway's `batch_size` and `batch_timeout`
    /// defaults), whichever comes first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use timely_kafka_operators::BatchConfig;
    ///
    /// let config = BatchConfig::by_key(|(user, _amount): &(u32, u64)| *user)
    ///     .max_size(100)
    ///     .max_bytes(64 * 1024, |(_user, amount)| std::mem::size_of_val(amount))
    ///     .timeout(Duration::from_millis(200));
    /// # let _ = config;
    /// ```
    pub fn by_key(key: impl Fn(&D) -> K + 'static) -> Self {
        BatchConfig {
            key: Box::new(key),
            max_size: 100,
            max_bytes: None,
            timeout: Duration::from_secs(1),
            local: false,
        }
    }

    /// The input is already partitioned by this key (each key arrives at one worker only,
    /// as the records of a Kafka partition do straight out of the source), so batch where
    /// the records are instead of exchanging them. Saves an exchange and keeps the source's
    /// balanced spread of partitions over workers. With a coarser key, each worker then
    /// batches its own share of the key's records.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Flush a batch once it holds this many records (at least 1).
    pub fn max_size(mut self, records: usize) -> Self {
        self.max_size = records.max(1);
        self
    }

    /// Flush a batch before the next record would take it past `bytes`, weighing each
    /// record with `weight`. A single record heavier than `bytes` forms a batch of its own.
    pub fn max_bytes(mut self, bytes: usize, weight: impl Fn(&D) -> usize + 'static) -> Self {
        self.max_bytes = Some((bytes, Box::new(weight)));
        self
    }

    /// Flush a partial batch this long after its first record arrived.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
