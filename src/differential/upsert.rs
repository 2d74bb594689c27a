//! The upsert operator: per key, the latest value wins and a tombstone retracts.

use std::collections::HashMap;

use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Partition;
use timely::dataflow::StreamVec;
use timely_kafka_operators::stable_hash;

use crate::record::KafkaRecord;

/// A topic read with upsert meaning.
pub struct Upserts<'scope> {
    /// `(key, value)` for every key whose latest record has a payload.
    pub collection: VecCollection<'scope, u64, (Vec<u8>, Vec<u8>)>,
    /// Records without a key, which upsert meaning cannot place. Route them to a dead-letter
    /// topic or count them; they are never silently dropped.
    pub keyless: StreamVec<'scope, u64, KafkaRecord>,
}

/// Splits off keyless records, routes the rest by key, and turns each record into the
/// retraction of its key's previous value and the insertion of its new one.
pub(super) fn upserts(records: StreamVec<'_, u64, KafkaRecord>) -> Upserts<'_> {
    let mut parts = records
        .partition(2, |record| (u64::from(record.key.is_some()), record))
        .into_iter();
    let keyless = parts.next().expect("partition 0: keyless records");
    let keyed = parts.next().expect("partition 1: keyed records");
    let collection = keyed
        .unary(
            Exchange::new(|record: &KafkaRecord| stable_hash(&record.key)),
            "Upsert",
            |_, _| {
                // The current value of every key this worker owns. Records of one key come
                // from one partition, so from one worker, in offset order.
                let mut state: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
                move |input, output| {
                    input.for_each(|stamp, data| {
                        let Some(cap) = stamp.retain_least(output.output_index()) else {
                            tracing::error!(
                                "upserts: {} records arrived with an empty stamp",
                                data.len()
                            );
                            return;
                        };
                        let time = *cap.time();
                        let mut session = output.session(&cap);
                        for record in data.drain(..) {
                            let Some(key) = record.key else { continue };
                            let previous = match record.payload {
                                Some(value) => {
                                    if state.get(&key) == Some(&value) {
                                        continue;
                                    }
                                    session.give(((key.clone(), value.clone()), time, 1isize));
                                    state.insert(key.clone(), value)
                                }
                                None => state.remove(&key),
                            };
                            if let Some(previous) = previous {
                                session.give(((key, previous), time, -1isize));
                            }
                        }
                    });
                }
            },
        )
        .as_collection();
    Upserts {
        collection,
        keyless,
    }
}
