//! A collection of `(key, value)` pairs written to Kafka as a changelog of upserts.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Capability, Concat, ToStream};
use timely::dataflow::StreamVec;
use timely_kafka_operators::stable_hash;

use super::rebuild::{live_keys, watch_snapshot};
use crate::error::SinkError;
use crate::sink::{KafkaSink, KafkaSinkExt, SinkConfig, SinkRecord};
use crate::SourceConfig;

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

    /// [`upsert_to_kafka`](Self::upsert_to_kafka) for a view rebuilt from its whole input
    /// on every start (`source` reads with `ignore_committed`). At start it reads which keys
    /// the output topic holds; once the view has caught up with the input as it stood at
    /// start (every input partition committed by this run up to its end then), it writes a
    /// tombstone for each of those keys this run has not written: keys that left the view
    /// while it was down. The output topic then equals the view. An input topic that does
    /// not exist is an error ([`SinkError::Rebuild`](crate::SinkError)) naming the topic,
    /// never an empty view: that would delete every key of the output.
    fn rebuild_to_kafka(
        self,
        config: &SinkConfig,
        source: &SourceConfig,
    ) -> Result<KafkaSink<'scope>, SinkError>;
}

/// How long a rebuilt view's sink waits, after its input ended, for the snapshot to be
/// confirmed (the final commit and its reading take a moment).
const SETTLE_AFTER_END: Duration = Duration::from_secs(10);

/// A `(key, value)` pair and its change in multiplicity.
type Update = ((Vec<u8>, Vec<u8>), isize);

/// Updates of one tick, held with its capability until the tick is complete.
type Pending = (Capability<u64>, Vec<Update>);

/// What the changelog operator receives, routed by key.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Change {
    /// A change to the view at a tick.
    Update((Vec<u8>, Vec<u8>), u64, isize),
    /// A key the output topic held at start.
    Baseline(Vec<u8>),
}

impl Change {
    fn key(&self) -> &[u8] {
        match self {
            Change::Update((key, _), _, _) | Change::Baseline(key) => key,
        }
    }
}

impl<'scope> UpsertSinkExt<'scope> for VecCollection<'scope, u64, (Vec<u8>, Vec<u8>)> {
    fn upsert_to_kafka(self, config: &SinkConfig) -> Result<KafkaSink<'scope>, SinkError> {
        changelog(self, config, None)
    }

    fn rebuild_to_kafka(
        self,
        config: &SinkConfig,
        source: &SourceConfig,
    ) -> Result<KafkaSink<'scope>, SinkError> {
        changelog(self, config, Some(source))
    }
}

fn changelog<'scope>(
    collection: VecCollection<'scope, u64, (Vec<u8>, Vec<u8>)>,
    config: &SinkConfig,
    rebuild: Option<&SourceConfig>,
) -> Result<KafkaSink<'scope>, SinkError> {
    let scope = collection.inner.scope();
    // One worker reads the output topic's keys; the exchange takes each to its owner.
    let baseline: Vec<Change> = match rebuild {
        Some(_) if scope.index() == 0 => {
            let topic = config.default_topic().ok_or_else(|| {
                SinkError::Rebuild("the sink needs a `default_topic` to rebuild into".into())
            })?;
            live_keys(config, topic)?
                .into_iter()
                .map(Change::Baseline)
                .collect()
        }
        _ => Vec::new(),
    };
    let changes = collection
        .inner
        .map(|(pair, time, diff)| Change::Update(pair, time, diff))
        .concat(baseline.to_stream(scope));
    let done = Arc::new(AtomicBool::new(false));
    let alive = Arc::new(());
    // The snapshot watcher starts once the operator's address is known, below.
    let mut watch: Option<(SourceConfig, Arc<AtomicBool>, std::sync::Weak<()>)> =
        rebuild.map(|s| (s.clone(), Arc::clone(&done), Arc::downgrade(&alive)));
    let mut watch_error: Option<SinkError> = None;
    let records: StreamVec<'scope, u64, SinkRecord> = changes.unary_frontier(
        Exchange::new(|change: &Change| stable_hash(change.key())),
        "UpsertChangelog",
        |initial, info| {
            if let Some((source, done, alive)) = watch.take() {
                let activator = scope.worker().sync_activator_for(info.address.to_vec());
                if let Err(e) = watch_snapshot(&source, done, alive, activator) {
                    watch_error = Some(e);
                }
            }
            // Held (at the input frontier, never behind it) until the stale keys are
            // tombstoned; only a rebuilt view has any.
            let mut held = rebuild.is_some().then_some(initial);
            let activator = scope.activator_for(info.address.clone());
            // When the input ended with the snapshot not yet confirmed (a shutdown right
            // after catching up: the final commit is still on its way).
            let mut input_ended: Option<Instant> = None;
            // The watcher runs while this operator exists.
            let alive = alive;
            let mut pending: BTreeMap<u64, Pending> = BTreeMap::new();
            let mut baseline: HashSet<Vec<u8>> = HashSet::new();
            move |(input, frontier), output| {
                let _ = &alive;
                input.for_each(|stamp, data| {
                    let Some(cap) = stamp.retain_least(output.output_index()) else {
                        tracing::error!(
                            "upsert sink: {} updates arrived with an empty stamp",
                            data.len()
                        );
                        return;
                    };
                    for change in data.drain(..) {
                        match change {
                            Change::Update(pair, time, diff) => pending
                                .entry(time)
                                .or_insert_with(|| (cap.delayed(&time), Vec::new()))
                                .1
                                .push((pair, diff)),
                            Change::Baseline(key) => {
                                baseline.insert(key);
                            }
                        }
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
                        baseline.remove(&key);
                        // `None` is a tombstone: Kafka's null payload.
                        let record = SinkRecord {
                            payload: value,
                            ..SinkRecord::new(Vec::new())
                        };
                        session.give(record.key(key));
                    }
                }
                if let Some(cap) = held.as_mut() {
                    // Every baseline key has arrived once the input frontier is past 0.
                    let baseline_complete = !frontier.less_equal(&0);
                    if done.load(Ordering::Acquire) && baseline_complete {
                        if !baseline.is_empty() {
                            tracing::info!(
                                "upsert sink: {} key(s) left the view while it was down: writing tombstones",
                                baseline.len()
                            );
                        }
                        let mut session = output.session(cap);
                        for key in baseline.drain() {
                            session.give(SinkRecord {
                                payload: None,
                                ..SinkRecord::new(Vec::new()).key(key)
                            });
                        }
                        drop(session);
                        held = None;
                    } else {
                        match frontier.frontier().iter().min() {
                            Some(least) if least > cap.time() => cap.downgrade(least),
                            Some(_) => {}
                            None => {
                                // The input ended. Step past every tick, so the probe and
                                // the source's final commit are not held back by this
                                // capability, and wait a little for that commit to confirm
                                // the snapshot; a view stopped before catching up settles
                                // nothing.
                                if *cap.time() < u64::MAX {
                                    cap.downgrade(&u64::MAX);
                                }
                                let ended = *input_ended.get_or_insert_with(Instant::now);
                                if ended.elapsed() < SETTLE_AFTER_END {
                                    activator.activate_after(Duration::from_millis(100));
                                } else {
                                    tracing::info!("upsert sink: the input ended before the view caught up with it; no stale keys removed");
                                    held = None;
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    if let Some(error) = watch_error {
        return Err(error);
    }
    records.kafka_sink(config)
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
