//! librdkafka callbacks of the group's consumer: rebalances, commit results and logs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::TopicPartitionList;

use super::hooks::{Assignment, LifecycleHook};
use super::membership::{commit_and_wait, Commit};
use super::native_commit::{group_generation, CommitQueue, PartitionCommitResult};
use super::protocol::GroupProtocol;
use super::settings::GroupSettings;
use super::shared::{AssignedPartition, GroupShared, PartitionHandle, Revoking};
use super::start::{start_positions, StartPositions};
use super::NativePartitionQueue;
use crate::error::Error;
use crate::metrics::RebalanceEvent;
use crate::position::{describe, TopicPartition};

/// The consumer's context. Its callbacks run on the group thread (inside `poll`) or, while
/// the consumer closes, on the thread that drops it; never on a timely worker.
pub(crate) struct GroupContext {
    pub shared: Arc<GroupShared>,
    settings: Arc<GroupSettings>,
    /// The consumer itself, to split partition queues during a rebalance. Weak, so the
    /// context does not keep its own consumer alive; it no longer upgrades once the
    /// consumer is closing.
    consumer: OnceLock<Weak<BaseConsumer<GroupContext>>>,
    /// The queue commit results arrive on; taken away before the consumer closes.
    commits: Mutex<Option<Arc<CommitQueue>>>,
}

/// The most a revoke keeps back from its drain for the final commit's answer: a quarter of
/// the revoke drain timeout, at most this.
const REVOKE_COMMIT_RESERVE: Duration = Duration::from_secs(1);

impl GroupContext {
    pub(crate) fn new(shared: Arc<GroupShared>, settings: Arc<GroupSettings>) -> Self {
        GroupContext {
            shared,
            settings,
            consumer: OnceLock::new(),
            commits: Mutex::new(None),
        }
    }

    pub(crate) fn set_consumer(
        &self,
        consumer: &Arc<BaseConsumer<GroupContext>>,
        commits: Arc<CommitQueue>,
    ) {
        let _ = self.consumer.set(Arc::downgrade(consumer));
        *self.commits.lock().unwrap_or_else(|e| e.into_inner()) = Some(commits);
    }

    /// The queue commits are sent with, unless the membership is closing.
    pub(crate) fn commit_queue(&self) -> Option<Arc<CommitQueue>> {
        self.commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Lets go of the commit queue, which must not outlive the consumer's client.
    pub(crate) fn release_commit_queue(&self) {
        self.commits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// Under the consumer protocol a member assigned nothing gets no rebalance callback:
    /// librdkafka starts one only when the group's target assignment differs from the
    /// member's current (empty) one. Once the member has joined (it has a member epoch) with
    /// nothing assigned and nothing being revoked, its assignment is settled, so its idle
    /// clock can run. Called by the group thread between polls.
    pub(crate) fn settle_if_joined_with_nothing(&self, consumer: &BaseConsumer<Self>) {
        if !matches!(self.settings.group_protocol, GroupProtocol::Consumer(_)) {
            return;
        }
        let unsettled_and_empty = |state: &super::shared::GroupState| {
            !state.idle.is_settled()
                && state.subscribed
                && state.assignment.is_empty()
                && state.revoking.is_empty()
        };
        if !unsettled_and_empty(&self.shared.lock()) {
            return;
        }
        if group_generation(consumer).is_some_and(|epoch| epoch > 0) {
            let mut state = self.shared.lock();
            if unsettled_and_empty(&state) {
                tracing::debug!(group = %self.shared.group_id, "joined with no partitions assigned");
                state.idle.settle();
            }
        }
    }

    /// Calls a lifecycle hook for each partition; the first refusal stops the sources.
    fn call_hook(
        &self,
        name: &'static str,
        hook: &LifecycleHook,
        consumer: &BaseConsumer<Self>,
        partitions: &[TopicPartition],
    ) {
        let generation = group_generation(consumer).unwrap_or(-1);
        for tp in partitions {
            let assignment = Assignment {
                topic_partition: tp.clone(),
                generation,
            };
            if let Err(source) = hook(&assignment) {
                self.shared.fail(Error::Hook {
                    hook: name,
                    topic_partition: tp.clone(),
                    generation,
                    source: Arc::from(source),
                });
            }
        }
    }

    fn on_assign(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = to_partitions(tpl);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let generation = group_generation(consumer);
        let _span = tracing::info_span!(
            "rebalance",
            group = %self.shared.group_id,
            event = "assigned",
            generation,
            partitions = %describe(&partitions),
        )
        .entered();
        self.shared
            .metrics
            .rebalance(RebalanceEvent::Assigned, generation);
        if let Some(hook) = &self.settings.hooks.assigned {
            self.call_hook("on_assigned", hook, consumer, &partitions);
        }
        let Some(arc) = self.consumer.get().and_then(Weak::upgrade) else {
            // The consumer is closing (this runs inside its close): nothing will read these
            // partitions, but librdkafka's close waits for the assign call that completes the
            // rebalance, so make it; the revoke that follows releases them.
            let assigned = if cooperative {
                consumer.incremental_assign(tpl)
            } else {
                consumer.assign(tpl)
            };
            if let Err(err) = assigned {
                tracing::warn!(group = %self.shared.group_id, "completing an assignment while closing failed: {err}");
            }
            return;
        };
        let StartPositions {
            list,
            committed,
            bounds,
        } = start_positions(consumer, &self.settings, &partitions);
        // Split every partition's queue *before* assigning: assigning starts fetching, and a
        // record fetched before its queue is split would land on the consumer's queue.
        {
            let mut state = self.shared.lock();
            state.idle.unsettle();
            if !cooperative {
                for (_, stale) in std::mem::take(&mut state.assignment) {
                    stale.handle.set_epoch(0);
                }
            }
            for tp in &partitions {
                let handle = match state.handles.get(tp) {
                    Some(handle) => Arc::clone(handle),
                    None => match self.split(&arc, tp) {
                        Some(handle) => {
                            state.handles.insert(tp.clone(), Arc::clone(&handle));
                            handle
                        }
                        None => {
                            let error = Error::NoPartitionQueue {
                                group: self.shared.group_id.clone(),
                                topic_partition: tp.clone(),
                            };
                            tracing::error!("{error}");
                            state.last_error = Some(error);
                            continue;
                        }
                    },
                };
                let epoch = GroupShared::next_epoch(&mut state);
                handle.set_epoch(epoch);
                handle
                    .owner
                    .store(GroupShared::undealt(), Ordering::Release);
                state.assignment.insert(
                    tp.clone(),
                    AssignedPartition {
                        handle,
                        epoch,
                        committed_at_start: committed.get(tp).copied().flatten(),
                        bounds: bounds.get(tp).copied().unwrap_or_default(),
                    },
                );
            }
            self.shared.assignment_changed(&mut state);
        }
        let assigned = if cooperative {
            consumer.incremental_assign(&list)
        } else {
            consumer.assign(&list)
        };
        drop(list);
        // The group has handed this process its partitions: the idle clock may run once the
        // workers have looked at them.
        self.shared.lock().idle.settle();
        match assigned {
            Ok(()) => tracing::info!(
                group = %self.shared.group_id,
                protocol = if cooperative { "cooperative" } else { "eager" },
                "assigned {}",
                describe(&partitions)
            ),
            Err(err) => {
                let error = Error::kafka(
                    format!(
                        "group `{}`: assigning {}",
                        self.shared.group_id,
                        describe(&partitions)
                    ),
                    err,
                );
                tracing::error!("{error}");
                let mut state = self.shared.lock();
                for tp in &partitions {
                    if let Some(assigned) = state.assignment.remove(tp) {
                        assigned.handle.set_epoch(0);
                    }
                }
                state.last_error = Some(error);
                self.shared.assignment_changed(&mut state);
            }
        }
        self.shared.publish_metrics(true);
    }

    /// A queue handle for a partition; its records go to its owner's worker queue once it
    /// is dealt (see `GroupShared::assignment_changed`).
    fn split(
        &self,
        consumer: &Arc<BaseConsumer<GroupContext>>,
        tp: &TopicPartition,
    ) -> Option<Arc<PartitionHandle>> {
        let queue = NativePartitionQueue::split(consumer, &tp.topic, tp.partition)?;
        let owner = Arc::new(AtomicUsize::new(GroupShared::undealt()));
        Some(Arc::new(PartitionHandle::new(queue, owner)))
    }

    /// Stops reading the revoked partitions, lets their in-flight records finish (bounded by
    /// the revoke drain timeout), commits each where its processed records end and waits for
    /// the broker's answer (within the same timeout), then releases them. A shutdown under
    /// way drains them too. Runs on the group thread, never on a timely worker, so waiting
    /// here cannot block the dataflow it waits for; commit results arrive on a thread of
    /// their own.
    fn on_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = to_partitions(tpl);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let lost = consumer.assignment_lost();
        let generation = group_generation(consumer);
        let _span = tracing::info_span!(
            "rebalance",
            group = %self.shared.group_id,
            event = if lost { "lost" } else { "revoked" },
            generation,
            partitions = %describe(&partitions),
        )
        .entered();
        let event = if lost {
            RebalanceEvent::Lost
        } else {
            RebalanceEvent::Revoked
        };
        self.shared.metrics.rebalance(event, generation);
        // A lost assignment belongs to someone else already. While the consumer closes (or
        // once every local source has made its final commit) no source is left to drain.
        let closing = self.consumer.get().and_then(Weak::upgrade).is_none();
        let drain = !lost && !closing && !self.shared.all_closed();
        {
            let mut state = self.shared.lock();
            // A rebalance is under way: never idle until the next assignment.
            state.idle.unsettle();
            for tp in &partitions {
                let Some(epoch) = state.assignment.get(tp).map(|a| {
                    // Waits for a read in progress; nothing is read from it after this.
                    a.handle.set_epoch(0);
                    a.epoch
                }) else {
                    continue;
                };
                if drain {
                    state.revoking.insert(
                        tp.clone(),
                        Revoking {
                            epoch,
                            done: false,
                            position: None,
                        },
                    );
                }
            }
            self.shared.state_changed();
        }
        if drain {
            let started = Instant::now();
            let _drain = tracing::info_span!("revoke_drain").entered();
            tracing::info!(group = %self.shared.group_id, "revoking {}: draining in-flight records", describe(&partitions));
            let timeout = self.settings.revoke_drain_timeout;
            let deadline = Instant::now() + timeout;
            let drained_by = deadline - (timeout / 4).min(REVOKE_COMMIT_RESERVE);
            let undrained = self.shared.wait_revoked(&partitions, drained_by);
            if !undrained.is_empty() && !self.shared.all_closed() {
                tracing::warn!(
                    group = %self.shared.group_id,
                    "revoke drain timeout ({timeout:?}) passed for {}: what is processed is committed; their unfinished records are not, and will be read again",
                    describe(&undrained)
                );
            }
            self.commit_revoked(consumer, &partitions, deadline);
            self.shared.metrics.drained(started.elapsed());
        }
        {
            let mut state = self.shared.lock();
            for tp in &partitions {
                state.assignment.remove(tp);
                state.revoking.remove(tp);
            }
            self.shared.assignment_changed(&mut state);
        }
        if lost {
            tracing::warn!(group = %self.shared.group_id, "assignment lost: {}", describe(&partitions));
        } else {
            tracing::info!(group = %self.shared.group_id, "revoked {}", describe(&partitions));
        }
        if let Some(hook) = &self.settings.hooks.revoked {
            self.call_hook("on_revoked", hook, consumer, &partitions);
        }
        let released = if cooperative {
            consumer.incremental_unassign(tpl)
        } else {
            consumer.unassign()
        };
        if let Err(err) = released {
            tracing::warn!(group = %self.shared.group_id, "releasing {} failed: {err}", describe(&partitions));
        }
        self.shared.publish_metrics(true);
    }
}

impl GroupContext {
    /// Commits each draining partition of `partitions` where its processed records end, as
    /// its worker last reported, unless the broker already accepted that commit under this
    /// assignment; waits for the answers until `deadline`.
    fn commit_revoked(
        &self,
        consumer: &BaseConsumer<Self>,
        partitions: &[TopicPartition],
        deadline: Instant,
    ) {
        let finals: Vec<Commit> = {
            let state = self.shared.lock();
            partitions
                .iter()
                .filter_map(|tp| {
                    let r = state.revoking.get(tp)?;
                    let offset = r.position?;
                    let accepted = state.commit_answers.get(tp).is_some_and(|a| {
                        a.accepted && a.commit.epoch == r.epoch && a.commit.offset >= offset
                    });
                    (!accepted).then(|| Commit {
                        position: tp.at(offset),
                        epoch: r.epoch,
                    })
                })
                .collect()
        };
        if finals.is_empty() {
            return;
        }
        match commit_and_wait(
            consumer,
            &self.shared,
            &self.settings,
            &finals,
            &[],
            deadline,
            false,
        ) {
            Ok(sent) if !sent.is_empty() => tracing::info!(
                group = %self.shared.group_id,
                "final commit of revoked partitions: {}",
                sent.iter()
                    .map(|s| s.tp.at(s.commit.offset).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(group = %self.shared.group_id, "{err}");
                self.shared.record_error(err);
            }
        }
    }
}

impl ClientContext for GroupContext {
    crate::oauth_token_refresh!();

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        let group = &self.shared.group_id;
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", %group, fac, "{message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", %group, fac, "{message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", %group, fac, "{message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", %group, fac, "{message}")
            }
        }
    }

    /// librdkafka's statistics (with `statistics.interval.ms`): a few fields become
    /// metrics (see [`crate::metrics`]).
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(statistics) = crate::metrics::Statistics::parse(statistics) {
            let assigned: std::collections::BTreeSet<TopicPartition> =
                self.shared.lock().assignment.keys().cloned().collect();
            self.shared
                .metrics
                .statistics(&statistics, |tp| assigned.contains(tp));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        use rdkafka::error::RDKafkaErrorCode::{AllBrokersDown, BrokerTransportFailure};
        // "All brokers down" says nothing a connection's own error did not.
        if !matches!(error, KafkaError::Global(AllBrokersDown)) {
            self.shared.record_connection_error(reason);
        }
        // librdkafka logs every failed connection itself (facility FAIL, identical ones
        // suppressed), and raises these again for each retry: a flood that says nothing new.
        if matches!(
            error,
            KafkaError::Global(AllBrokersDown | BrokerTransportFailure)
        ) {
            tracing::debug!(target: "librdkafka", group = %self.shared.group_id, "{error}: {reason}");
            return;
        }
        tracing::warn!(target: "librdkafka", group = %self.shared.group_id, "{error}: {reason}");
    }
}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.on_assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.on_revoke(consumer, tpl),
            other => {
                // librdkafka's rule for rebalance errors: drop the assignment and rejoin.
                let error = Error::kafka(
                    format!("group `{}`: rebalance", self.shared.group_id),
                    KafkaError::Rebalance(other.into()),
                );
                tracing::error!("{error}");
                self.shared.record_error(error);
                self.shared.metrics.rebalance(RebalanceEvent::Lost, None);
                let mut state = self.shared.lock();
                state.idle.unsettle();
                for (_, assigned) in std::mem::take(&mut state.assignment) {
                    assigned.handle.set_epoch(0);
                }
                self.shared.assignment_changed(&mut state);
                drop(state);
                let _ = consumer.unassign();
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        // Commits are sent with their own reply queue (see `native_commit`); any result
        // that still comes this way is recorded the same.
        self.shared
            .commit_answered(&result, &PartitionCommitResult::from_list(offsets));
    }
}

fn to_partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}
