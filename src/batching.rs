//! Batching Kafka records and messages, Broadway's batchers: see
//! [`timely_kafka_operators::batch`] for the operator and its guarantees.
//!
//! ```text
//!  source ──► process ──► batch(by_partition().max_size(100).timeout(200 ms)) ──► handle batch
//! ```
//!
//! * [`by_partition`] (the default key) makes every batch a contiguous, ordered offset range
//!   of one partition, batched on the worker that reads the partition (no exchange).
//! * [`by_topic`] and [`all`] coarsen the key: a batch packs several partitions, and each
//!   partition's records keep their relative order.
//! * A finer key (`BatchConfig::by_key(|m| m.data.customer_id)`) spreads a partition over
//!   workers and keeps order only per that key: the choice for one hot partition, or for
//!   more workers than partitions when per-partition order is not needed.

use std::sync::Arc;

pub use timely_kafka_operators::{Batch, BatchConfig, BatchOp};

use crate::position::TopicPartition;
use crate::process::Origin;

/// Batches per `(topic, partition)`, where the records already are: use it on streams
/// straight from the source or after pipeline operators (`process`, `map`, `filter`), whose
/// records of a partition are all on the worker that reads it. Defaults: 100 records or 1 s.
///
/// ```
/// use std::time::Duration;
/// use timely_kafka::batching::by_partition;
/// use timely_kafka::KafkaRecord;
///
/// let config = by_partition::<KafkaRecord>().max_size(100).timeout(Duration::from_millis(200));
/// # let _ = config;
/// ```
pub fn by_partition<D: Origin>() -> BatchConfig<D, TopicPartition> {
    BatchConfig::by_key(|d: &D| d.topic_partition()).local()
}

/// Batches per topic: all partitions of a topic go to one worker, each in its own order.
pub fn by_topic<D: Origin>() -> BatchConfig<D, Arc<str>> {
    BatchConfig::by_key(|d: &D| Arc::clone(d.topic()))
}

/// One key for everything: all records go to one worker, each partition in its own order.
pub fn all<D>() -> BatchConfig<D, ()> {
    BatchConfig::by_key(|_: &D| ())
}
