//! Kafka records as differential collections: insertions, or upserts by key.

use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use crate::record::KafkaRecord;

/// A topic read with upsert meaning.
pub struct Upserts<'scope> {
    /// `(key, value)` for every key whose latest record has a payload.
    pub collection: VecCollection<'scope, u64, (Vec<u8>, Vec<u8>)>,
    /// Records without a key, which upsert meaning cannot place. Route them to a dead-letter
    /// topic or count them; they are never silently dropped.
    pub keyless: StreamVec<'scope, u64, KafkaRecord>,
}

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
        self.unary(Pipeline, "Insertions", |_, _| {
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
        super::upsert::upserts(self)
    }
}
