//! # timely-kafka
//!
//! Kafka consumer groups as timely dataflow sources, with offset commits driven by the
//! dataflow's frontier: an offset goes back to the group only once every record below it is
//! fully processed (at-least-once), and never for a partition this process does not own.
//!
//! ```text
//!  Kafka group ──► kafka_source ──► your operators ──► probe
//!      ▲           (partitions spread                    │
//!      │            over the workers)                    │
//!      └──── commit(last processed + 1) ◄── frontier passes the record's tick
//! ```
//!
//! * [`KafkaSourceExt::kafka_source`] builds the source on each worker from a [`SourceConfig`].
//! * [`KafkaRecord`] is what it emits: owned and serde-serializable, so records cross worker
//!   and process boundaries (timely 0.32 exchanges data with serde and bincode; nothing here
//!   uses abomonation, which is unsound on misaligned data).
//! * [`TopicPartition`] and [`Position`] name a partition and a record's place in it, in the
//!   whole API, and print as `topic/partition` and `topic/partition@offset`.
//! * [`metrics`]: lag, commits, rebalances, reads and the sink's deliveries, through the
//!   `metrics` facade and as in-process snapshots ([`SourceControl::metrics`]).
//! * [`offsets`] reads where a topic and a group stand: watermarks, committed offsets, lag.
//! * [`testing::EmbeddedCluster`] runs librdkafka's mock cluster in-process, for examples,
//!   tests and local development.
//!
//! See the [`source`] module for the guarantees, and `examples/broadway_guide.rs` for a
//! complete pipeline.
#![deny(missing_docs)]

pub mod batching;
mod build_info;
pub mod client;
pub mod differential;
pub mod error;
#[cfg(feature = "cli")]
pub mod exporter;
mod group;
pub mod metrics;
pub mod offsets;
pub mod position;
pub mod process;
pub mod record;
pub mod sink;
pub mod source;
pub mod testing;
#[cfg(feature = "cli")]
pub mod timely_args;

pub use build_info::BuildInfo;
pub use error::{ConfigError, Error, SinkError};
pub use group::{HaltedPartition, PartitionStatus, SourceProgress};
pub use position::{Position, TopicPartition};
pub use record::{KafkaRecord, RecordHeader, RecordTimestamp};
pub use source::{
    Assignment, ClassicAssignor, CommitCadence, GroupProtocol, KafkaSource, KafkaSourceExt,
    LifecycleHook, OffsetReset, ServerAssignor, SourceConfig, SourceConfigBuilder, SourceControl,
    SourceHandle, StartPolicy,
};
