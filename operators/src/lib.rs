//! Kafka-agnostic timely operators that keep per-key order: a keyed exchange with a hash
//! every process computes alike, and a batcher that flushes by size, bytes, timeout or end
//! of input.
//!
//! timely-kafka uses them with `(topic, partition)` as the key; they work on any stream of
//! serde-serializable records with any key.
#![deny(missing_docs)]

pub mod batch;
pub mod exchange;
pub mod stable_hash;

pub use batch::{Batch, BatchConfig, BatchOp};
pub use exchange::ExchangeByKey;
pub use stable_hash::{stable_hash, StableBuildHasher, StableHasher};
