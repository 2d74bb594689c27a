//! The Kafka sink: a producer whose delivery acknowledgements hold the frontier back.
//!
//! ```text
//!  records ──► kafka_sink ──► (frontier) ──► probe ──► source commits
//!                 │  ▲
//!                 ▼  │ delivery reports
//!               librdkafka producer ──► Kafka
//! ```
//!
//! # Guarantees
//!
//! * **Frontier = durable.** The sink holds a capability for every tick that still has
//!   records in flight, and drops it when the broker has acknowledged all of them. Its output
//!   frontier therefore passes a tick only once every record at or before it is durable
//!   (per `acks`). Attach the source's commit probe after the sink, and a Kafka→Kafka pipeline
//!   is at-least-once end to end: no input offset is committed before its outputs are written.
//! * **Retries.** Retriable errors are retried by librdkafka within the delivery timeout;
//!   the idempotent producer (on by default) keeps retries from duplicating or reordering.
//! * **Failures.** A fatal or exhausted error is reported as a [`SinkError`] naming the topic,
//!   partition and first failed record (and the input position it came from). The failed
//!   record's tick is then held forever and nothing more is sent, so the source never
//!   commits past it. Read it from [`SinkHandle::error`], shut the source down, exit.
//! * **Backpressure.** When librdkafka's queue is full (`queue_max_messages`,
//!   `queue_max_kbytes`), the sink waits for delivery reports to free room before taking
//!   more input; the worker (and the source partitions it reads) waits with it. Nothing is
//!   dropped and nothing spins. [`SinkHandle::stop_with`] ends that wait when the source is
//!   shut down now.
//! * **Order.** Each worker has its own producer; records of one key sent by one worker are
//!   written in order (idempotence guarantees it across retries).

mod config;
mod dead_letter;
mod deliveries;
mod operator;
mod partitioner;
mod record;

use std::sync::Arc;

pub use config::{Acks, Compression, SinkConfig, SinkConfigBuilder};
pub use dead_letter::{
    dead_letter_record, DeadLetterError, DeadLetterExt, HEADER_ATTEMPTS, HEADER_ERROR,
    HEADER_ERROR_KIND, HEADER_OFFSET, HEADER_PARTITION, HEADER_TIME, HEADER_TOPIC,
};
pub use partitioner::{murmur2, murmur2_partition, PartitionFn, Partitioner};
pub use record::SinkRecord;

use timely::dataflow::StreamVec;

use crate::error::SinkError;
use crate::source::SourceControl;
use deliveries::Deliveries;

/// What [`KafkaSinkExt::kafka_sink`] returns.
pub struct KafkaSink<'scope> {
    /// A stream with no records whose frontier passes a tick once every record of the
    /// tick is acknowledged. Probe it (with the source's commit probe).
    pub acknowledged: StreamVec<'scope, u64, ()>,
    /// Delivery counts and errors.
    pub handle: SinkHandle,
}

/// Observes a sink from any thread.
#[derive(Clone)]
pub struct SinkHandle {
    deliveries: Arc<Deliveries>,
}

impl SinkHandle {
    /// The first fatal error, if any. After one, the sink sends nothing more.
    pub fn error(&self) -> Option<SinkError> {
        self.deliveries.failure()
    }

    /// Records acknowledged by the broker so far, on this worker.
    pub fn delivered(&self) -> u64 {
        self.deliveries.delivered()
    }

    /// Records handed to librdkafka and not yet acknowledged, on this worker.
    pub fn in_flight(&self) -> u64 {
        self.deliveries.in_flight()
    }

    /// A snapshot of this worker's sink figures: records sent, acknowledged, failed,
    /// retried, in flight; librdkafka's queue depth; time spent waiting on a full queue; per
    /// tick delivery times. The same figures the `metrics` facade receives (see
    /// [`crate::metrics`]).
    pub fn metrics(&self) -> crate::metrics::SinkMetrics {
        self.deliveries.snapshot()
    }

    /// Makes the sink give up waiting for room in the producer's queue once `control` is
    /// shut down now ([`SourceControl::shutdown_now`]): a full queue (an unreachable broker,
    /// say) would otherwise hold the worker, and with it the source's immediate shutdown,
    /// until deliveries time out. The records not yet queued are then not sent: their tick
    /// stays held, so nothing after them is committed, and [`error`](Self::error) reports
    /// [`SinkError::Stopped`]. Call it when building the dataflow.
    pub fn stop_with(&self, control: &SourceControl) {
        self.deliveries.stop_with(control.clone());
    }
}

/// Adds [`kafka_sink`](KafkaSinkExt::kafka_sink) to streams of [`SinkRecord`]s.
pub trait KafkaSinkExt<'scope> {
    /// Produces every record to Kafka; see the [module docs](self) for the guarantees.
    ///
    /// ```
    /// use timely::dataflow::operators::{Probe, ToStream};
    /// use timely::dataflow::ProbeHandle;
    /// use timely_kafka::sink::{KafkaSinkExt, SinkConfig, SinkRecord};
    /// use timely_kafka::testing::EmbeddedCluster;
    ///
    /// let cluster = EmbeddedCluster::new(1).unwrap();
    /// cluster.create_topic("greetings", 1).unwrap();
    /// let config = SinkConfig::builder()
    ///     .brokers(cluster.bootstrap_servers())
    ///     .default_topic("greetings")
    ///     .build()
    ///     .unwrap();
    /// timely::execute_directly(move |worker| {
    ///     let probe = ProbeHandle::new();
    ///     worker.dataflow::<u64, _, _>(|scope| {
    ///         let sink = vec![SinkRecord::new("hello"), SinkRecord::new("world")]
    ///             .to_stream(scope)
    ///             .container::<Vec<_>>()
    ///             .kafka_sink(&config)
    ///             .unwrap();
    ///         sink.acknowledged.probe_with(&probe);
    ///     });
    ///     while !probe.done() {
    ///         worker.step_or_park(None);
    ///     }
    /// });
    /// assert_eq!(cluster.end_offsets("greetings").unwrap()[&0], 2);
    /// ```
    fn kafka_sink(self, config: &SinkConfig) -> Result<KafkaSink<'scope>, SinkError>;
}

impl<'scope> KafkaSinkExt<'scope> for StreamVec<'scope, u64, SinkRecord> {
    fn kafka_sink(self, config: &SinkConfig) -> Result<KafkaSink<'scope>, SinkError> {
        let (acknowledged, deliveries) = operator::build_sink(self, config)?;
        Ok(KafkaSink {
            acknowledged,
            handle: SinkHandle { deliveries },
        })
    }
}
