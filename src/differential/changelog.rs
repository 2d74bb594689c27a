//! A collection of `(key, value)` pairs written to Kafka as a changelog of upserts.

use std::collections::BTreeMap;

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::VecCollection;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;
use timely_kafka_operators::stable_hash;

use crate::error::SinkError;
use crate::sink::{KafkaSink, KafkaSinkExt, SinkConfig, SinkRecord};

/// Writes a collection of `(key, value)` pairs to Kafka as upserts; see the
/// [module docs](super).
pub trait UpsertSinkExt<'scope> {
    /// Once a tick is complete, writes each key that changed at it: `key → value` for its new
    /// value, or a tombstone if it has none left. Keys are routed by hash, so all changes of
    /// a key meet on one worker; records go to the sink's default topic, placed by its
    /// partitioner (murmur2 of the key by default, like every Kafka client).
    ///
    /// The collection should hold at most one value per key. If a key has several values
    /// at a tick, the greatest is written and an error is logged naming the key.
    fn upsert_to_kafka(self, config: &SinkConfig) -> Result<KafkaSink<'scope>, SinkError>;
}

/// A `(key, value)` pair and its change in multiplicity.
type Update = ((Vec<u8>, Vec<u8>), isize);

/// Updates of one tick, held with its capability until the tick is complete.
type Pending = (Capability<u64>, Vec<Update>);

impl<'scope> UpsertSinkExt<'scope> for VecCollection<'scope, u64, (Vec<u8>, Vec<u8>)> {
    fn upsert_to_kafka(self, config: &SinkConfig) -> Result<KafkaSink<'scope>, SinkError> {
        let changes: StreamVec<'scope, u64, SinkRecord> = self.inner.unary_frontier(
            Exchange::new(|((key, _), _, _): &((Vec<u8>, Vec<u8>), u64, isize)| stable_hash(key)),
            "UpsertChangelog",
            |_, _| {
                let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
                move |(input, frontier), output| {
                    input.for_each(|stamp, data| {
                        let Some(cap) = stamp.retain_least(output.output_index()) else {
                            tracing::error!(
                                "upsert sink: {} updates arrived with an empty stamp",
                                data.len()
                            );
                            return;
                        };
                        for (pair, time, diff) in data.drain(..) {
                            pending
                                .entry(time)
                                .or_insert_with(|| (cap.delayed(&time), Vec::new()))
                                .1
                                .push((pair, diff));
                        }
                    });
                    while let Some(entry) = pending.first_entry() {
                        if frontier.less_equal(entry.key()) {
                            break;
                        }
                        let (cap, mut updates) = entry.remove();
                        consolidate(&mut updates);
                        let mut session = output.session(&cap);
                        for (key, value) in latest_values(updates) {
                            // `None` is a tombstone: Kafka's null payload.
                            let record = SinkRecord {
                                payload: value,
                                ..SinkRecord::new(Vec::new())
                            };
                            session.give(record.key(key));
                        }
                    }
                }
            },
        );
        changes.kafka_sink(config)
    }
}

/// The new value of every key that changed, from one tick's consolidated updates: the value
/// inserted (`Some`), or `None` for a key only retracted (a tombstone).
fn latest_values(updates: Vec<Update>) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    let mut latest: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for ((key, value), diff) in updates {
        if diff <= 0 {
            latest.entry(key).or_insert(None);
            continue;
        }
        if let Some(Some(other)) = latest.get(&key) {
            tracing::error!(
                key = %String::from_utf8_lossy(&key),
                "upsert sink: the key has several values at one tick ({} and {}); writing the greatest",
                String::from_utf8_lossy(other),
                String::from_utf8_lossy(&value)
            );
        }
        // Consolidated updates are sorted by (key, value): the last insertion is the greatest.
        latest.insert(key, Some(value));
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::latest_values;

    fn kv(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    #[test]
    fn a_new_value_wins_and_a_bare_retraction_is_a_tombstone() {
        let latest = latest_values(vec![
            (kv("a", "1"), -1),
            (kv("a", "2"), 1),
            (kv("b", "7"), -1),
            (kv("c", "x"), 1),
        ]);
        let show: Vec<(&[u8], Option<&[u8]>)> = latest
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        assert_eq!(
            show,
            [
                (&b"a"[..], Some(&b"2"[..])),
                (&b"b"[..], None),
                (&b"c"[..], Some(&b"x"[..]))
            ]
        );
    }
}
