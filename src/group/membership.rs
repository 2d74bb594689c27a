//! [`Membership`]: the consumer, the thread that serves its group events, and commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::shared::GroupShared;
use super::GroupContext;
use crate::config::SourceSettings;
use crate::error::Error;
use crate::ownership::TopicPartition;

/// How long the group thread blocks in one `poll`; it bounds how late it notices a stop.
const GROUP_POLL: Duration = Duration::from_millis(100);

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

/// The outcome of a commit request.
pub(crate) enum CommitOutcome {
    /// Handed to librdkafka (asynchronous) or acknowledged (synchronous).
    Sent,
    /// The assignment changed since the caller last looked; nothing was sent.
    Stale,
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

    /// Commits `offsets` (each the offset after the last processed record) if the caller's
    /// view of the assignment (`version`) is current. Returns the commits the broker refused
    /// earlier for these partitions, so the caller can send them again.
    pub(crate) fn commit(
        &self,
        version: u64,
        offsets: &[(TopicPartition, i64)],
        processed: &[(TopicPartition, i64)],
        mode: CommitMode,
    ) -> Result<CommitOutcome, Error> {
        let mut state = self.shared.lock();
        for (tp, offset) in processed {
            state.processed.insert(tp.clone(), *offset);
        }
        if offsets.is_empty() {
            return Ok(CommitOutcome::Sent);
        }
        // Under the lock, so a revoke cannot slip in between the check and the commit.
        if self.shared.version() != version
            || offsets.iter().any(|(tp, _)| !state.assignment.contains(tp))
        {
            return Ok(CommitOutcome::Stale);
        }
        let mut tpl = TopicPartitionList::with_capacity(offsets.len());
        for ((topic, partition), offset) in offsets {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| Error::kafka(format!("committing {topic}/{partition}@{offset}"), e))?;
            state.failed_commits.remove(&(topic.clone(), *partition));
        }
        let result = self.consumer.commit(&tpl, mode);
        match (result, mode) {
            (Ok(()), CommitMode::Sync) => {
                for (tp, offset) in offsets {
                    let entry = state.committed.entry(tp.clone()).or_insert(*offset);
                    *entry = (*entry).max(*offset);
                }
                Ok(CommitOutcome::Sent)
            }
            (Ok(()), CommitMode::Async) => Ok(CommitOutcome::Sent),
            (Err(source), _) => Err(Error::Commit {
                group: self.settings.group_id.clone(),
                offsets: offsets
                    .iter()
                    .map(|((t, p), o)| format!("{t}/{p}@{o}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                source: Box::new(source),
            }),
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
        self.shared.lock().queues.clear();
        tracing::info!(group = %self.settings.group_id, "leaving the group");
    }
}

/// The group thread: serves rebalance callbacks, commit results and errors until stopped.
fn serve_group(consumer: &BaseConsumer<GroupContext>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        match consumer.poll(GROUP_POLL) {
            None => {}
            Some(Ok(message)) => {
                // A record fetched before its partition's queue was split. Rewind so it is
                // fetched again into the partition's own queue; nothing is skipped.
                let (topic, partition, offset) = (
                    message.topic().to_owned(),
                    message.partition(),
                    message.offset(),
                );
                drop(message);
                tracing::debug!(
                    "rewinding {topic}/{partition} to {offset}: read on the group queue"
                );
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
