//! What a rebuilt view needs to converge: the keys its output topic held at start, and when
//! the view has caught up with its input as it stood at start (the snapshot).
//!
//! The snapshot is complete once every input partition's committed offset has reached its
//! high watermark at start *and* was committed by this run: the source sends a metadata
//! string unique to each run with every commit
//! ([`SourceConfig::commit_metadata`](crate::SourceConfig::commit_metadata)), so a commit
//! left by an earlier run, which may already stand at the watermark, does not count. The
//! group's committed offsets are shared by every process, so this holds cluster-wide.
//!
//! The clients built here carry the user's client settings (security, `client.id`, ...):
//! the watcher the source config's, the reader of the output topic the sink config's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely::scheduling::SyncActivator;

use super::end_of_partition::EndOfPartitionIsExpected;
use crate::error::{RebuildError, SinkError};
use crate::offsets::{CommittedOffset, OffsetReader, OffsetsError};
use crate::position::TopicPartition;
use crate::sink::SinkConfig;
use crate::SourceConfig;

/// How often the group's committed offsets are read while the snapshot is incomplete.
const POLL: Duration = Duration::from_millis(200);
/// The timeout of each broker request made here.
const REQUEST: Duration = Duration::from_secs(10);

/// Where the input stood at start: per partition, its high watermark, and the commit the
/// group held then.
struct Snapshot {
    ends: BTreeMap<TopicPartition, i64>,
    committed_at_start: BTreeMap<TopicPartition, CommittedOffset>,
}

/// A reader of the source's group's offsets, with the user's settings.
fn reader(source: &SourceConfig) -> Result<OffsetReader, SinkError> {
    OffsetReader::with_passthrough(
        source.brokers(),
        source.group_id(),
        &source.group.passthrough,
    )
    .map(|reader| reader.timeout(REQUEST))
    .map_err(|e| SinkError::Rebuild(e.into()))
}

/// The committed offset and metadata of every partition in `partitions`.
fn committed(
    reader: &OffsetReader,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, CommittedOffset>, SinkError> {
    reader
        .committed_offsets(partitions)
        .map_err(|e| SinkError::Rebuild(e.into()))
}

impl Snapshot {
    fn take(reader: &OffsetReader, source: &SourceConfig) -> Result<Self, SinkError> {
        let mut ends = BTreeMap::new();
        for topic in source.topics() {
            let partitions = reader.partitions(topic).map_err(|e| match e {
                // A missing (or misspelled) input would look like an empty one: the view
                // would count as caught up at once and tombstone every key of its output.
                // Refuse it.
                OffsetsError::UnknownTopic { .. } => RebuildError::MissingInput {
                    topic: topic.clone(),
                },
                other => RebuildError::Offsets(other),
            })?;
            let marks = reader
                .watermarks(&partitions)
                .map_err(|e| SinkError::Rebuild(e.into()))?;
            // An empty partition has nothing to catch up with.
            ends.extend(
                marks
                    .into_iter()
                    .filter(|(_, marks)| marks.high > marks.low)
                    .map(|(tp, marks)| (tp, marks.high)),
            );
        }
        let partitions: Vec<TopicPartition> = ends.keys().cloned().collect();
        let committed_at_start = committed(reader, &partitions)?;
        Ok(Snapshot {
            ends,
            committed_at_start,
        })
    }

    /// Whether this run has committed every partition up to its end at start.
    fn caught_up(&self, now: &BTreeMap<TopicPartition, CommittedOffset>) -> bool {
        self.ends.iter().all(|(tp, end)| match now.get(tp) {
            Some(CommittedOffset {
                offset: Some(offset),
                metadata,
            }) => {
                *offset >= *end
                    && Some(metadata) != self.committed_at_start.get(tp).map(|c| &c.metadata)
            }
            _ => false,
        })
    }
}

/// Starts a thread that sets `done` (and activates the operator) once the view has caught up
/// with the input as it stood now. It stops early once `alive` is gone.
pub(super) fn watch_snapshot(
    source: &SourceConfig,
    done: Arc<AtomicBool>,
    alive: Weak<()>,
    activator: SyncActivator,
) -> Result<(), SinkError> {
    let reader = reader(source)?;
    let snapshot = Snapshot::take(&reader, source)?;
    let group = source.group_id().to_owned();
    if snapshot
        .committed_at_start
        .values()
        .any(|committed| committed.metadata == source.commit_metadata().as_bytes())
    {
        // The same config ran before in this process: its own commits look like this run's.
        tracing::warn!(%group, "the group's offsets already carry this source's commit metadata (a config reused across runs?): this run cannot tell its commits apart, so stale keys will not be removed");
    }
    if snapshot.ends.is_empty() {
        // An empty input: the rebuilt view holds nothing, and nothing needs catching up.
        done.store(true, Ordering::Release);
        let _ = activator.activate();
        return Ok(());
    }
    std::thread::Builder::new()
        .name("timely-kafka:snapshot".into())
        .spawn(move || {
            let partitions: Vec<TopicPartition> = snapshot.ends.keys().cloned().collect();
            let started = Instant::now();
            while alive.upgrade().is_some() {
                match committed(&reader, &partitions) {
                    Ok(now) if snapshot.caught_up(&now) => {
                        tracing::info!(%group, "the view caught up with its input as of its start after {:?}", started.elapsed());
                        done.store(true, Ordering::Release);
                        let _ = activator.activate();
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(%group, "snapshot watch: {e}; retrying"),
                }
                // A polling interval, not synchronisation: the broker has no push for commits.
                std::thread::sleep(POLL);
            }
        })
        .map_err(|e| RebuildError::Thread(Arc::new(e)))?;
    Ok(())
}

/// The keys `topic` holds a value for: its records read from the start to the end of each
/// partition (librdkafka's end-of-partition event, so a trailing transaction marker does
/// not make it wait), the last record of a key winning and a tombstone removing it. The
/// reader carries the sink's settings: it reads from the sink's cluster.
pub(super) fn live_keys(sink: &SinkConfig, topic: &str) -> Result<Vec<Vec<u8>>, SinkError> {
    let mut config = ClientConfig::new();
    sink.passthrough.apply_to(&mut config);
    config
        .set("bootstrap.servers", &sink.brokers)
        .set("group.id", "timely-kafka-output-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer<EndOfPartitionIsExpected> =
        crate::client::create(&config, EndOfPartitionIsExpected)
            .map_err(|e| read_output(topic, e))?;
    crate::client::serve_startup_events(&consumer);
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST)
        .map_err(|e| read_output(topic, e))?;
    let mut tpl = TopicPartitionList::new();
    let mut remaining = std::collections::BTreeSet::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .map_err(|e| read_output(topic, e))?;
            remaining.insert(p.id());
        }
    }
    let mut values: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
    if !remaining.is_empty() {
        consumer.assign(&tpl).map_err(|e| read_output(topic, e))?;
        let deadline = Instant::now() + REQUEST * 6;
        while !remaining.is_empty() {
            if Instant::now() > deadline {
                return Err(RebuildError::ReadOutputTimedOut {
                    topic: topic.to_owned(),
                    waited: REQUEST * 6,
                }
                .into());
            }
            match consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    remaining.remove(&partition);
                }
                Some(Err(e)) => return Err(read_output(topic, e)),
                Some(Ok(message)) => {
                    if let Some(key) = message.key() {
                        values.insert(key.to_vec(), message.payload().is_some());
                    }
                }
            }
        }
    }
    drop(tpl);
    Ok(values
        .into_iter()
        .filter_map(|(key, live)| live.then_some(key))
        .collect())
}

/// A failed read of the view's output topic.
fn read_output(topic: &str, source: KafkaError) -> SinkError {
    RebuildError::ReadOutput {
        topic: topic.to_owned(),
        source: Box::new(source),
    }
    .into()
}
