//! [`Membership`]: the consumer, the thread that serves its group events, the thread that
//! serves its commit results, and commits.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::native_commit::CommitQueue;
use super::settings::GroupSettings;
use super::shared::{GroupShared, GroupState, SentCommit};
use super::worker_queue::WorkerQueue;
use super::GroupContext;
use crate::error::Error;
use crate::position::{Position, TopicPartition};

/// How long the group thread blocks in one `poll`; it bounds how late it notices a stop.
const GROUP_POLL: Duration = Duration::from_millis(100);
/// How long the final commit waits before sending a refused commit again.
const COMMIT_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// How long the commit thread blocks in one poll; it bounds how late it notices a stop.
const COMMIT_POLL: Duration = Duration::from_millis(100);

/// One consumer-group membership, shared by the local workers' sources.
pub(crate) struct Membership {
    pub consumer: Arc<BaseConsumer<GroupContext>>,
    pub shared: Arc<GroupShared>,
    settings: Arc<GroupSettings>,
    /// Identifies this membership among the workers of all processes (see discovery).
    pub token: u64,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Serves commit results, whatever the group thread is doing.
    commit_thread: Option<JoinHandle<()>>,
    /// The (global) indices of the workers that have built a source of this membership.
    sources: Mutex<HashSet<usize>>,
}

/// A worker's claim on a membership: one source per membership per worker. Released when
/// the source is dropped.
pub(crate) struct SourceClaim {
    membership: Arc<Membership>,
    worker: usize,
}

impl Drop for SourceClaim {
    fn drop(&mut self) {
        self.membership
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.worker);
    }
}

/// A commit that was sent.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub tp: TopicPartition,
    pub commit: SentCommit,
}

/// Whether `sent` has been answered, and if so whether the broker accepted it. A later
/// commit of the partition answered since then answers it too (an accepted later commit
/// at or past its offset covers it).
pub(crate) fn answer(state: &GroupState, sent: &Sent) -> Option<bool> {
    let last = state.commit_answers.get(&sent.tp)?;
    if last.commit.seq == sent.commit.seq {
        Some(last.accepted)
    } else if last.commit.seq > sent.commit.seq {
        Some(last.accepted && last.commit.offset >= sent.commit.offset)
    } else {
        None
    }
}

/// One partition's commit: the offset after its last processed record, and the assignment
/// epoch the caller read it under.
#[derive(Debug, Clone)]
pub(crate) struct Commit {
    pub position: Position,
    pub epoch: u64,
}

impl Commit {
    /// The partition committed.
    pub fn tp(&self) -> &TopicPartition {
        &self.position.topic_partition
    }
}

/// `topic/partition@offset` items, for logs and errors.
fn describe_offsets(offsets: &[Position]) -> String {
    offsets
        .iter()
        .map(Position::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Membership {
    /// Creates the consumer, checks that a broker answers within the connect timeout, and
    /// starts the group thread. The group is joined once every local worker has registered.
    ///
    /// `workers`, the dataflow's timely worker count, divides the prefetch budget among the
    /// worker queues (see `source/prefetch.rs`); it is at least the number of this process's
    /// workers, which is learned later.
    pub(crate) fn create(
        settings: Arc<GroupSettings>,
        workers: usize,
    ) -> Result<Arc<Membership>, Error> {
        let shared = Arc::new(GroupShared::new(settings.group_id.clone()));
        let context = GroupContext::new(Arc::clone(&shared), Arc::clone(&settings));
        let consumer: BaseConsumer<GroupContext> =
            crate::client::create(&settings.client_config(workers), context).map_err(|e| {
                Error::kafka(
                    format!("creating the consumer for group `{}`", settings.group_id),
                    e,
                )
            })?;
        // With OAUTHBEARER the first token is asked for on the event queue: serve it, or the
        // check below waits for a connection that waits for the token.
        crate::client::serve_startup_events(&consumer);
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
                // The connection errors wait on the client's queue: serve them, so the
                // context records why (TLS, authentication, refused).
                // (A served log or error event also reads as `None`: serve a bounded number.)
                for _ in 0..256 {
                    let _ = consumer.poll(Duration::ZERO);
                }
                return Err(Error::BrokersUnreachable {
                    brokers: settings.brokers.clone(),
                    waited: settings.connect_timeout,
                    source: Box::new(source),
                    cause: shared.connection_error(),
                });
            }
        }
        let limits = settings.prefetch_limits(workers);
        tracing::debug!(
            group = %settings.group_id,
            "prefetch: each of up to {workers} worker queue(s) holds at most {} bytes \
             (queued.max.messages.kbytes {}, queued.min.messages {}), plus one fetch response",
            limits.worker_bound(),
            limits.queued_max_kbytes,
            limits.queued_min_messages
        );
        let consumer = Arc::new(consumer);
        let commits = Arc::new(CommitQueue::new(&consumer));
        consumer
            .context()
            .set_consumer(&consumer, Arc::clone(&commits));
        let stop = Arc::new(AtomicBool::new(false));
        // On a failure below, the commit queue must go before the consumer's client does.
        let abandon = |commit_thread: Option<JoinHandle<()>>| {
            stop.store(true, Ordering::Release);
            if let Some(thread) = commit_thread {
                let _ = thread.join();
            }
            consumer.context().release_commit_queue();
        };
        let commit_thread = std::thread::Builder::new()
            .name(format!("kafka-commits-{}", settings.group_id))
            .spawn({
                let shared = Arc::clone(&shared);
                let stop = Arc::clone(&stop);
                move || {
                    while !stop.load(Ordering::Acquire) {
                        commits.serve(COMMIT_POLL, |result, offsets| {
                            shared.commit_answered(&result, offsets)
                        });
                    }
                }
            })
            .map_err(|e| {
                abandon(None);
                Error::Thread {
                    group: settings.group_id.clone(),
                    thread: "commit",
                    source: Arc::new(e),
                }
            })?;
        let thread = match std::thread::Builder::new()
            .name(format!("kafka-group-{}", settings.group_id))
            .spawn({
                let consumer = Arc::clone(&consumer);
                let stop = Arc::clone(&stop);
                move || serve_group(&consumer, &stop)
            }) {
            Ok(thread) => thread,
            Err(e) => {
                abandon(Some(commit_thread));
                return Err(Error::Thread {
                    group: settings.group_id.clone(),
                    thread: "group",
                    source: Arc::new(e),
                });
            }
        };
        Ok(Arc::new(Membership {
            consumer,
            shared,
            settings,
            token: random_token(),
            stop,
            thread: Some(thread),
            commit_thread: Some(commit_thread),
            sources: Mutex::new(HashSet::new()),
        }))
    }

    /// The group this membership belongs to.
    pub(crate) fn group_id(&self) -> &str {
        &self.settings.group_id
    }

    /// Claims this membership for a source on worker `worker` (its global index): a worker
    /// builds at most one source per membership, since a second would read the same
    /// partition queues.
    pub(crate) fn claim(self: &Arc<Self>, worker: usize) -> Result<SourceClaim, Error> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if !sources.insert(worker) {
            return Err(Error::SourceAlreadyBuilt {
                group: self.settings.group_id.clone(),
                worker,
            });
        }
        Ok(SourceClaim {
            membership: Arc::clone(self),
            worker,
        })
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
                return Err(Error::WorkerCount {
                    group: self.settings.group_id.clone(),
                    rank,
                    workers,
                    registered: n,
                })
            }
            _ => state.local_workers = Some(workers),
        }
        state.registered += 1;
        if state.registered == workers && !state.subscribed {
            // One queue per local worker, before any partition is assigned: each assigned
            // partition's records go to its owner's queue, which wakes the owner.
            state.worker_queues = (0..workers)
                .map(|rank| {
                    let shared = Arc::downgrade(&self.shared);
                    Arc::new(WorkerQueue::new(&self.consumer, move || {
                        if let Some(shared) = shared.upgrade() {
                            shared.wake(rank);
                        }
                    }))
                })
                .collect();
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
    /// commit), the caller then waits without the lock for the broker's answer to these very
    /// commits, sending refused ones again, until all are accepted or the deadline passes.
    /// Returns the offsets sent.
    pub(crate) fn commit(
        &self,
        offsets: &[Commit],
        processed: &[Position],
        wait: Option<Instant>,
    ) -> Result<Vec<Position>, Error> {
        let Some(deadline) = wait else {
            let sent = send_commits(
                &self.consumer,
                &self.shared,
                &self.settings,
                offsets,
                processed,
            )?;
            return Ok(sent.into_iter().map(|s| s.tp.at(s.commit.offset)).collect());
        };
        let sent = commit_and_wait(
            &self.consumer,
            &self.shared,
            &self.settings,
            offsets,
            processed,
            deadline,
            true,
        )?;
        Ok(sent.into_iter().map(|s| s.tp.at(s.commit.offset)).collect())
    }

    /// Takes the commits the broker refused for `partitions`.
    pub(crate) fn take_failed_commits(&self, partitions: &[TopicPartition]) -> Vec<Position> {
        let mut state = self.shared.lock();
        if state.failed_commits.is_empty() {
            return Vec::new();
        }
        partitions
            .iter()
            .filter_map(|tp| state.failed_commits.remove(tp).map(|o| tp.at(o)))
            .collect()
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(thread) = self.commit_thread.take() {
            let _ = thread.join();
        }
        // The final figures (the final commit's included).
        self.shared.publish_metrics(true);
        // The commit queue must go before the client it belongs to.
        self.consumer.context().release_commit_queue();
        // Queues hold the consumer; release them so dropping it closes the consumer, which
        // leaves the group.
        {
            let mut state = self.shared.lock();
            state.assignment.clear();
            state.handles.clear();
            state.worker_queues.clear();
        }
        tracing::info!(group = %self.settings.group_id, "leaving the group");
    }
}

/// Sends the commits of partitions still assigned under the caller's epoch, at most one in
/// flight per partition, and records `processed` for progress reports. Runs on a worker or
/// on the group thread (a revoked partition's final commit); never blocks on a result.
pub(crate) fn send_commits(
    consumer: &BaseConsumer<GroupContext>,
    shared: &GroupShared,
    settings: &GroupSettings,
    offsets: &[Commit],
    processed: &[Position],
) -> Result<Vec<Sent>, Error> {
    let mut sent = Vec::with_capacity(offsets.len());
    let mut state = shared.lock();
    for position in processed {
        state
            .processed
            .insert(position.topic_partition.clone(), position.offset);
    }
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for commit in offsets {
        let owned = state
            .assignment
            .get(commit.tp())
            .is_some_and(|a| a.epoch == commit.epoch);
        if !owned {
            tracing::warn!(
                group = %settings.group_id,
                "not committing {}: the partition is no longer assigned here",
                commit.position
            );
            continue;
        }
        if let Some(earlier) = state.commits_in_flight.get(commit.tp()) {
            // Sent later, once the earlier commit's result is in: never two at once.
            tracing::debug!(
                group = %settings.group_id,
                "holding the commit of {}: {} has no result yet",
                commit.position,
                earlier.offset
            );
            continue;
        }
        let tp = commit.tp();
        let mut elem = tpl.add_partition(&tp.topic, tp.partition);
        elem.set_offset(Offset::Offset(commit.position.offset))
            .map_err(|e| Error::kafka(format!("committing {}", commit.position), e))?;
        elem.set_metadata(settings.commit_metadata.as_str());
        state.failed_commits.remove(commit.tp());
        let sent_commit = SentCommit {
            offset: commit.position.offset,
            epoch: commit.epoch,
            seq: GroupShared::next_commit_seq(&mut state),
            sent_at: Instant::now(),
        };
        state
            .commits_in_flight
            .insert(commit.tp().clone(), sent_commit);
        sent.push(Sent {
            tp: commit.tp().clone(),
            commit: sent_commit,
        });
    }
    if !sent.is_empty() {
        let _span = tracing::debug_span!(
            "commit",
            group = %settings.group_id,
            generation = shared.metrics.generation(),
            partitions = %describe_sent(&sent),
        )
        .entered();
        shared.metrics.commits_sent(sent.len() as u64);
        let described: Vec<Position> = sent.iter().map(|s| s.tp.at(s.commit.offset)).collect();
        let error = |source| Error::Commit {
            group: settings.group_id.clone(),
            offsets: describe_offsets(&described),
            source: Box::new(source),
        };
        let Some(queue) = consumer.context().commit_queue() else {
            // The membership is closing; nothing will answer.
            for s in &sent {
                state.commits_in_flight.remove(&s.tp);
            }
            let source = rdkafka::error::KafkaError::Canceled;
            shared.metrics.commits_failed(&source, sent.len() as u64);
            return Err(error(source));
        };
        if let Err(source) = queue.commit_async(consumer, &tpl) {
            for s in &sent {
                state.commits_in_flight.remove(&s.tp);
            }
            shared.metrics.commits_failed(&source, sent.len() as u64);
            return Err(error(source));
        }
    }
    Ok(sent)
}

/// `topic/partition@offset` items of the commits sent, for spans.
fn describe_sent(sent: &[Sent]) -> String {
    sent.iter()
        .map(|s| s.tp.at(s.commit.offset).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sends `offsets` once no earlier commit of theirs awaits its answer (bounded by
/// `deadline`), and waits until `deadline` for the broker's answer to these very commits.
/// With `retry`, refused ones are sent again after a backoff while time is left. Returns
/// the commits sent (first sends only).
pub(crate) fn commit_and_wait(
    consumer: &BaseConsumer<GroupContext>,
    shared: &GroupShared,
    settings: &GroupSettings,
    offsets: &[Commit],
    processed: &[Position],
    deadline: Instant,
    retry: bool,
) -> Result<Vec<Sent>, Error> {
    // Never two commits of a partition at once: a commit held back behind an earlier one
    // is sent once that one's result is in (another thread may have sent it meanwhile).
    let mut first: Vec<Sent> = Vec::new();
    let mut unsent: Vec<Commit> = offsets.to_vec();
    loop {
        shared.wait_for_commits(deadline, |state| {
            unsent
                .iter()
                .all(|c| !state.commits_in_flight.contains_key(c.tp()))
        });
        let sent = send_commits(consumer, shared, settings, &unsent, processed)?;
        // By sequence number (unique per commit): a set, so a commit of thousands of
        // partitions is not O(P²).
        let sent_seqs: std::collections::HashSet<u64> = sent.iter().map(|s| s.commit.seq).collect();
        let state = shared.lock();
        unsent.retain(|c| {
            let held_back = state
                .commits_in_flight
                .get(c.tp())
                .is_some_and(|f| !sent_seqs.contains(&f.seq));
            let owned = state
                .assignment
                .get(c.tp())
                .is_some_and(|a| a.epoch == c.epoch);
            held_back && owned
        });
        drop(state);
        first.extend(sent);
        if unsent.is_empty() || Instant::now() >= deadline {
            break;
        }
    }
    let mut pending = first.clone();
    while !pending.is_empty() {
        let answered = shared.wait_for_commits(deadline, |state| {
            pending.iter().all(|s| answer(state, s).is_some())
        });
        if !answered {
            let late: Vec<Position> = pending
                .iter()
                .filter(|s| answer(&shared.lock(), s).is_none())
                .map(|s| s.tp.at(s.commit.offset))
                .collect();
            tracing::warn!(
                group = %settings.group_id,
                "the broker did not answer the commit of {} in time",
                describe_offsets(&late)
            );
            break;
        }
        let refused: Vec<Commit> = {
            let mut state = shared.lock();
            let refused: Vec<Commit> = pending
                .iter()
                .filter(|s| answer(&state, s) == Some(false))
                .map(|s| Commit {
                    position: s.tp.at(s.commit.offset),
                    epoch: s.commit.epoch,
                })
                .collect();
            for c in &refused {
                // Sent again here, not by the worker.
                if state.failed_commits.get(c.tp()) == Some(&c.position.offset) {
                    state.failed_commits.remove(c.tp());
                }
            }
            refused
        };
        if refused.is_empty() {
            break;
        }
        if !retry || Instant::now() + COMMIT_RETRY_BACKOFF >= deadline {
            let offsets: Vec<Position> = refused.iter().map(|c| c.position.clone()).collect();
            tracing::warn!(group = %settings.group_id, "the broker refused the commit of {}", describe_offsets(&offsets));
            break;
        }
        // A retry backoff, not synchronisation: the coordinator refused the commit.
        std::thread::sleep(COMMIT_RETRY_BACKOFF);
        pending = send_commits(consumer, shared, settings, &refused, &[])?;
    }
    Ok(first)
}

/// The group thread: serves rebalance callbacks and errors until stopped.
fn serve_group(consumer: &BaseConsumer<GroupContext>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        consumer.context().settle_if_joined_with_nothing(consumer);
        // Every 500 ms: the figures a scrape or a snapshot reads.
        consumer.context().shared.publish_metrics(false);
        match consumer.poll(GROUP_POLL) {
            None => {}
            Some(Ok(message)) => {
                // Queues are split before partitions are assigned, so no record should reach
                // the group queue. If one does, rewind its partition so it is fetched again
                // rather than lost, and report it.
                let position =
                    Position::new(message.topic(), message.partition(), message.offset());
                drop(message);
                let stray = Error::StrayRecord {
                    position: position.clone(),
                };
                tracing::error!("{stray}");
                consumer.context().shared.record_error(stray);
                if let Err(err) = consumer.seek(
                    position.topic(),
                    position.partition(),
                    Offset::Offset(position.offset),
                    Duration::from_secs(5),
                ) {
                    let error = Error::kafka(format!("rewinding {position}"), err);
                    tracing::error!("{error}");
                    consumer.context().shared.record_error(error);
                }
            }
            Some(Err(err)) => {
                let shared = &consumer.context().shared;
                match refusal(&err) {
                    Some(reason) => shared.fail(Error::GroupRefused {
                        group: shared.group_id.clone(),
                        reason,
                        source: Box::new(err),
                    }),
                    None => {
                        tracing::warn!(group = %shared.group_id, "consumer error: {err}");
                        shared.record_error(Error::kafka(
                            format!("group `{}`: consuming", shared.group_id),
                            err,
                        ));
                    }
                }
            }
        }
    }
}

/// The group's errors that no retry can cure, as what the refusal means; `None` for the
/// errors librdkafka retries by itself. Without this, librdkafka would rejoin every few
/// seconds, refused each time, and the source would wait forever for an assignment.
fn refusal(err: &rdkafka::error::KafkaError) -> Option<&'static str> {
    use rdkafka::error::RDKafkaErrorCode as Code;
    let why = match err.rdkafka_error_code()? {
        Code::InvalidSessionTimeout => {
            "the broker refused `session.timeout.ms`: it must lie within the broker's \
             group.min.session.timeout.ms and group.max.session.timeout.ms (Kafka's defaults: \
             6 s and 30 min)"
        }
        Code::GroupAuthorizationFailed => "this client is not authorized to use the group",
        Code::InvalidGroupId => "the broker refused the group id",
        Code::GroupMaxSizeReached => "the group is full (the broker's group.max.size)",
        Code::InconsistentGroupProtocol => {
            "the group's members use different group protocols or assignors"
        }
        Code::UnsupportedAssignor => "the broker does not support the configured assignor",
        Code::FencedInstanceId => {
            "another member with the same `group.instance.id` joined the group"
        }
        Code::Fatal => "librdkafka raised a fatal error",
        _ => return None,
    };
    Some(why)
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
