//! librdkafka callbacks of the group's consumer: rebalances, commit results and logs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::TopicPartitionList;

use super::native_commit::group_generation;
use super::shared::{AssignedPartition, GroupShared, PartitionHandle, Revoking};
use super::start::{start_positions, StartPositions};
use super::NativePartitionQueue;
use crate::config::SourceSettings;
use crate::ownership::TopicPartition;

/// The consumer's context. Its callbacks run on the group thread (inside `poll`) or, while
/// the consumer closes, on the thread that drops it; never on a timely worker.
pub(crate) struct GroupContext {
    pub shared: Arc<GroupShared>,
    settings: Arc<SourceSettings>,
    /// The consumer itself, to split partition queues during a rebalance. Weak, so the
    /// context does not keep its own consumer alive.
    consumer: OnceLock<Weak<BaseConsumer<GroupContext>>>,
}

impl GroupContext {
    pub(crate) fn new(shared: Arc<GroupShared>, settings: Arc<SourceSettings>) -> Self {
        GroupContext {
            shared,
            settings,
            consumer: OnceLock::new(),
        }
    }

    pub(crate) fn set_consumer(&self, consumer: &Arc<BaseConsumer<GroupContext>>) {
        let _ = self.consumer.set(Arc::downgrade(consumer));
    }

    fn on_assign(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = to_partitions(tpl);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        if let Some(hook) = &self.settings.hooks.assigned {
            let generation = group_generation(consumer).unwrap_or(-1);
            for (topic, partition) in &partitions {
                if let Err(error) = hook(topic, *partition, generation) {
                    self.shared
                        .hook_failed(format!("assigned hook for {topic}/{partition}: {error}"));
                }
            }
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
        let StartPositions { list, committed } =
            start_positions(consumer, &self.settings, &partitions);
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
                            let message = format!(
                                "group `{}`: no queue for {}/{}; its records stay unread until the next rebalance",
                                self.shared.group_id, tp.0, tp.1
                            );
                            tracing::error!("{message}");
                            state.last_error = Some(message);
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
                let message = format!(
                    "group `{}`: assigning {} failed: {err}",
                    self.shared.group_id,
                    describe(&partitions)
                );
                tracing::error!("{message}");
                let mut state = self.shared.lock();
                for tp in &partitions {
                    if let Some(assigned) = state.assignment.remove(tp) {
                        assigned.handle.set_epoch(0);
                    }
                }
                state.last_error = Some(message);
                self.shared.assignment_changed(&mut state);
            }
        }
    }

    /// A queue handle for a partition, its wake-up pointed at whichever worker owns it.
    fn split(
        &self,
        consumer: &Arc<BaseConsumer<GroupContext>>,
        tp: &TopicPartition,
    ) -> Option<Arc<PartitionHandle>> {
        let mut queue = NativePartitionQueue::split(consumer, &tp.0, tp.1)?;
        let owner = Arc::new(AtomicUsize::new(GroupShared::undealt()));
        let wake_owner = Arc::clone(&owner);
        let shared = Arc::downgrade(&self.shared);
        queue.on_nonempty(move || {
            if let Some(shared) = shared.upgrade() {
                shared.wake(wake_owner.load(Ordering::Acquire));
            }
        });
        Some(Arc::new(PartitionHandle::new(queue, owner)))
    }

    /// Stops reading the revoked partitions, lets their in-flight records finish and be
    /// committed by their workers (bounded by the revoke drain timeout), then releases them.
    /// Runs on the group thread, never on a timely worker, so waiting here cannot block the
    /// dataflow it waits for.
    fn on_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = to_partitions(tpl);
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let lost = consumer.assignment_lost();
        // A lost assignment belongs to someone else already; a shutdown drains by itself.
        let drain = !lost && !self.shared.shutdown_requested();
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
                    state
                        .revoking
                        .insert(tp.clone(), Revoking { epoch, done: false });
                }
            }
            self.shared.state_changed();
        }
        if drain {
            tracing::info!(group = %self.shared.group_id, "revoking {}: draining in-flight records", describe(&partitions));
            let deadline = Instant::now() + self.settings.revoke_drain_timeout;
            let undrained = self.shared.wait_revoked(&partitions, deadline);
            if !undrained.is_empty() && !self.shared.shutdown_requested() {
                tracing::warn!(
                    group = %self.shared.group_id,
                    "revoke drain timeout ({:?}) passed for {}: their unfinished records are not committed and will be read again",
                    self.settings.revoke_drain_timeout,
                    describe(&undrained)
                );
            }
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
            let generation = group_generation(consumer).unwrap_or(-1);
            for (topic, partition) in &partitions {
                if let Err(error) = hook(topic, *partition, generation) {
                    self.shared
                        .hook_failed(format!("revoked hook for {topic}/{partition}: {error}"));
                }
            }
        }
        let released = if cooperative {
            consumer.incremental_unassign(tpl)
        } else {
            consumer.unassign()
        };
        if let Err(err) = released {
            tracing::warn!(group = %self.shared.group_id, "releasing {} failed: {err}", describe(&partitions));
        }
    }
}

impl ClientContext for GroupContext {
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

    fn error(&self, error: KafkaError, reason: &str) {
        use rdkafka::error::RDKafkaErrorCode::{AllBrokersDown, BrokerTransportFailure};
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
                let message = format!(
                    "group `{}`: rebalance error {other:?}",
                    self.shared.group_id
                );
                tracing::error!("{message}");
                self.shared.record_error(message);
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
        tracing::debug!(group = %self.shared.group_id, ?result, "commit result for {} partition(s)", offsets.count());
        let mut state = self.shared.lock();
        for elem in offsets.elements() {
            let Some(offset) = elem.offset().to_raw() else {
                continue;
            };
            let tp = (elem.topic().to_owned(), elem.partition());
            if state.commits_in_flight.get(&tp) == Some(&offset) {
                state.commits_in_flight.remove(&tp);
            }
            let outcome = match (&result, elem.error()) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), partition_result) => partition_result,
            };
            match outcome {
                Ok(()) => {
                    let entry = state.committed.entry(tp).or_insert(offset);
                    *entry = (*entry).max(offset);
                }
                Err(err) => {
                    let message = format!(
                        "group `{}`: commit of {}/{}@{offset} failed: {err}; it will be retried",
                        self.shared.group_id, tp.0, tp.1
                    );
                    tracing::warn!("{message}");
                    state.last_error = Some(message);
                    state.failed_commits.insert(tp, offset);
                }
            }
        }
        drop(state);
        self.shared.commit_results_arrived();
    }
}

fn to_partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

/// `topic/partition` items, for logs.
pub(crate) fn describe(partitions: &[TopicPartition]) -> String {
    if partitions.is_empty() {
        return "no partitions".to_owned();
    }
    partitions
        .iter()
        .map(|(t, p)| format!("{t}/{p}"))
        .collect::<Vec<_>>()
        .join(", ")
}
