//! [`Membership`]: the consumer, the thread that serves its group events, and commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::shared::GroupShared;
use super::GroupContext;
use crate::config::SourceSettings;
use crate::error::Error;
use crate::ownership::TopicPartition;

/// How long the group thread blocks in one `poll`; it bounds how late it notices a stop.
const GROUP_POLL: Duration = Duration::from_millis(100);
/// How long the final commit waits before sending a refused commit again.
const COMMIT_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// One consumer-group membership, shared by the local workers' sources.
pub(crate) struct Membership {
    pub consumer: Arc<BaseConsumer<GroupContext>>,
    pub shared: Arc<GroupShared>,
    pub settings: Arc<SourceSettings>,
    /// Identifies this membership among the workers of all processes (see discovery).
    pub token: u64,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// One partition's commit: the offset after its last processed record, and the assignment
/// epoch the caller read it under.
pub(crate) struct Commit {
    pub tp: TopicPartition,
    pub epoch: u64,
    pub offset: i64,
}

/// `topic/partition@offset` items, for logs and errors.
fn describe_offsets(offsets: &[(TopicPartition, i64)]) -> String {
    offsets
        .iter()
        .map(|((t, p), o)| format!("{t}/{p}@{o}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Membership {
    /// Creates the consumer, checks that a broker answers within the connect timeout, and
    /// starts the group thread. The group is joined once every local worker has registered.
    pub(crate) fn create(settings: Arc<SourceSettings>) -> Result<Arc<Membership>, Error> {
        let shared = Arc::new(GroupShared::new(settings.group_id.clone()));
        let context = GroupContext::new(Arc::clone(&shared), Arc::clone(&settings));
        let consumer: BaseConsumer<GroupContext> = settings
            .client_config()
            .create_with_context(context)
            .map_err(|e| {
                Error::kafka(
                    format!("creating the consumer for group `{}`", settings.group_id),
                    e,
                )
            })?;
        match consumer.fetch_metadata(None, settings.connect_timeout) {
            Ok(metadata) => {
                for topic in &settings.topics {
                    let known = metadata
                        .topics()
                        .iter()
                        .any(|t| t.name() == topic && !t.partitions().is_empty());
                    if !known {
                        tracing::warn!(
                            group = %settings.group_id,
                            "topic `{topic}` does not exist yet; its partitions will be assigned once it does"
                        );
                    }
                }
            }
            Err(source) => {
                return Err(Error::BrokersUnreachable {
                    brokers: settings.brokers.clone(),
                    waited: settings.connect_timeout,
                    source: Box::new(source),
                })
            }
        }
        let consumer = Arc::new(consumer);
        consumer.context().set_consumer(&consumer);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("kafka-group-{}", settings.group_id))
            .spawn({
                let consumer = Arc::clone(&consumer);
                let stop = Arc::clone(&stop);
                move || serve_group(&consumer, &stop)
            })
            .map_err(|e| {
                Error::kafka(
                    "starting the group thread",
                    rdkafka::error::KafkaError::Subscription(e.to_string()),
                )
            })?;
        Ok(Arc::new(Membership {
            consumer,
            shared,
            settings,
            token: random_token(),
            stop,
            thread: Some(thread),
        }))
    }

    /// Registers local worker `rank` of `workers`; the last registration subscribes.
    pub(crate) fn register(
        &self,
        rank: usize,
        workers: usize,
        activator: timely::scheduling::SyncActivator,
    ) -> Result<(), Error> {
        self.shared.set_activator(rank, workers, activator);
        let mut state = self.shared.lock();
        match state.local_workers {
            Some(n) if n != workers => {
                return Err(Error::kafka(
                    format!(
                        "registering worker {rank}: the process has {n} workers, not {workers}"
                    ),
                    rdkafka::error::KafkaError::Subscription("inconsistent worker count".into()),
                ))
            }
            _ => state.local_workers = Some(workers),
        }
        state.registered += 1;
        if state.registered == workers && !state.subscribed {
            let topics: Vec<&str> = self.settings.topics.iter().map(String::as_str).collect();
            self.consumer.subscribe(&topics).map_err(|e| {
                Error::kafka(
                    format!(
                        "subscribing group `{}` to {topics:?}",
                        self.settings.group_id
                    ),
                    e,
                )
            })?;
            state.subscribed = true;
            tracing::info!(
                group = %self.settings.group_id,
                "joined with {workers} local worker(s); subscribed to {topics:?}"
            );
        }
        Ok(())
    }

    /// Commits `offsets` (each the offset after the last processed record), skipping any
    /// partition no longer assigned under the caller's epoch or with an earlier commit still
    /// awaiting its result (the caller sends it again later), and records `processed` for
    /// progress reports. The commit is sent asynchronously under the state lock, so no
    /// revoke can slip in between the ownership check and the send. With `wait` (the final
    /// commit), the caller then waits without the lock for the broker's answer, sending
    /// refused commits again, until all are confirmed or the deadline passes. Returns the
    /// offsets sent.
    pub(crate) fn commit(
        &self,
        offsets: &[Commit],
        processed: &[(TopicPartition, i64)],
        wait: Option<Instant>,
    ) -> Result<Vec<(TopicPartition, i64)>, Error> {
        if let Some(deadline) = wait {
            // The final commit must not be held back behind an earlier one: let those
            // results arrive first (bounded by the same deadline).
            self.shared.wait_for_commits(deadline, |state| {
                offsets
                    .iter()
                    .all(|c| !state.commits_in_flight.contains_key(&c.tp))
            });
        }
        let sent = self.send_commit(offsets, processed)?;
        let Some(deadline) = wait else {
            return Ok(sent);
        };
        let mut pending: Vec<Commit> = offsets
            .iter()
            .filter(|c| sent.iter().any(|(tp, _)| *tp == c.tp))
            .map(|c| Commit {
                tp: c.tp.clone(),
                epoch: c.epoch,
                offset: c.offset,
            })
            .collect();
        while !pending.is_empty() {
            let answered = self.shared.wait_for_commits(deadline, |state| {
                pending.iter().all(|c| {
                    state.committed.get(&c.tp).is_some_and(|o| *o >= c.offset)
                        || state.failed_commits.contains_key(&c.tp)
                })
            });
            if !answered {
                let late: Vec<(TopicPartition, i64)> =
                    pending.iter().map(|c| (c.tp.clone(), c.offset)).collect();
                tracing::warn!(
                    group = %self.settings.group_id,
                    "the broker did not confirm the commit of {} in time",
                    describe_offsets(&late)
                );
                break;
            }
            let refused: Vec<Commit> = {
                let mut state = self.shared.lock();
                pending
                    .drain(..)
                    .filter(|c| state.failed_commits.remove(&c.tp).is_some())
                    .collect()
            };
            if refused.is_empty() {
                break;
            }
            if Instant::now() + COMMIT_RETRY_BACKOFF >= deadline {
                let offsets: Vec<(TopicPartition, i64)> =
                    refused.iter().map(|c| (c.tp.clone(), c.offset)).collect();
                tracing::warn!(group = %self.settings.group_id, "the broker refused the commit of {}", describe_offsets(&offsets));
                break;
            }
            // A retry backoff, not synchronisation: the coordinator refused the commit.
            std::thread::sleep(COMMIT_RETRY_BACKOFF);
            self.send_commit(&refused, &[])?;
            pending = refused;
        }
        Ok(sent)
    }

    /// Sends the commits of partitions still assigned under the caller's epoch.
    fn send_commit(
        &self,
        offsets: &[Commit],
        processed: &[(TopicPartition, i64)],
    ) -> Result<Vec<(TopicPartition, i64)>, Error> {
        let mut sent = Vec::with_capacity(offsets.len());
        let mut state = self.shared.lock();
        for (tp, offset) in processed {
            state.processed.insert(tp.clone(), *offset);
        }
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for commit in offsets {
            let owned = state
                .assignment
                .get(&commit.tp)
                .is_some_and(|a| a.epoch == commit.epoch);
            if !owned {
                tracing::warn!(
                    group = %self.settings.group_id,
                    "not committing {}/{}@{}: the partition is no longer assigned here",
                    commit.tp.0,
                    commit.tp.1,
                    commit.offset
                );
                continue;
            }
            if let Some(earlier) = state.commits_in_flight.get(&commit.tp) {
                // Sent later, once the earlier commit's result is in: never two at once.
                tracing::debug!(
                    group = %self.settings.group_id,
                    "holding the commit of {}/{}@{}: {earlier} has no result yet",
                    commit.tp.0,
                    commit.tp.1,
                    commit.offset
                );
                continue;
            }
            let (topic, partition) = &commit.tp;
            let mut elem = tpl.add_partition(topic, *partition);
            elem.set_offset(Offset::Offset(commit.offset))
                .map_err(|e| {
                    Error::kafka(
                        format!("committing {topic}/{partition}@{}", commit.offset),
                        e,
                    )
                })?;
            elem.set_metadata(self.settings.commit_metadata.as_str());
            state.failed_commits.remove(&commit.tp);
            state
                .commits_in_flight
                .insert(commit.tp.clone(), commit.offset);
            sent.push((commit.tp.clone(), commit.offset));
        }
        if !sent.is_empty() {
            super::native_commit::commit_async(&self.consumer, &tpl).map_err(|source| {
                Error::Commit {
                    group: self.settings.group_id.clone(),
                    offsets: describe_offsets(&sent),
                    source: Box::new(source),
                }
            })?;
        }
        Ok(sent)
    }

    /// Pauses (or resumes) fetching `partitions` that are still assigned here.
    pub(crate) fn pause(&self, partitions: &[TopicPartition], pause: bool) {
        let state = self.shared.lock();
        let mut tpl = TopicPartitionList::new();
        for (topic, partition) in partitions
            .iter()
            .filter(|tp| state.assignment.contains_key(*tp))
        {
            tpl.add_partition(topic, *partition);
        }
        drop(state);
        if tpl.count() == 0 {
            return;
        }
        let result = if pause {
            self.consumer.pause(&tpl)
        } else {
            self.consumer.resume(&tpl)
        };
        if let Err(err) = result {
            tracing::warn!(group = %self.settings.group_id, "{} failed: {err}", if pause { "pausing" } else { "resuming" });
        }
    }

    /// Takes the commits the broker refused for `partitions`.
    pub(crate) fn take_failed_commits(
        &self,
        partitions: &[TopicPartition],
    ) -> Vec<(TopicPartition, i64)> {
        let mut state = self.shared.lock();
        if state.failed_commits.is_empty() {
            return Vec::new();
        }
        partitions
            .iter()
            .filter_map(|tp| state.failed_commits.remove(tp).map(|o| (tp.clone(), o)))
            .collect()
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Queues hold the consumer; release them so dropping it closes the consumer, which
        // leaves the group.
        {
            let mut state = self.shared.lock();
            state.assignment.clear();
            state.handles.clear();
        }
        tracing::info!(group = %self.settings.group_id, "leaving the group");
    }
}

/// The group thread: serves rebalance callbacks, commit results and errors until stopped.
fn serve_group(consumer: &BaseConsumer<GroupContext>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        match consumer.poll(GROUP_POLL) {
            None => {}
            Some(Ok(message)) => {
                // Queues are split before partitions are assigned, so no record should reach
                // the group queue. If one does, rewind its partition so it is fetched again
                // rather than lost, and report it.
                let (topic, partition, offset) = (
                    message.topic().to_owned(),
                    message.partition(),
                    message.offset(),
                );
                drop(message);
                let report = format!(
                    "{topic}/{partition}@{offset} was read on the group queue; rewinding it"
                );
                tracing::error!("{report}");
                consumer.context().shared.record_error(report);
                if let Err(err) = consumer.seek(
                    &topic,
                    partition,
                    Offset::Offset(offset),
                    Duration::from_secs(5),
                ) {
                    let message =
                        format!("rewinding {topic}/{partition} to {offset} failed: {err}");
                    tracing::error!("{message}");
                    consumer.context().shared.record_error(message);
                }
            }
            Some(Err(err)) => {
                tracing::warn!(group = %consumer.context().shared.group_id, "consumer error: {err}");
                consumer.context().shared.record_error(err.to_string());
            }
        }
    }
}

/// A token that differs between memberships and processes: std's per-process random hash
/// keys, mixed with the process id and the current time.
fn random_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}
