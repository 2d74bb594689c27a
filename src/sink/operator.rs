//! The sink operator: send each record, hold each tick until its deliveries are
//! acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use super::config::SinkConfig;
use super::deliveries::{Deliveries, DeliveryTag, SinkContext};
use super::partitioner::{Partitioner, PartitionerState};
use super::record::SinkRecord;
use crate::error::SinkError;

/// How long partition counts are trusted before they are read again.
const METADATA_MAX_AGE: Duration = Duration::from_secs(300);
/// How long one wait for room in librdkafka's queue lasts before checking again.
const ROOM_WAIT: Duration = Duration::from_millis(100);

/// Builds the sink on this worker.
pub(crate) fn build_sink<'scope>(
    stream: StreamVec<'scope, u64, SinkRecord>,
    config: &SinkConfig,
) -> Result<(StreamVec<'scope, u64, ()>, Arc<Deliveries>), SinkError> {
    let deliveries = Arc::new(Deliveries::new());
    let context = SinkContext {
        deliveries: Arc::clone(&deliveries),
    };
    let producer: ThreadedProducer<SinkContext> =
        crate::client::create(&config.client_config(), context)
            .map_err(|e| SinkError::Create(Box::new(e)))?;

    let scope = stream.scope();
    let mut builder = OperatorBuilder::new("KafkaSink".to_owned(), scope);
    let info = builder.operator_info();
    deliveries.set_activator(scope.worker().sync_activator_for(info.address.to_vec()));
    let mut input = builder.new_input(stream, Pipeline);
    let (output, acknowledged) = builder.new_output::<Vec<()>>();
    // The sink sends no records: its output exists for its frontier.
    let output = OutputBuilder::<_, CapacityContainerBuilder<Vec<()>>>::from(output);

    let mut writer = Writer {
        producer,
        deliveries: Arc::clone(&deliveries),
        default_topic: config.default_topic.clone(),
        partitioner: config.partitioner.clone(),
        partitioner_state: PartitionerState::new(scope.index() as u64 + 1),
        metadata_timeout: config.metadata_timeout,
        partition_counts: HashMap::new(),
        held: BTreeMap::new(),
        waited: Duration::ZERO,
    };
    builder.build_reschedule(move |_capabilities| {
        // The initial capability is dropped: the sink holds only ticks with deliveries.
        move |frontiers| {
            let _ = &output;
            input.for_each(|cap, data| {
                // A message with an empty stamp holds no time: send it, hold nothing for it.
                let Some(tick) = cap.least().copied() else {
                    writer.send_all(u64::MAX, data);
                    return;
                };
                if let std::collections::btree_map::Entry::Vacant(slot) = writer.held.entry(tick) {
                    if let Some(cap) = cap.retain_least(0) {
                        slot.insert(cap);
                    }
                }
                writer.send_all(tick, data);
            });
            writer.release();
            // Stay alive while anything is held or more input may come.
            let alive = !writer.held.is_empty() || !frontiers[0].is_empty();
            writer.publish_metrics(!alive);
            alive
        }
    });
    Ok((acknowledged, deliveries))
}

struct Writer {
    producer: ThreadedProducer<SinkContext>,
    deliveries: Arc<Deliveries>,
    default_topic: Option<String>,
    partitioner: Partitioner,
    partitioner_state: PartitionerState,
    metadata_timeout: Duration,
    partition_counts: HashMap<String, (i32, Instant)>,
    /// Capabilities of ticks that may still have deliveries in flight.
    held: BTreeMap<u64, Capability<u64>>,
    /// Time this activation waited for room in librdkafka's queue.
    waited: Duration,
}

impl Writer {
    /// Sends every record of a container stamped `tick`.
    fn send_all(&mut self, tick: u64, records: &mut Vec<SinkRecord>) {
        if records.is_empty() {
            return;
        }
        // Count them in flight before sending, so no report can arrive for an uncounted one.
        {
            let mut ledger = self.deliveries.lock();
            *ledger.outstanding.entry(tick).or_default() += records.len() as u64;
            ledger.first_sent.entry(tick).or_insert_with(Instant::now);
        }
        self.deliveries.metrics.sent(records.len() as u64);
        for record in records.drain(..) {
            if self.deliveries.failure().is_some() {
                // After a fatal error nothing more is sent; the remaining records stay counted
                // in flight, so their tick is held and nothing after them is committed.
                continue;
            }
            self.send(tick, record);
        }
    }

    /// Sends one record; waits for room while librdkafka's queue is full (backpressure:
    /// this worker takes no more input meanwhile). On a fatal error the record stays counted
    /// in flight, holding its tick.
    fn send(&mut self, tick: u64, record: SinkRecord) {
        let origin = record.origin.clone();
        let Some(topic) = record.topic.clone().or_else(|| self.default_topic.clone()) else {
            self.deliveries.fail(SinkError::NoTopic { origin });
            return;
        };
        let partition = match record.partition {
            Some(p) => Some(p),
            None => match self.partition_for(&topic, record.key.as_deref()) {
                Ok(p) => p,
                Err(e) => {
                    self.deliveries.fail(e);
                    return;
                }
            },
        };
        let headers = (!record.headers.is_empty()).then(|| {
            record.headers.iter().fold(
                OwnedHeaders::new_with_capacity(record.headers.len()),
                |h, header| {
                    h.insert(Header {
                        key: &header.key,
                        value: header.value.as_ref(),
                    })
                },
            )
        });
        let tag = Box::new(DeliveryTag {
            tick,
            origin: record.origin.clone(),
        });
        let mut base: BaseRecord<'_, Vec<u8>, Vec<u8>, Box<DeliveryTag>> =
            BaseRecord::with_opaque_to(&topic, tag);
        if let Some(key) = &record.key {
            base = base.key(key);
        }
        if let Some(payload) = &record.payload {
            base = base.payload(payload);
        }
        if let Some(p) = partition {
            base = base.partition(p);
        }
        if let Some(ts) = record.timestamp_ms {
            base = base.timestamp(ts);
        }
        if let Some(headers) = headers {
            base = base.headers(headers);
        }
        // Whether librdkafka's queue was seen empty after refusing this record.
        let mut refused_by_empty_queue = false;
        loop {
            match self.producer.send(base) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    if self.producer.in_flight_count() == 0 {
                        if !refused_by_empty_queue {
                            // The queue emptied between the refusal and now (the records
                            // that filled it were delivered meanwhile): send again.
                            refused_by_empty_queue = true;
                            base = back;
                            continue;
                        }
                        // Refused by an empty queue: the record alone is too big for it.
                        self.deliveries.fail(SinkError::Enqueue {
                            topic: topic.clone(),
                            origin,
                            source: Box::new(KafkaError::MessageProduction(
                                RDKafkaErrorCode::QueueFull,
                            )),
                        });
                        return;
                    }
                    base = back;
                    let waiting = Instant::now();
                    {
                        let _span = tracing::debug_span!(
                            "sink_wait_for_room",
                            topic = %topic,
                            queue = self.producer.in_flight_count(),
                        )
                        .entered();
                        self.deliveries.wait_for_room(ROOM_WAIT);
                    }
                    self.waited += waiting.elapsed();
                    self.deliveries.metrics.retried();
                    if self.deliveries.failure().is_some() {
                        return;
                    }
                    if self.deliveries.stopping_now() {
                        // Held like a failure: this record and the rest are not sent.
                        self.deliveries.fail(SinkError::Stopped {
                            topic: topic.clone(),
                            origin,
                        });
                        return;
                    }
                }
                Err((error, _)) => {
                    self.deliveries.fail(SinkError::Enqueue {
                        topic: topic.clone(),
                        origin,
                        source: Box::new(error),
                    });
                    return;
                }
            }
        }
    }

    /// The partition for a keyed record when we, not librdkafka, choose it; `None` lets
    /// librdkafka's partitioner (murmur2, crc32, random) choose.
    fn partition_for(&mut self, topic: &str, key: Option<&[u8]>) -> Result<Option<i32>, SinkError> {
        if matches!(
            self.partitioner,
            Partitioner::Murmur2 | Partitioner::Crc32 | Partitioner::Random
        ) {
            return Ok(None);
        }
        let partitions = self.partition_count(topic)?;
        let partition = self
            .partitioner
            .partition(key, partitions, &mut self.partitioner_state);
        if !(0..partitions).contains(&partition) {
            return Err(SinkError::BadPartition {
                topic: topic.to_owned(),
                partition,
                partitions,
            });
        }
        Ok(Some(partition))
    }

    fn partition_count(&mut self, topic: &str) -> Result<i32, SinkError> {
        if let Some((count, at)) = self.partition_counts.get(topic) {
            if at.elapsed() < METADATA_MAX_AGE {
                return Ok(*count);
            }
        }
        let metadata = match self
            .producer
            .client()
            .fetch_metadata(Some(topic), self.metadata_timeout)
        {
            Ok(metadata) => metadata,
            Err(e) => {
                // A failed refresh keeps the last known count; only a topic never seen fails.
                if let Some((count, _)) = self.partition_counts.get(topic) {
                    tracing::warn!(
                        "refreshing the partition count of `{topic}` failed ({e}); keeping {count}"
                    );
                    return Ok(*count);
                }
                return Err(SinkError::Metadata {
                    topic: topic.to_owned(),
                    reason: e.to_string(),
                });
            }
        };
        let count = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map(|t| t.partitions().len() as i32)
            .filter(|n| *n > 0)
            .ok_or_else(|| SinkError::Metadata {
                topic: topic.to_owned(),
                reason: "the topic does not exist or has no partitions".into(),
            })?;
        self.partition_counts
            .insert(topic.to_owned(), (count, Instant::now()));
        Ok(count)
    }

    /// Publishes the sink's figures to the `metrics` facade: at most every 200 ms, or now at
    /// the end (`last`). Once per activation, never per record.
    fn publish_metrics(&mut self, last: bool) {
        let metrics = &self.deliveries.metrics;
        if !self.waited.is_zero() {
            metrics.waited(std::mem::take(&mut self.waited));
        }
        let producer = &self.producer;
        let depth = || (!last).then(|| producer.in_flight_count().max(0) as u64);
        metrics.publish(self.deliveries.delivered(), depth, last);
    }

    /// Drops the capabilities of ticks whose deliveries are all acknowledged.
    fn release(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let ledger = self.deliveries.lock();
        self.held
            .retain(|tick, _| ledger.outstanding.contains_key(tick));
    }
}
