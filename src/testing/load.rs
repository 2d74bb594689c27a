//! Bulk loading: a producer tuned for throughput that never drops a record.
//!
//! The loader is a [`BaseProducer`] polled by the thread that calls `load`. Every record
//! carries an `Arc` of its load's [`LoadState`] as delivery opaque, so concurrent loads
//! from several threads each count exactly their own delivery reports, whichever thread
//! happens to serve them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use tracing::{debug, warn};

use super::error::ClusterError;
use super::offsets::REQUEST_TIMEOUT;
use super::record::{LoadReport, TestRecord};

/// How long librdkafka keeps retrying a record before reporting it failed.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra time, beyond [`MESSAGE_TIMEOUT`], to wait for the last delivery reports.
const REPORT_SLACK: Duration = Duration::from_secs(10);
/// How long one poll blocks while waiting for delivery reports or queue space.
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Serve delivery reports after this many enqueued records, so their memory is freed
/// before the queue fills up.
const POLL_EVERY: u64 = 4096;

/// Producer settings for bulk loads. lz4 keeps large loads under the mock's ~5 MiB
/// retention per partition; big batches keep the message-set count (the mock also keeps
/// at most 100,000 per partition) and the per-request overhead low.
const LOADER_CONFIG: &[(&str, &str)] = &[
    ("client.id", "timely-kafka-testing-loader"),
    ("allow.auto.create.topics", "false"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("batch.num.messages", "100000"),
    ("batch.size", "1000000"),
    ("queue.buffering.max.messages", "500000"),
    ("queue.buffering.max.kbytes", "1048576"),
    ("acks", "all"),
];

/// Delivery bookkeeping of one `load` call.
#[derive(Default)]
pub(crate) struct LoadState {
    /// Records enqueued whose delivery report has not been served yet.
    pending: AtomicU64,
    /// Set once any delivery failed; read per record without taking the lock.
    failed: AtomicBool,
    /// The first failed delivery: partition and error.
    failure: Mutex<Option<(i32, KafkaError)>>,
}

impl LoadState {
    fn record_failure(&self, partition: i32, error: KafkaError) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert((partition, error));
        self.failed.store(true, Ordering::Release);
    }

    fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    fn take_failure(&self) -> Option<(i32, KafkaError)> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Routes each delivery report to the load it belongs to.
pub(crate) struct LoadContext;

impl ClientContext for LoadContext {
    crate::oauth_token_refresh!();
}

impl ProducerContext for LoadContext {
    type DeliveryOpaque = Arc<LoadState>;

    fn delivery(&self, result: &DeliveryResult<'_>, state: Self::DeliveryOpaque) {
        if let Err((error, message)) = result {
            state.record_failure(message.partition(), error.clone());
        }
        state.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The producer behind [`EmbeddedCluster::load`](super::EmbeddedCluster::load).
pub(crate) struct Loader {
    producer: BaseProducer<LoadContext>,
}

impl Loader {
    /// A loader connected to `bootstrap_servers`.
    pub(crate) fn new(
        bootstrap_servers: &str,
        settings: &[(String, String)],
    ) -> Result<Self, ClusterError> {
        let mut config = ClientConfig::new();
        for (key, value) in settings {
            config.set(key, value);
        }
        config.set("bootstrap.servers", bootstrap_servers);
        config.set(
            "message.timeout.ms",
            MESSAGE_TIMEOUT.as_millis().to_string(),
        );
        for (key, value) in LOADER_CONFIG {
            config.set(*key, *value);
        }
        let producer: BaseProducer<LoadContext> = crate::client::create(&config, LoadContext)
            .map_err(|source| ClusterError::Client {
                role: "loader",
                source: Box::new(source),
            })?;
        // With OAUTHBEARER the first token is asked for on the event queue, before any
        // connection: serve it before the first metadata request waits for one.
        producer.poll(Duration::ZERO);
        Ok(Loader { producer })
    }

    /// Produces `records` to `topic` (which has `partitions` partitions) and waits for
    /// every delivery report. On error, the records enqueued before it may be written.
    pub(crate) fn load<I>(
        &self,
        topic: &str,
        partitions: i32,
        records: I,
    ) -> Result<LoadReport, ClusterError>
    where
        I: IntoIterator<Item = TestRecord>,
    {
        let state = Arc::new(LoadState::default());
        let mut report = LoadReport::default();
        let started = Instant::now();
        let mut first_error = None;
        for record in records {
            if state.has_failed() {
                break;
            }
            if let Err(error) = self.enqueue(topic, partitions, &record, &state) {
                first_error = Some(error);
                break;
            }
            report.records += 1;
            report.bytes += record.data_len();
            if report.records % POLL_EVERY == 0 {
                self.producer.poll(Duration::ZERO);
            }
        }
        // Wait for the outstanding reports even after an error, so a failed load leaves
        // nothing in flight that could land after it returned.
        let waited = self.wait_for_reports(topic, &state);
        if let Some(error) = first_error {
            return Err(error);
        }
        if let Some((partition, source)) = state.take_failure() {
            return Err(ClusterError::Delivery {
                topic: topic.to_owned(),
                partition,
                source: Box::new(source),
            });
        }
        waited?;
        debug!(
            topic,
            records = report.records,
            bytes = report.bytes,
            elapsed = ?started.elapsed(),
            "loaded records"
        );
        Ok(report)
    }

    /// Enqueues one record, serving delivery reports while the queue is full.
    fn enqueue(
        &self,
        topic: &str,
        partitions: i32,
        record: &TestRecord,
        state: &Arc<LoadState>,
    ) -> Result<(), ClusterError> {
        if let Some(partition) = record.partition {
            if !(0..partitions).contains(&partition) {
                return Err(ClusterError::InvalidPartition {
                    topic: topic.to_owned(),
                    partition,
                    partitions,
                });
            }
        }
        let mut base: BaseRecord<'_, [u8], [u8], Arc<LoadState>> =
            BaseRecord::with_opaque_to(topic, Arc::clone(state));
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        if let Some(key) = &record.key {
            base = base.key(key.as_slice());
        }
        if let Some(payload) = &record.payload {
            base = base.payload(payload.as_slice());
        }
        if let Some(timestamp) = record.timestamp_ms {
            base = base.timestamp(timestamp);
        }
        if !record.headers.is_empty() {
            let headers = record.headers.iter().fold(
                OwnedHeaders::new_with_capacity(record.headers.len()),
                |headers, (name, value)| {
                    headers.insert(Header {
                        key: name.as_str(),
                        value: Some(value.as_slice()),
                    })
                },
            );
            base = base.headers(headers);
        }
        state.pending.fetch_add(1, Ordering::AcqRel);
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    base = returned;
                    // Serving delivery reports frees queue space; this blocks on the
                    // event queue, it does not spin.
                    self.producer.poll(POLL_INTERVAL);
                }
                Err((source, _returned)) => {
                    state.pending.fetch_sub(1, Ordering::AcqRel);
                    return Err(ClusterError::Enqueue {
                        topic: topic.to_owned(),
                        partition: record.partition.unwrap_or(-1),
                        source: Box::new(source),
                    });
                }
            }
        }
    }

    /// Serves delivery reports until none of this load's records is pending.
    fn wait_for_reports(&self, topic: &str, state: &LoadState) -> Result<(), ClusterError> {
        let started = Instant::now();
        let deadline = started + MESSAGE_TIMEOUT + REPORT_SLACK;
        loop {
            let pending = state.pending.load(Ordering::Acquire);
            if pending == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                warn!(topic, pending, "delivery reports missing at the deadline");
                return Err(ClusterError::DeliveryTimeout {
                    topic: topic.to_owned(),
                    pending,
                    waited: started.elapsed(),
                });
            }
            self.producer.poll(POLL_INTERVAL);
        }
    }
}

/// Produces `records` to `topic` on any Kafka cluster (not only an embedded one) and waits
/// for every delivery report, with the same guarantees as
/// [`EmbeddedCluster::load`](super::EmbeddedCluster::load). For examples and benchmarks
/// that take `--brokers`.
pub fn load_into<I>(
    bootstrap_servers: &str,
    topic: &str,
    records: I,
) -> Result<LoadReport, ClusterError>
where
    I: IntoIterator<Item = TestRecord>,
{
    load_into_with(bootstrap_servers, &[], topic, records)
}

/// [`load_into`] with more librdkafka settings for the producer (security, `client.id`),
/// for example from a [`ClientProperties`](crate::client::ClientProperties) file.
pub fn load_into_with<I>(
    bootstrap_servers: &str,
    settings: &[(String, String)],
    topic: &str,
    records: I,
) -> Result<LoadReport, ClusterError>
where
    I: IntoIterator<Item = TestRecord>,
{
    let loader = Loader::new(bootstrap_servers, settings)?;
    let partitions =
        crate::offsets::partition_count(loader.producer.client(), topic, REQUEST_TIMEOUT)?;
    loader.load(topic, partitions, records)
}
