//! An embedded Kafka cluster for tests, benchmarks and local development.
//!
//! [`EmbeddedCluster`] starts librdkafka's mock cluster inside the process: real Kafka
//! brokers on loopback TCP ports, with topics, consumer groups, committed offsets and
//! fault injection, and no JVM, container or network. Tests create topics, bulk-load
//! records with [`EmbeddedCluster::load`], run the code under test against
//! [`EmbeddedCluster::bootstrap_servers`], then check [`EmbeddedCluster::end_offsets`]
//! and [`EmbeddedCluster::committed_offsets`].
//!
//! # How it is built
//!
//! librdkafka creates a mock cluster when a client is configured with
//! `test.mock.num.brokers`, and destroys it with that client. `EmbeddedCluster` owns
//! such a client (the *host*, which only hosts the mock) plus a separate producer tuned
//! for bulk loads. Keeping the two apart keeps the fault-injection handle's type simple
//! ([`rdkafka::mocking::MockCluster`] over the default producer context) and lets the
//! loader be tuned without affecting the host. Offsets are read with fresh metadata,
//! watermark and committed-offset requests, never from a client's cache.
//!
//! Use [`unique_name`] for topic and group names when tests share a cluster, and
//! [`Checker`] with [`Trace`] payloads to tell loss, duplication and reordering apart in
//! end-to-end tests.
//!
//! The `timely-kafka mock-cluster` command serves an `EmbeddedCluster` to other
//! processes.

mod checker;
mod cluster;
mod error;
mod exposition;
mod load;
mod names;
mod offsets;
mod record;

pub use checker::{Checker, PartitionReport, Reorder, Report, Trace, TraceParseError};
pub use cluster::EmbeddedCluster;
pub use error::ClusterError;
pub use exposition::{check_exposition, Exposition, ExpositionError, Sample};
pub use load::{load_into, load_into_with};
pub use names::unique_name;
pub use offsets::committed_offsets;
pub use record::{LoadReport, TestRecord};
