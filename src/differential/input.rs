//! Kafka records as differential collections: insertions, or upserts by key.

use std::collections::{BTreeMap, HashMap};

use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;
use timely_kafka_operators::stable_hash;

use super::upsert::Upserts;
use crate::position::TopicPartition;
use crate::record::KafkaRecord;

/// Turns a stream of Kafka records into differential collections; see the
/// [module docs](super).
pub trait KafkaCollectionExt<'scope> {
    /// Every record is an insertion (`+1`) at its tick.
    fn insertions(self) -> VecCollection<'scope, u64, KafkaRecord>;

    /// Compacted-topic meaning: a key's latest value replaces the previous one, a tombstone
    /// (null payload) retracts it. Records are routed by key, so each key's state lives on
    /// one worker.
    fn upserts(self) -> Upserts<'scope>;
}

impl<'scope> KafkaCollectionExt<'scope> for StreamVec<'scope, u64, KafkaRecord> {
    fn insertions(self) -> VecCollection<'scope, u64, KafkaRecord> {
        first_reads(self)
            .unary(Pipeline, "Insertions", |_, _| {
                |input, output| {
                    input.for_each(|stamp, data| {
                        let Some(cap) = stamp.retain_least(output.output_index()) else {
                            tracing::error!(
                                "insertions: {} records arrived with an empty stamp",
                                data.len()
                            );
                            return;
                        };
                        let time = *cap.time();
                        output
                            .session(&cap)
                            .give_iterator(data.drain(..).map(|record| (record, time, 1isize)));
                    });
                }
            })
            .as_collection()
    }

    fn upserts(self) -> Upserts<'scope> {
        super::upsert::upserts(first_reads(self))
    }
}

/// Drops records read again within this run. A view reads every partition from its start
/// (`ignore_committed`), so a partition that moves to another worker or process mid-run is
/// read again from there; without this, a count would count those records twice. Records
/// are routed by `(topic, partition)`; per partition, every offset up to the highest one
/// seen was seen (each reader sends a contiguous run from the partition's start, in
/// order), so an offset at or below it is a re-read. Records are also never stamped
/// earlier than a record of their partition already passed on (a new reader's clock may
/// lag the old one's), so the view applies each partition's records in offset order.
fn first_reads(records: StreamVec<'_, u64, KafkaRecord>) -> StreamVec<'_, u64, KafkaRecord> {
    records.unary(
        Exchange::new(|r: &KafkaRecord| stable_hash(&(&*r.topic, r.partition))),
        "FirstReads",
        |_, _| {
            // Per partition: the highest offset passed on, and the tick it was passed at.
            let mut highest: HashMap<TopicPartition, (i64, u64)> = HashMap::new();
            let mut dropped: u64 = 0;
            let mut late: BTreeMap<u64, Vec<KafkaRecord>> = BTreeMap::new();
            move |input, output| {
                input.for_each(|stamp, data| {
                    let Some(cap) = stamp.retain_least(output.output_index()) else {
                        tracing::error!(
                            "views: {} records arrived with an empty stamp",
                            data.len()
                        );
                        return;
                    };
                    let time = *cap.time();
                    let before = data.len();
                    let mut on_time = Vec::with_capacity(data.len());
                    for r in data.drain(..) {
                        let seen = highest.entry(r.topic_partition()).or_insert((-1, 0));
                        if r.offset <= seen.0 {
                            continue;
                        }
                        seen.0 = r.offset;
                        seen.1 = seen.1.max(time);
                        if seen.1 == time {
                            on_time.push(r);
                        } else {
                            late.entry(seen.1).or_default().push(r);
                        }
                    }
                    let again = before - on_time.len() - late.values().map(Vec::len).sum::<usize>();
                    if again > 0 {
                        dropped += again as u64;
                        tracing::debug!(
                            "views: dropped {again} record(s) read again ({dropped} in all)"
                        );
                    }
                    output.session(&cap).give_container(&mut on_time);
                    for (later, mut records) in std::mem::take(&mut late) {
                        output
                            .session(&cap.delayed(&later))
                            .give_container(&mut records);
                    }
                });
            }
        },
    )
}
