//! State shared between the group thread, the workers' sources and user handles.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use timely::scheduling::SyncActivator;

use super::idle::IdleClock;
use super::native_commit::PartitionCommitResult;
use super::ownership::deal;
use super::partition_queue::FetchedEnd;
use super::snapshot::{HaltedPartition, PartitionStatus, SourceProgress};
use super::start::LogBounds;
use super::worker_queue::WorkerQueue;
use super::NativePartitionQueue;
use crate::error::Error;
use crate::metrics::{GroupMetrics, SourceMetrics};
use crate::metrics::{PartitionInputs, PartitionRead, ReadCounts};
use crate::position::TopicPartition;

/// Marks a partition not yet dealt to a worker.
const UNDEALT: usize = usize::MAX;

/// A partition's queue, kept for the membership's lifetime: one handle per partition.
pub(crate) struct PartitionHandle {
    queue: NativePartitionQueue,
    /// The local rank of the worker that reads it.
    pub owner: Arc<AtomicUsize>,
    /// The assignment epoch it is read under, 0 while unassigned. A reader holds this lock
    /// while it takes the partition's records from its worker queue, and a revoke takes it
    /// before releasing the partition: no reader of an older assignment takes records once
    /// the partition is revoked.
    epoch: Mutex<u64>,
    /// Records and bytes read from it, over every assignment (for metrics).
    pub reads: ReadCounts,
}

impl PartitionHandle {
    pub(crate) fn new(queue: NativePartitionQueue, owner: Arc<AtomicUsize>) -> Self {
        PartitionHandle {
            queue,
            owner,
            epoch: Mutex::new(0),
            reads: ReadCounts::default(),
        }
    }

    /// Holds the epoch lock if the partition is still assigned under `epoch`; `None` if the
    /// assignment moved on.
    pub(crate) fn reading(&self, epoch: u64) -> Option<MutexGuard<'_, u64>> {
        let current = self.epoch.lock().unwrap_or_else(|e| e.into_inner());
        (*current == epoch).then_some(current)
    }

    /// Whether the partition is assigned under `epoch` now.
    pub(crate) fn is_read_under(&self, epoch: u64) -> bool {
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner()) == epoch
    }

    /// Where the application and the partition's end stood, from librdkafka's cache.
    pub(crate) fn fetched_end(&self) -> FetchedEnd {
        self.queue.fetched_end()
    }

    /// Sends the partition's records to `worker`'s queue from now on.
    pub(crate) fn forward_to(&self, worker: &WorkerQueue) {
        self.queue.forward_to(worker);
    }

    pub(crate) fn set_epoch(&self, epoch: u64) {
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner()) = epoch;
    }
}

/// A partition assigned to this process and dealt to one local worker, as that worker sees it.
pub(crate) struct OwnedAssignment {
    pub topic_partition: TopicPartition,
    pub handle: Arc<PartitionHandle>,
    /// Distinguishes this assignment of the partition from earlier ones.
    pub epoch: u64,
    /// Revoked under this epoch and draining before its release.
    pub revoking: bool,
    /// The group's committed offset when it was assigned, if known: commits never go below.
    pub committed_at_start: Option<i64>,
    /// Where it starts and where its log ended when it was assigned.
    pub bounds: LogBounds,
}

/// A revoked partition draining before its release.
pub(crate) struct Revoking {
    /// The assignment epoch being revoked.
    pub epoch: u64,
    /// Set by the owning worker once its in-flight records are done.
    pub done: bool,
    /// The offset after the last record processed under this epoch, as the owning worker
    /// last reported it: what the partition's final commit commits before its release.
    pub position: Option<i64>,
}

/// A commit sent and not yet answered (at most one per partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SentCommit {
    pub offset: i64,
    /// The assignment epoch it was sent under.
    pub epoch: u64,
    /// Tells this commit apart from every other one of this membership.
    pub seq: u64,
    /// When it was sent (for the commit latency metric).
    pub sent_at: std::time::Instant,
}

/// The broker's answer to a partition's last answered commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CommitAnswer {
    pub commit: SentCommit,
    pub accepted: bool,
}

/// A partition assigned to this process.
pub(crate) struct AssignedPartition {
    pub handle: Arc<PartitionHandle>,
    /// Distinguishes this assignment of the partition from earlier ones.
    pub epoch: u64,
    /// The group's committed offset when it was assigned, if known: commits never go below.
    pub committed_at_start: Option<i64>,
    /// Where it starts and where its log ended when it was assigned, where the broker said.
    pub bounds: LogBounds,
}

/// Mutable group state, behind one lock.
#[derive(Default)]
pub(crate) struct GroupState {
    /// Partitions assigned to this process.
    pub assignment: BTreeMap<TopicPartition, AssignedPartition>,
    /// Revoked partitions whose in-flight records are draining before release.
    pub revoking: BTreeMap<TopicPartition, Revoking>,
    /// Queue handles of every partition ever assigned.
    pub handles: HashMap<TopicPartition, Arc<PartitionHandle>>,
    /// Each local worker's queue, by local rank, created when the last worker registers.
    pub worker_queues: Vec<Arc<WorkerQueue>>,
    /// The last assignment epoch handed out.
    pub last_epoch: u64,
    /// Local worker count and registered workers' activators, by local rank.
    pub local_workers: Option<usize>,
    pub registered: usize,
    pub subscribed: bool,
    /// Processed and acknowledged-committed offsets per partition.
    pub processed: BTreeMap<TopicPartition, i64>,
    pub committed: BTreeMap<TopicPartition, i64>,
    /// Commits the broker refused, to be sent again by their owner.
    pub failed_commits: HashMap<TopicPartition, i64>,
    /// Each partition's commit that was sent and has no result yet. At most one per
    /// partition: librdkafka retries a commit by itself (after a timeout, say), and a
    /// retried older commit landing after a newer one would move the group backwards.
    pub commits_in_flight: HashMap<TopicPartition, SentCommit>,
    /// Each partition's last answered commit: a wait for one commit's answer looks here,
    /// never at `committed` (a maximum over every ownership of the partition).
    pub commit_answers: HashMap<TopicPartition, CommitAnswer>,
    /// The last commit sequence number handed out.
    pub last_commit_seq: u64,
    pub last_error: Option<Error>,
    /// The error that stopped the source (a lifecycle hook's), if any.
    pub fatal: Option<Error>,
    /// First failed offset of partitions whose commits are halted.
    pub halted: BTreeMap<TopicPartition, HaltedPartition>,
    /// Since when the process has been caught up with nothing new arriving.
    pub idle: IdleClock,
}

/// What the group thread, the sources and the user's handles share. It holds no reference
/// to the consumer itself, so a handle kept after shutdown does not keep the group joined.
pub(crate) struct GroupShared {
    pub group_id: String,
    /// The source's counters (see [`crate::metrics`]).
    pub metrics: GroupMetrics,
    state: Mutex<GroupState>,
    /// Signalled whenever a commit result arrives.
    commit_results: Condvar,
    /// Signalled whenever a revoked partition finishes draining.
    revocations: Condvar,
    /// Bumped whenever the assignment changes; sources compare it on every activation.
    version: AtomicU64,
    shutdown: AtomicBool,
    /// Shutdown without waiting for in-flight records.
    abort: AtomicBool,
    /// Local sources that have made their final commit.
    closed: AtomicUsize,
    activators: Mutex<Vec<Option<SyncActivator>>>,
    /// Why the last connection failed (librdkafka's error callback), for
    /// `Error::BrokersUnreachable`. Its own lock: the callback may run while the state's is
    /// held.
    connection_error: Mutex<Option<String>>,
}

impl GroupShared {
    pub(crate) fn new(group_id: String) -> Self {
        GroupShared {
            metrics: GroupMetrics::new(&group_id),
            group_id,
            state: Mutex::new(GroupState::default()),
            commit_results: Condvar::new(),
            revocations: Condvar::new(),
            version: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            closed: AtomicUsize::new(0),
            activators: Mutex::new(Vec::new()),
            connection_error: Mutex::new(None),
        }
    }

    /// Locks the group state. A panic elsewhere while holding the lock does not make the
    /// state unusable: it is only bookkeeping, so recover it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Local worker `rank` of `workers` reports whether its partitions are at their end with
    /// nothing in flight.
    /// The report is about the assignment as of `version`; one about an older assignment (the
    /// assignment changed while the worker looked) is ignored: the worker reports again once
    /// it has synced.
    pub(crate) fn report_caught_up(
        &self,
        rank: usize,
        workers: usize,
        caught_up: bool,
        version: Option<u64>,
    ) {
        let mut state = self.lock();
        if version == Some(self.version()) {
            state.idle.report(rank, workers, caught_up);
        }
    }

    /// How long the process's source has been idle (see [`IdleClock`]).
    pub(crate) fn idle_for(&self) -> std::time::Duration {
        self.lock().idle.idle_for()
    }

    /// Called with the state locked after the assignment changed: deals new partitions to
    /// the local workers (existing owners stay), forwards each new one's queue to its
    /// owner's worker queue, and wakes everyone.
    pub(crate) fn assignment_changed(&self, state: &mut GroupState) {
        let workers = state.local_workers.unwrap_or(1);
        let current: BTreeMap<TopicPartition, Option<usize>> = state
            .assignment
            .iter()
            .map(|(tp, a)| {
                (
                    tp.clone(),
                    Some(a.handle.owner.load(Ordering::Acquire)).filter(|o| *o != UNDEALT),
                )
            })
            .collect();
        for (tp, rank) in deal(&current, workers) {
            let Some(assigned) = state.assignment.get(&tp) else {
                continue;
            };
            if current.get(&tp).is_some_and(Option::is_some) {
                // Kept: its queue already forwards to its owner.
                continue;
            }
            assigned.handle.owner.store(rank, Ordering::Release);
            match state.worker_queues.get(rank) {
                Some(queue) => assigned.handle.forward_to(queue),
                None => tracing::error!(
                    group = %self.group_id,
                    "{tp}: dealt to worker {rank} before its queue exists; it is not read"
                ),
            }
        }
        self.version.fetch_add(1, Ordering::AcqRel);
        self.wake_all();
    }

    /// A new assignment epoch.
    pub(crate) fn next_epoch(state: &mut GroupState) -> u64 {
        state.last_epoch += 1;
        state.last_epoch
    }

    /// Marks a partition undealt, so the next deal gives it to the least-loaded worker.
    pub(crate) fn undealt() -> usize {
        UNDEALT
    }

    /// Reports a revoked partition's processed position under `epoch`, and whether its
    /// in-flight records are done (then it is drained, and `position` is final).
    pub(crate) fn revoke_progress(
        &self,
        tp: &TopicPartition,
        epoch: u64,
        position: Option<i64>,
        done: bool,
    ) {
        let mut state = self.lock();
        if let Some(r) = state.revoking.get_mut(tp).filter(|r| r.epoch == epoch) {
            if position.is_some() {
                r.position = position;
            }
            r.done |= done;
        }
        drop(state);
        if done {
            self.revocations.notify_all();
        }
    }

    /// Waits until every partition in `partitions` that is draining has drained, every
    /// local source has closed (none is left to drain them), or `deadline`. Returns the
    /// partitions that did not drain.
    pub(crate) fn wait_revoked(
        &self,
        partitions: &[TopicPartition],
        deadline: std::time::Instant,
    ) -> Vec<TopicPartition> {
        let mut state = self.lock();
        loop {
            let pending: Vec<TopicPartition> = partitions
                .iter()
                .filter(|tp| state.revoking.get(*tp).is_some_and(|r| !r.done))
                .cloned()
                .collect();
            let now = std::time::Instant::now();
            let closed = state
                .local_workers
                .is_some_and(|n| self.closed.load(Ordering::Acquire) >= n);
            if pending.is_empty() || now >= deadline || closed {
                return pending;
            }
            state = self
                .revocations
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Bumps the version without re-dealing, so workers look at the state again.
    pub(crate) fn state_changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.wake_all();
    }

    /// Hands out the sequence number of a commit about to be sent.
    pub(crate) fn next_commit_seq(state: &mut GroupState) -> u64 {
        state.last_commit_seq += 1;
        state.last_commit_seq
    }

    /// Records the broker's answer to commits (`result` for the request, then each
    /// partition's own) and wakes threads waiting for commit results.
    pub(crate) fn commit_answered(
        &self,
        result: &rdkafka::error::KafkaResult<()>,
        partitions: &[PartitionCommitResult],
    ) {
        tracing::debug!(group = %self.group_id, ?result, "commit result for {} partition(s)", partitions.len());
        let now = std::time::Instant::now();
        let mut first_sent: Option<std::time::Instant> = None;
        let mut succeeded = 0u64;
        let mut state = self.lock();
        for elem in partitions {
            let offset = elem.position.offset;
            if offset < 0 {
                continue;
            }
            let tp = elem.position.topic_partition.clone();
            let sent = state
                .commits_in_flight
                .get(&tp)
                .copied()
                .filter(|c| c.offset == offset);
            if sent.is_some() {
                state.commits_in_flight.remove(&tp);
            }
            let outcome = match (result, &elem.result) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), partition_result) => partition_result.clone(),
            };
            if let Some(commit) = sent {
                first_sent = Some(first_sent.map_or(commit.sent_at, |t| t.min(commit.sent_at)));
                state.commit_answers.insert(
                    tp.clone(),
                    CommitAnswer {
                        commit,
                        accepted: outcome.is_ok(),
                    },
                );
            }
            match outcome {
                Ok(()) => {
                    succeeded += 1;
                    let entry = state.committed.entry(tp).or_insert(offset);
                    *entry = (*entry).max(offset);
                }
                Err(err) => {
                    self.metrics.commits_failed(&err, 1);
                    let error = Error::Commit {
                        group: self.group_id.clone(),
                        offsets: tp.at(offset).to_string(),
                        source: Box::new(err),
                    };
                    tracing::warn!("{error}; it will be retried");
                    state.last_error = Some(error);
                    state.failed_commits.insert(tp, offset);
                }
            }
        }
        drop(state);
        self.metrics.commits_succeeded(succeeded);
        if let Some(sent_at) = first_sent {
            self.metrics
                .commit_answered(now.saturating_duration_since(sent_at));
        }
        self.commit_results.notify_all();
    }

    /// Waits (releasing the lock) until `done` holds for the state or `deadline` passes.
    /// Returns whether `done` held.
    pub(crate) fn wait_for_commits(
        &self,
        deadline: std::time::Instant,
        mut done: impl FnMut(&GroupState) -> bool,
    ) -> bool {
        let mut state = self.lock();
        loop {
            if done(&state) {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .commit_results
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Registers the activator of the source on local worker `rank`.
    pub(crate) fn set_activator(&self, rank: usize, workers: usize, activator: SyncActivator) {
        let mut activators = self.activators.lock().unwrap_or_else(|e| e.into_inner());
        if activators.len() < workers {
            activators.resize_with(workers, || None);
        }
        activators[rank] = Some(activator);
    }

    /// Wakes the source on local worker `rank`.
    pub(crate) fn wake(&self, rank: usize) {
        let activators = self.activators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Some(activator)) = activators.get(rank) {
            // An error means the worker has shut down; nothing is left to wake.
            let _ = activator.activate();
        }
    }

    /// Wakes every local source.
    pub(crate) fn wake_all(&self) {
        let activators = self.activators.lock().unwrap_or_else(|e| e.into_inner());
        for activator in activators.iter().flatten() {
            let _ = activator.activate();
        }
    }

    /// Asks every local source to stop fetching, drain and commit. A revoke under way keeps
    /// waiting for its partitions: the draining sources report them as before.
    pub(crate) fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::Release);
        self.wake_all();
    }

    pub(crate) fn shutdown_requested(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Asks every local source to stop at once: commit what is fully processed, without
    /// waiting for in-flight records.
    pub(crate) fn request_abort(&self) {
        self.abort.store(true, Ordering::Release);
        self.request_shutdown();
    }

    pub(crate) fn abort_requested(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }

    /// Notes that a local source made its final commit. A revoke waiting for drains stops
    /// waiting once every local source has.
    pub(crate) fn source_closed(&self) {
        self.closed.fetch_add(1, Ordering::AcqRel);
        // Under the lock a waiting revoke checks the count with: no wake-up is lost.
        drop(self.lock());
        self.revocations.notify_all();
    }

    /// Whether every local source has made its final commit.
    pub(crate) fn all_closed(&self) -> bool {
        let workers = self.lock().local_workers;
        workers.is_some_and(|n| self.closed.load(Ordering::Acquire) >= n)
    }

    /// Something the sources cannot go on from (a lifecycle hook failed, the group refused
    /// this member for good): stop them with its error.
    pub(crate) fn fail(&self, error: Error) {
        tracing::error!(group = %self.group_id, "{error}; stopping the source");
        {
            let mut state = self.lock();
            state.last_error = Some(error.clone());
            state.fatal.get_or_insert(error);
        }
        self.request_abort();
    }

    /// The error that stopped the source, if any.
    pub(crate) fn fatal(&self) -> Option<Error> {
        self.lock().fatal.clone()
    }

    /// Records why a connection failed, as librdkafka's error callback says it.
    pub(crate) fn record_connection_error(&self, reason: &str) {
        *self
            .connection_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(reason.to_owned());
    }

    /// The last reason a connection failed, if any.
    pub(crate) fn connection_error(&self) -> Option<String> {
        self.connection_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Local worker `rank`'s queue, once every local worker has registered.
    pub(crate) fn worker_queue(&self, rank: usize) -> Option<Arc<WorkerQueue>> {
        self.lock().worker_queues.get(rank).cloned()
    }

    /// Records an error for [`SourceProgress::last_error`].
    pub(crate) fn record_error(&self, error: Error) {
        self.lock().last_error = Some(error);
    }

    /// The partitions local worker `rank` reads, with the assignment version they are as of.
    pub(crate) fn owned_by(&self, rank: usize) -> (u64, Vec<OwnedAssignment>) {
        let state = self.lock();
        let version = self.version();
        let owned = state
            .assignment
            .iter()
            .filter(|(_, assigned)| assigned.handle.owner.load(Ordering::Acquire) == rank)
            .map(|(tp, assigned)| OwnedAssignment {
                topic_partition: tp.clone(),
                handle: Arc::clone(&assigned.handle),
                epoch: assigned.epoch,
                revoking: state
                    .revoking
                    .get(tp)
                    .is_some_and(|r| r.epoch == assigned.epoch),
                committed_at_start: assigned.committed_at_start,
                bounds: assigned.bounds,
            })
            .collect();
        (version, owned)
    }

    pub(crate) fn progress(&self) -> SourceProgress {
        let state = self.lock();
        let mut partitions: BTreeMap<&TopicPartition, PartitionStatus> = BTreeMap::new();
        for (tp, offset) in &state.processed {
            partitions.entry(tp).or_insert_with(|| status(tp)).processed = Some(*offset);
        }
        for (tp, offset) in &state.committed {
            partitions.entry(tp).or_insert_with(|| status(tp)).committed = Some(*offset);
        }
        SourceProgress {
            joined: state.subscribed,
            generation: self.version(),
            assigned: state.assignment.keys().cloned().collect(),
            partitions: partitions.into_values().collect(),
            last_error: state.last_error.clone(),
            halted: state.halted.values().cloned().collect(),
        }
    }

    /// A snapshot of the source's figures (see [`crate::metrics`]), with the read counts of
    /// every partition this process ever read. librdkafka's cached high watermarks are read
    /// outside the state's lock.
    pub(crate) fn metrics_with_reads(&self) -> MetricsReading {
        let (assigned, handles, halted, prefetched) = {
            let state = self.lock();
            let assigned: Vec<_> = state
                .assignment
                .iter()
                .map(|(tp, a)| {
                    // Both kept over every ownership of the partition here: never below
                    // where this assignment started.
                    let committed = later(state.committed.get(tp).copied(), a.committed_at_start);
                    let processed = later(state.processed.get(tp).copied(), committed);
                    let halted_at = state.halted.get(tp).map(|h| h.position.offset);
                    (
                        tp.clone(),
                        Arc::clone(&a.handle),
                        committed,
                        processed,
                        halted_at,
                    )
                })
                .collect();
            let handles: Vec<_> = state
                .handles
                .iter()
                .map(|(tp, h)| (tp.clone(), Arc::clone(h)))
                .collect();
            let prefetched = state.worker_queues.iter().map(|q| q.len()).sum::<u64>();
            (assigned, handles, state.halted.len() as u64, prefetched)
        };
        let partitions = assigned
            .into_iter()
            .map(|(tp, handle, committed, processed, halted_at)| {
                let (records_read, bytes_read) = handle.reads.get();
                PartitionInputs {
                    high_watermark: handle.fetched_end().high_watermark,
                    topic_partition: tp,
                    committed,
                    processed,
                    records_read,
                    bytes_read,
                    halted_at,
                }
            })
            .collect();
        let reads: Vec<PartitionRead> = handles
            .into_iter()
            .map(|(topic_partition, handle)| {
                let (records, bytes) = handle.reads.get();
                PartitionRead {
                    topic_partition,
                    records,
                    bytes,
                }
            })
            .collect();
        let totals = reads
            .iter()
            .fold((0, 0), |(r, b), read| (r + read.records, b + read.bytes));
        MetricsReading {
            snapshot: self
                .metrics
                .snapshot(partitions, totals, halted, prefetched),
            reads,
        }
    }

    /// Publishes the source's figures to the `metrics` facade if they are due (every
    /// 500 ms), or now with `force`. Called by the group thread.
    pub(crate) fn publish_metrics(&self, force: bool) {
        if force || self.metrics.publish_due() {
            let reading = self.metrics_with_reads();
            self.metrics.publish(&reading.snapshot, &reading.reads);
        }
    }

    /// Halts commits of a partition at `halt.position` (keeping the earliest failure).
    pub(crate) fn halt(&self, halt: HaltedPartition) {
        let mut state = self.lock();
        let tp = halt.position.topic_partition.clone();
        let earlier = state
            .halted
            .get(&tp)
            .is_none_or(|h| halt.position.offset < h.position.offset);
        if earlier {
            let error = Error::Halted {
                group: self.group_id.clone(),
                position: halt.position.clone(),
                error: halt.error.clone(),
            };
            if !state.halted.contains_key(&tp) {
                tracing::error!("{error}");
            }
            state.last_error = Some(error);
            state.halted.insert(tp, halt);
        }
    }

    /// The halt offsets of `partitions`, in order.
    pub(crate) fn halt_offsets(&self, partitions: &[TopicPartition]) -> Vec<Option<i64>> {
        let state = self.lock();
        if state.halted.is_empty() {
            return vec![None; partitions.len()];
        }
        partitions
            .iter()
            .map(|tp| state.halted.get(tp).map(|h| h.position.offset))
            .collect()
    }
}

/// The source's figures, and the read counts of every partition this process ever read.
pub(crate) struct MetricsReading {
    pub snapshot: SourceMetrics,
    pub reads: Vec<PartitionRead>,
}

/// The later of two offsets, either of which may be unknown.
fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn status(tp: &TopicPartition) -> PartitionStatus {
    PartitionStatus {
        topic_partition: tp.clone(),
        processed: None,
        committed: None,
    }
}
