//! `batching::by_topic()` and `batching::all()` (src/batching.rs): a coarser key packs the
//! partitions it covers into one batch, on one worker, each partition in its own order; and
//! `by_topic` never mixes topics.
//!
//! Two topics of three partitions, read on two workers (so every key's partitions are
//! spread over both). A batch's size is exactly the records its key covers, and its timeout
//! far away, so each key makes exactly one batch, flushed by size: only if one worker
//! receives every record of the key.

mod common;

use std::collections::BTreeMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely::ExchangeData;
use timely_kafka::batching::{all, by_topic, BatchConfig, BatchOp};
use timely_kafka::testing::{unique_name, EmbeddedCluster};
use timely_kafka::{KafkaRecord, KafkaSourceExt, Position, SourceConfig, TopicPartition};

const PARTITIONS: i32 = 3;
const PER_PARTITION: usize = 50;
const PER_TOPIC: usize = PARTITIONS as usize * PER_PARTITION;
/// Far beyond the run: batches here flush by size, never by time.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A batch as its handler saw it: the worker, and `(topic, partition, offset)` of each
/// record in order.
type SeenBatch = (usize, Vec<Position>);

/// Two loaded topics and a source config reading both.
fn two_topics() -> (EmbeddedCluster, [String; 2], SourceConfig) {
    let topics = [unique_name("batch-a"), unique_name("batch-b")];
    let cluster = EmbeddedCluster::new(1).unwrap();
    for topic in &topics {
        cluster.create_topic(topic, PARTITIONS).unwrap();
        load(&cluster, topic, PARTITIONS, 0..PER_PARTITION);
    }
    let config = config(
        &cluster.bootstrap_servers(),
        &unique_name("batch-group"),
        &topics[0],
    )
    .topic(&topics[1])
    .build()
    .unwrap();
    (cluster, topics, config)
}

/// Source → batch(`batching`, `max_size`) → handler on two workers, until every record is
/// handled.
fn run<K>(
    source: SourceConfig,
    batching: fn() -> BatchConfig<KafkaRecord, K>,
    max_size: usize,
) -> Vec<SeenBatch>
where
    K: Hash + Eq + Clone + ExchangeData,
{
    init_logging();
    let seen: Arc<Mutex<Vec<SeenBatch>>> = Arc::default();
    let handled = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&seen);
    timely::execute(timely::Config::process(2), move |worker| {
        let index = worker.index();
        let probe = ProbeHandle::new();
        let (sink, counter) = (Arc::clone(&sink), Arc::clone(&handled));
        let handle = worker.dataflow(|scope| {
            let consumed = scope.kafka_source(&source).unwrap();
            consumed
                .records
                .batch(batching().max_size(max_size).timeout(TIMEOUT))
                .inspect(move |batch| {
                    let records = batch
                        .records
                        .iter()
                        .map(KafkaRecord::position)
                        .collect::<Vec<_>>();
                    counter.fetch_add(records.len(), Ordering::SeqCst);
                    sink.lock().unwrap().push((index, records));
                })
                .probe_with(&probe);
            consumed.handle.commit_after(&probe);
            consumed.handle
        });
        let started = Instant::now();
        while handled.load(Ordering::SeqCst) < 2 * PER_TOPIC && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        handle.shutdown();
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

/// Every partition of `topics` in `batch`, each complete and in offset order.
fn holds_every_partition_in_order(batch: &SeenBatch, topics: &[&String]) {
    let mut offsets: BTreeMap<TopicPartition, Vec<i64>> = BTreeMap::new();
    for position in &batch.1 {
        offsets
            .entry(position.topic_partition.clone())
            .or_default()
            .push(position.offset);
    }
    let want: Vec<TopicPartition> = topics
        .iter()
        .flat_map(|t| (0..PARTITIONS).map(move |p| TopicPartition::new(t.as_str(), p)))
        .collect();
    assert_eq!(
        offsets.keys().cloned().collect::<Vec<_>>(),
        want,
        "the batch (worker {}) packs exactly these partitions",
        batch.0
    );
    for (tp, offsets) in offsets {
        assert_eq!(
            offsets,
            (0..PER_PARTITION as i64).collect::<Vec<_>>(),
            "{tp}: every record, in offset order"
        );
    }
}

#[test]
fn by_topic_packs_a_topics_partitions_in_order_and_never_mixes_topics() {
    let (_cluster, topics, source) = two_topics();
    // Size limit: one topic's records. A batch mixing topics would fill with both.
    let mut batches = run(source, by_topic::<KafkaRecord>, PER_TOPIC);
    assert_eq!(
        batches.len(),
        2,
        "one batch per topic, flushed by size: {:?}",
        batches
            .iter()
            .map(|(w, r)| (w, r.len()))
            .collect::<Vec<_>>()
    );
    batches.sort_by(|a, b| a.1[0].topic().cmp(b.1[0].topic()));
    holds_every_partition_in_order(&batches[0], &[&topics[0]]);
    holds_every_partition_in_order(&batches[1], &[&topics[1]]);
}

#[test]
fn all_packs_every_partition_of_every_topic_in_order() {
    let (_cluster, topics, source) = two_topics();
    let batches = run(source, all::<KafkaRecord>, 2 * PER_TOPIC);
    assert_eq!(
        batches.len(),
        1,
        "one batch for everything, flushed by size: {:?}",
        batches
            .iter()
            .map(|(w, r)| (w, r.len()))
            .collect::<Vec<_>>()
    );
    let mut sorted = topics.iter().collect::<Vec<_>>();
    sorted.sort();
    holds_every_partition_in_order(&batches[0], &sorted);
}
