//! A collection of `(key, value)` pairs written to Kafka as a changelog of upserts.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::{Operator, OutputBuilderSession};
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Capability, Concat, ToStream};
use timely::dataflow::StreamVec;
use timely::progress::frontier::MutableAntichain;
use timely::scheduling::Activator;
use timely_kafka_operators::stable_hash;

use super::rebuild::{live_keys, watch_snapshot};
use crate::error::{RebuildError, SinkError};
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
struct Pending {
    capability: Capability<u64>,
    updates: Vec<Update>,
}

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
            let topic = config
                .default_topic()
                .ok_or_else(|| SinkError::Rebuild(RebuildError::NoOutputTopic))?;
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
    let mut watch: Option<SourceConfig> = rebuild.cloned();
    let mut watch_error: Option<SinkError> = None;
    let records: StreamVec<'scope, u64, SinkRecord> = changes.unary_frontier(
        Exchange::new(|change: &Change| stable_hash(change.key())),
        "UpsertChangelog",
        |initial, info| {
            if let Some(source) = watch.take() {
                let activator = scope.worker().sync_activator_for(info.address.to_vec());
                let (done, alive) = (Arc::clone(&done), Arc::downgrade(&alive));
                if let Err(e) = watch_snapshot(&source, done, alive, activator) {
                    watch_error = Some(e);
                }
            }
            let stale_keys = rebuild.is_some().then(|| StaleKeys {
                held: initial,
                baseline: HashSet::new(),
                caught_up: done,
                input_ended: None,
                activator: scope.activator_for(info.address.clone()),
            });
            let mut changelog = Changelog {
                pending: BTreeMap::new(),
                stale_keys,
                _alive: alive,
            };
            move |(input, frontier), output| {
                input.for_each(|stamp, data| {
                    let Some(capability) = stamp.retain_least(output.output_index()) else {
                        tracing::error!(
                            "upsert sink: {} updates arrived with an empty stamp",
                            data.len()
                        );
                        return;
                    };
                    changelog.accept(&capability, data);
                });
                changelog.write_complete_ticks(frontier, output);
                changelog.settle_stale_keys(frontier, output);
            }
        },
    );
    if let Some(error) = watch_error {
        return Err(error);
    }
    records.kafka_sink(config)
}

/// The output of the changelog operator.
type Output<'a> = OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<SinkRecord>>>;

/// The changelog operator on one worker: each tick's updates, held with the tick's
/// capability until the input frontier passes the tick, then written as the new value of
/// each key that changed; for a rebuilt view, also the removal of the keys that left it while
/// it was down.
struct Changelog {
    /// The updates of each tick the input frontier has not passed yet.
    pending: BTreeMap<u64, Pending>,
    /// A rebuilt view's stale keys, until they are tombstoned (or the input ended first);
    /// `None` for a plain upsert sink.
    stale_keys: Option<StaleKeys>,
    /// The snapshot watcher runs while this exists (it holds a `Weak` of it).
    _alive: Arc<()>,
}

/// The keys a rebuilt view's output topic held at start that the view has not written
/// since, and what it takes to know they are stale: the view has caught up with its input as
/// it stood at start.
struct StaleKeys {
    /// Held (at the input frontier, never behind it) until the stale keys are tombstoned, so
    /// the sink's frontier does not pass the view's catching up before they are.
    held: Capability<u64>,
    /// Output-topic keys from start that no tick has written yet.
    baseline: HashSet<Vec<u8>>,
    /// Set by the snapshot watcher once the view has caught up.
    caught_up: Arc<AtomicBool>,
    /// When the input ended with the snapshot not yet confirmed (a shutdown right after
    /// catching up: the final commit is still on its way).
    input_ended: Option<Instant>,
    /// Wakes the operator to look again while it waits for that confirmation.
    activator: Activator,
}

impl Changelog {
    /// Takes in one container of changes stamped `capability`: updates wait for their tick,
    /// baseline keys join the stale-key candidates.
    fn accept(&mut self, capability: &Capability<u64>, changes: &mut Vec<Change>) {
        for change in changes.drain(..) {
            match change {
                Change::Update(pair, time, diff) => self
                    .pending
                    .entry(time)
                    .or_insert_with(|| Pending {
                        capability: capability.delayed(&time),
                        updates: Vec::new(),
                    })
                    .updates
                    .push((pair, diff)),
                Change::Baseline(key) => {
                    // Only a rebuilt view reads baseline keys.
                    if let Some(stale) = self.stale_keys.as_mut() {
                        stale.baseline.insert(key);
                    }
                }
            }
        }
    }

    /// Writes every tick the input frontier has passed, in tick order: each changed key's
    /// new value, or a tombstone for a key with none left.
    fn write_complete_ticks(&mut self, frontier: &MutableAntichain<u64>, output: &mut Output) {
        while let Some(entry) = self.pending.first_entry() {
            if frontier.less_equal(entry.key()) {
                break;
            }
            let Pending {
                capability,
                mut updates,
            } = entry.remove();
            consolidate(&mut updates);
            let mut session = output.session(&capability);
            for (key, value) in latest_values(updates) {
                if let Some(stale) = self.stale_keys.as_mut() {
                    stale.baseline.remove(&key);
                }
                // `None` is a tombstone: Kafka's null payload.
                let record = SinkRecord {
                    payload: value,
                    ..SinkRecord::new(Vec::new())
                };
                session.give(record.key(key));
            }
        }
    }

    /// Moves a rebuilt view's stale-key cleanup on; see [`StaleKeys::settle`].
    fn settle_stale_keys(&mut self, frontier: &MutableAntichain<u64>, output: &mut Output) {
        if let Some(stale) = self.stale_keys.as_mut() {
            if stale.settle(frontier, output) {
                self.stale_keys = None;
            }
        }
    }
}

impl StaleKeys {
    /// Tombstones the stale keys once the view has caught up and every baseline key has
    /// arrived; until then follows the input frontier with the held capability. Once the
    /// input has ended, waits [`SETTLE_AFTER_END`] for the snapshot to be confirmed, then
    /// gives up. True when the cleanup is over (done or given up): the capability may go.
    fn settle(&mut self, frontier: &MutableAntichain<u64>, output: &mut Output) -> bool {
        // Every baseline key has arrived once the input frontier is past 0.
        let baseline_complete = !frontier.less_equal(&0);
        if self.caught_up.load(Ordering::Acquire) && baseline_complete {
            self.tombstone_all(output);
            return true;
        }
        match frontier.frontier().iter().min() {
            Some(least) if least > self.held.time() => self.held.downgrade(least),
            Some(_) => {}
            None => {
                // The input ended. Step past every tick, so the probe and the source's final
                // commit are not held back by this capability, and wait a little for that
                // commit to confirm the snapshot; a view stopped before catching up settles
                // nothing.
                if *self.held.time() < u64::MAX {
                    self.held.downgrade(&u64::MAX);
                }
                let ended = *self.input_ended.get_or_insert_with(Instant::now);
                if ended.elapsed() < SETTLE_AFTER_END {
                    self.activator.activate_after(Duration::from_millis(100));
                } else {
                    tracing::info!("upsert sink: the input ended before the view caught up with it; no stale keys removed");
                    return true;
                }
            }
        }
        false
    }

    /// Writes a tombstone for every key that left the view while it was down.
    fn tombstone_all(&mut self, output: &mut Output) {
        if !self.baseline.is_empty() {
            tracing::info!(
                "upsert sink: {} key(s) left the view while it was down: writing tombstones",
                self.baseline.len()
            );
        }
        let mut session = output.session(&self.held);
        for key in self.baseline.drain() {
            session.give(SinkRecord {
                payload: None,
                ..SinkRecord::new(Vec::new()).key(key)
            });
        }
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
