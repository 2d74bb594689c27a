//! The per-worker source operator: read owned partitions, stamp ticks, commit behind the
//! frontier.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::{Scope, StreamVec};
use timely::scheduling::Activator;

use super::budget::InFlight;
use super::clock::TickClock;
use super::config::{CommitCadence, SourceSettings};
use super::discovery::{discover_local_rank, LocalRank};
use super::progress::PartitionProgress;
use super::CommitProbes;
use crate::error::Error;
use crate::group::{
    Commit, FetchedEnd, Membership, Message, PartitionHandle, SourceClaim, WorkerQueue,
    WORKER_QUEUE_BATCH,
};
use crate::position::{Position, TopicPartition};
use crate::record::KafkaRecord;
use rdkafka::error::KafkaError;

/// The first wait of a worker stopped at its in-flight bound before it looks at the
/// frontier again.
const STALLED_POLL: Duration = Duration::from_millis(1);

/// How often, at most, the ends of partitions that read nothing are looked at again (once a
/// tick if that is sooner).
const END_SWEEP: Duration = Duration::from_millis(100);

/// How long the final commit waits for the broker's answer.
const FINAL_COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A partition this worker reads.
struct OwnedPartition {
    tp: TopicPartition,
    handle: Arc<PartitionHandle>,
    /// The assignment this progress belongs to; a new assignment starts fresh progress.
    epoch: u64,
    /// Revoked: no more reading; commit once in-flight records are done, then let go.
    revoking: bool,
    /// The offset after the last record read, or the offset it started from.
    next: Option<i64>,
    /// Where its log ended when it was assigned: it is not caught up before reaching it.
    end_at_assign: Option<i64>,
    /// Everything fetchable was read: the worker's queue was empty and its position had
    /// reached the high watermark of its last fetch. Cleared by the next record.
    at_end: bool,
    /// Records were read since its end was last checked: check it when the queue drains.
    check_end: bool,
    progress: PartitionProgress,
}

/// What the source is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting to learn the local worker count.
    Discovering,
    /// Reading and emitting records.
    Running,
    /// Shutdown requested: no more records; waiting for in-flight ones until the deadline.
    Draining { deadline: Instant },
    /// Final commit done.
    Done,
}

/// Builds the source operator on this worker and returns its record stream.
pub(crate) fn build_source<'scope>(
    scope: Scope<'scope, u64>,
    membership: Arc<Membership>,
    settings: SourceSettings,
    claim: SourceClaim,
    commit_probes: Rc<RefCell<CommitProbes>>,
) -> StreamVec<'scope, u64, KafkaRecord> {
    let mut builder = OperatorBuilder::new("KafkaSource".to_owned(), scope);
    let info = builder.operator_info();
    let (output, stream) = builder.new_output::<Vec<KafkaRecord>>();
    let mut output = OutputBuilder::<_, CapacityContainerBuilder<Vec<KafkaRecord>>>::from(output);
    let activator = scope.activator_for(Rc::clone(&info.address));
    let sync_activator = scope.worker().sync_activator_for(info.address.to_vec());

    let found = Rc::new(Cell::new(None));
    discover_local_rank(
        scope,
        membership.token,
        Rc::clone(&found),
        activator.clone(),
    );

    let mut reader = SourceReader::new(membership, settings, claim, commit_probes, activator);
    builder.build_reschedule(move |mut capabilities| {
        let mut capability = capabilities.pop();
        let mut sync_activator = Some(sync_activator);
        move |_frontiers| {
            if reader.phase == Phase::Discovering {
                match found.get() {
                    Some(rank) => reader.start(rank, sync_activator.take()),
                    None => return true,
                }
            }
            let mut output = output.activate();
            reader.step(&mut capability, |cap, records| {
                output.session(cap).give_container(records);
            })
        }
    });
    stream
}

/// The operator's state and logic, separate from timely's plumbing.
struct SourceReader {
    membership: Arc<Membership>,
    settings: SourceSettings,
    /// This worker's one source of the membership; released with the operator.
    _claim: SourceClaim,
    commit_probes: Rc<RefCell<CommitProbes>>,
    activator: Activator,
    phase: Phase,
    rank: LocalRank,
    version_seen: Option<u64>,
    owned: Vec<OwnedPartition>,
    clock: TickClock,
    /// When the armed timer wake-up fires.
    timer_due: Option<Instant>,
    last_commit: Instant,
    /// The frontier moved since the last commit (for `CommitCadence::OnFrontierAdvance`).
    commit_pending: bool,
    warned_no_probe: bool,
    /// Records were let go without a commit frontier: nothing says they were processed, so
    /// this source never commits, even if a frontier is attached later.
    read_ungated: bool,
    batch: Vec<KafkaRecord>,
    /// Records read and not yet past the commit frontier.
    in_flight: InFlight,
    /// This worker's queue, which its partitions' records arrive in (once it exists).
    queue: Option<Arc<WorkerQueue>>,
    /// Messages taken from the queue and not yet converted.
    messages: Vec<Message>,
    /// Owned partitions by partition number (an index into `owned`), to place each message.
    by_partition: HashMap<i32, Vec<usize>>,
    /// When the ends of partitions that read nothing were last checked.
    last_end_sweep: Instant,
    /// How long a worker stopped at its in-flight bound waits before it looks at the
    /// frontier again; doubles while nothing is released.
    stalled_poll: Duration,
    /// Reading is stopped: the in-flight bound was reached, and in-flight records have not
    /// yet fallen below half of it.
    backpressured: bool,
    /// Whether this worker last reported itself caught up to the idle clock (`None`: not
    /// since the assignment last changed).
    reported_caught_up: Option<bool>,
    /// The in-flight records and bytes this worker last added to the group's metrics.
    published_in_flight: (u64, u64),
}

impl Drop for SourceReader {
    /// A dropped dataflow takes this worker's in-flight records out of the group's gauges.
    fn drop(&mut self) {
        self.in_flight.release(None);
        self.publish_in_flight();
    }
}

impl SourceReader {
    fn new(
        membership: Arc<Membership>,
        settings: SourceSettings,
        claim: SourceClaim,
        commit_probes: Rc<RefCell<CommitProbes>>,
        activator: Activator,
    ) -> Self {
        let clock = TickClock::new(settings.tick);
        SourceReader {
            membership,
            settings,
            _claim: claim,
            commit_probes,
            activator,
            phase: Phase::Discovering,
            rank: LocalRank {
                rank: 0,
                workers: 1,
            },
            version_seen: None,
            owned: Vec::new(),
            clock,
            timer_due: None,
            last_commit: Instant::now(),
            commit_pending: false,
            warned_no_probe: false,
            read_ungated: false,
            batch: Vec::new(),
            in_flight: InFlight::default(),
            queue: None,
            messages: Vec::with_capacity(WORKER_QUEUE_BATCH),
            by_partition: HashMap::new(),
            last_end_sweep: Instant::now(),
            stalled_poll: STALLED_POLL,
            backpressured: false,
            reported_caught_up: None,
            published_in_flight: (0, 0),
        }
    }

    /// Discovery finished: register with the membership (the last local worker subscribes).
    fn start(&mut self, rank: LocalRank, activator: Option<timely::scheduling::SyncActivator>) {
        self.rank = rank;
        self.phase = Phase::Running;
        if let Some(activator) = activator {
            if let Err(err) = self.membership.register(rank.rank, rank.workers, activator) {
                tracing::error!("{err}");
                self.membership.shared.record_error(err);
            }
        }
    }

    /// One activation. Returns whether the operator must be kept alive.
    fn step(
        &mut self,
        capability: &mut Option<Capability<u64>>,
        mut emit: impl FnMut(&Capability<u64>, &mut Vec<KafkaRecord>),
    ) -> bool {
        let tick = self.clock.now();
        if self.phase == Phase::Running && self.membership.shared.shutdown_requested() {
            let deadline = Instant::now() + self.settings.drain_timeout;
            tracing::info!(
                group = %self.membership.group_id(),
                worker = self.rank.rank,
                "shutdown: stopped reading; draining in-flight records"
            );
            self.phase = Phase::Draining { deadline };
            // No more records: let the frontier move past everything emitted.
            *capability = None;
        }
        if self.phase == Phase::Running {
            if let Some(cap) = capability.as_mut() {
                if *cap.time() < tick {
                    cap.downgrade(&tick);
                }
                self.sync_assignment();
                let backpressured = self.apply_backpressure();
                let more = !backpressured && self.read(cap, &mut emit);
                if backpressured {
                    self.close_stamp_early(cap, tick);
                }
                if more {
                    self.activator.activate();
                }
            }
        }
        let advanced = self.release();
        if advanced || !self.backpressured {
            self.stalled_poll = STALLED_POLL;
        }
        self.finish_revoked();
        self.publish_in_flight();
        match self.phase {
            Phase::Running => {
                self.maybe_commit(advanced);
                self.report_caught_up();
                self.schedule_tick();
                true
            }
            Phase::Draining { deadline } => {
                // Partitions revoked meanwhile are dropped (their records are not ours to
                // commit any more); the rest keep their progress.
                self.sync_assignment();
                // Without a commit frontier nothing will ever be committed: do not wait.
                let drained =
                    !self.commits() || self.owned.iter().all(|p| !p.progress.has_in_flight());
                let abort = self.membership.shared.abort_requested();
                if drained || abort || Instant::now() >= deadline {
                    if abort && !drained {
                        tracing::info!(
                            group = %self.membership.group_id(),
                            "immediate shutdown: records in flight are not committed and will be read again"
                        );
                    } else if !drained {
                        tracing::warn!(
                            group = %self.membership.group_id(),
                            "drain timeout ({:?}) passed with records in flight; they are not committed and will be read again",
                            self.settings.drain_timeout
                        );
                    }
                    self.commit(true);
                    // Partitions being revoked were committed above, while still assigned:
                    // their revoke need not wait for them.
                    for p in self.owned.iter().filter(|p| p.revoking) {
                        self.membership
                            .shared
                            .revoke_progress(&p.tp, p.epoch, None, true);
                    }
                    self.phase = Phase::Done;
                    self.owned.clear();
                    self.reindex();
                    self.in_flight.release(None);
                    self.publish_in_flight();
                    self.membership.shared.source_closed();
                    false
                } else {
                    self.activator
                        .activate_after(Duration::from_millis(5).min(self.settings.tick));
                    true
                }
            }
            Phase::Discovering | Phase::Done => self.phase != Phase::Done,
        }
    }

    /// Picks up a changed assignment: keeps, adds or drops owned partitions. A partition
    /// assigned again (a new epoch) starts with fresh progress, floored at the offset the
    /// group had committed when it was assigned, so commits never go backwards.
    fn sync_assignment(&mut self) {
        let version = self.membership.shared.version();
        if self.version_seen == Some(version) {
            return;
        }
        let (version, assignment) = self.membership.shared.owned_by(self.rank.rank);
        // Indexed, so a sync costs O(P) and not O(P²) with thousands of partitions.
        let mut previous: HashMap<(TopicPartition, u64), OwnedPartition> =
            std::mem::take(&mut self.owned)
                .into_iter()
                .map(|p| ((p.tp.clone(), p.epoch), p))
                .collect();
        for assigned in assignment {
            let tp = assigned.topic_partition;
            let key = (tp, assigned.epoch);
            match previous.remove(&key) {
                Some(mut kept) => {
                    kept.revoking = assigned.revoking;
                    self.owned.push(kept);
                }
                None => self.owned.push(OwnedPartition {
                    tp: key.0,
                    handle: assigned.handle,
                    epoch: assigned.epoch,
                    revoking: assigned.revoking,
                    next: assigned.bounds.start,
                    end_at_assign: assigned.bounds.end,
                    at_end: false,
                    // Nothing may ever arrive for it (nothing to read): look at its end.
                    check_end: true,
                    progress: PartitionProgress::after_commit(assigned.committed_at_start),
                }),
            }
        }
        for lost in previous.into_values() {
            if lost.progress.has_in_flight() {
                tracing::info!(
                    "{}: no longer read by this worker; its in-flight records are not committed here",
                    lost.tp
                );
            }
        }
        self.reindex();
        self.version_seen = Some(version);
        self.reported_caught_up = None;
        // Records may have arrived before this worker knew their partitions.
        self.activator.activate();
    }

    /// Reads up to the per-activation limit from this worker's queue, stopping at the
    /// in-flight bound. Returns whether the queue may have more.
    fn read(
        &mut self,
        cap: &Capability<u64>,
        emit: &mut impl FnMut(&Capability<u64>, &mut Vec<KafkaRecord>),
    ) -> bool {
        if self.queue.is_none() {
            self.queue = self.membership.shared.worker_queue(self.rank.rank);
        }
        let Some(queue) = self.queue.clone() else {
            // Not every local worker has registered yet: nothing is assigned.
            return false;
        };
        let limit = self.settings.max_records_per_activation.max(1);
        let (max_records, max_bytes) = (
            self.settings.max_in_flight_records,
            self.settings.max_in_flight_bytes,
        );
        let tick = *cap.time();
        let mut taken = 0;
        let mut drained = false;
        let mut messages = std::mem::take(&mut self.messages);
        // At the bound part-way through: stop there, so one activation overshoots it by at
        // most one batch (records can decompress far beyond what librdkafka's fetch limits,
        // which count compressed bytes, suggest).
        while taken < limit && !self.in_flight.full(max_records, max_bytes) {
            let want = (limit - taken).min(WORKER_QUEUE_BATCH);
            let got = queue.pop(want, &mut messages);
            taken += got;
            drained = got < want;
            // A fetch response's records of one partition lie together: place them by runs.
            let mut start = 0;
            while start < messages.len() {
                let first = &messages[start];
                let (handle, partition) = (first.topic_handle(), first.partition());
                let run = messages[start..]
                    .iter()
                    .take_while(|m| m.topic_handle() == handle && m.partition() == partition)
                    .count();
                self.take_run(&messages[start..start + run], tick);
                start += run;
            }
            // Destroys the messages; their records were copied out.
            messages.clear();
            if drained {
                break;
            }
        }
        self.messages = messages;
        if !self.batch.is_empty() {
            emit(cap, &mut self.batch);
            self.batch.clear();
        }
        if drained {
            self.check_ends();
        }
        // Not drained: more waits (the next activation stops reading at the bound and closes
        // the stamp, without waiting for a wake-up).
        !drained
    }

    /// Takes one partition's run of messages: converts them to records and counts them, or
    /// drops them if the partition is not this worker's to read (revoked, or being revoked:
    /// their next owner reads them from the committed offset).
    fn take_run(&mut self, run: &[Message], tick: u64) {
        let Some(first) = run.first() else {
            return;
        };
        // Placed by the assignment this worker last looked at, or else by the current one
        // (a cheap check when nothing changed). The group publishes an assignment before
        // librdkafka fetches for it, so a run that fits neither is not this worker's: its
        // partition was revoked or is being revoked, and records past its processed
        // position are read again by its next owner.
        let mut found = self.place(first);
        if found.is_none() {
            self.sync_assignment();
            found = self.place(first);
        }
        let Some(i) = found else {
            tracing::debug!(
                "dropped {} record(s) of {:?}/{} at offset {}: not read by this worker",
                run.len(),
                first.topic(),
                first.partition(),
                first.offset()
            );
            return;
        };
        let partition = &mut self.owned[i];
        let start = self.batch.len();
        let mut error = None;
        {
            let Some(_reading) = partition.handle.reading(partition.epoch) else {
                // A revoke began since `place`: as above, not this worker's any more.
                return;
            };
            for message in run {
                match message.to_record(&partition.tp.topic) {
                    Ok(record) => self.batch.push(record),
                    Err(e) => {
                        error.get_or_insert(e);
                    }
                }
            }
        }
        let read = self.batch.len() - start;
        let mut bytes = 0u64;
        for record in &self.batch[start..] {
            partition.progress.emitted(tick, record.offset);
            bytes += (record.payload.as_ref().map_or(0, Vec::len)
                + record.key.as_ref().map_or(0, Vec::len)) as u64;
        }
        if read > 0 {
            partition.at_end = false;
            partition.check_end = true;
            partition.next = self.batch.last().map(|r| r.offset + 1);
            // Per partition and run, never per record: two relaxed additions.
            partition.handle.reads.add(read as u64, bytes);
        }
        let held = bytes + read as u64 * super::RECORD_OVERHEAD_BYTES;
        self.in_flight.emitted(tick, read as u64, held);
        if let Some(error) = error {
            partition.at_end = false;
            let error = Error::Fetch {
                position: partition.tp.at(error.offset),
                source: Box::new(KafkaError::MessageConsumption(error.code)),
            };
            tracing::warn!("{error}");
            self.membership.shared.record_error(error);
        }
    }

    /// Rebuilds `by_partition` after `owned` changed: it holds positions in `owned`.
    fn reindex(&mut self) {
        self.by_partition.clear();
        for (i, p) in self.owned.iter().enumerate() {
            self.by_partition.entry(p.tp.partition).or_default().push(i);
        }
    }

    /// The index in `owned` of the partition `message` belongs to, if this worker reads it
    /// under the assignment it last looked at: not being revoked, and the same assignment
    /// epoch as the partition's now.
    fn place(&self, message: &Message) -> Option<usize> {
        let topic = message.topic()?.to_bytes();
        let partition = message.partition();
        self.by_partition
            .get(&partition)?
            .iter()
            .copied()
            .find(|&i| {
                self.owned.get(i).is_some_and(|p| {
                    p.tp.partition == partition
                        && p.tp.topic.as_bytes() == topic
                        && !p.revoking
                        && p.handle.is_read_under(p.epoch)
                })
            })
    }

    /// With the queue drained: looks whether partitions that read records since their last
    /// look have reached their end, and, every `END_SWEEP` or tick, whether the others have (a partition
    /// with nothing to read, or only transaction markers, gets no records to prompt a look).
    /// Partitions at their end cost nothing here.
    fn check_ends(&mut self) {
        let sweep = self.last_end_sweep.elapsed() >= self.settings.tick.min(END_SWEEP);
        if sweep {
            self.last_end_sweep = Instant::now();
        }
        for p in &mut self.owned {
            if p.revoking || p.at_end || !(p.check_end || sweep) {
                continue;
            }
            p.check_end = false;
            p.at_end = reached_end(p.next, p.end_at_assign, p.handle.fetched_end());
        }
    }

    /// Tells the idle clock whether this worker is caught up: every partition it owns is at
    /// its end and nothing it read is still in flight. Reports only changes.
    fn report_caught_up(&mut self) {
        let no_frontier = self.commit_probes.borrow().user.is_empty();
        let caught_up = self
            .owned
            .iter()
            .all(|p| !p.revoking && p.at_end && (no_frontier || !p.progress.has_in_flight()));
        if self.reported_caught_up != Some(caught_up) {
            self.reported_caught_up = Some(caught_up);
            // About the assignment as of `version_seen`: a report about an older one is
            // ignored, and this worker reports again once it has synced.
            self.membership.shared.report_caught_up(
                self.rank.rank,
                self.rank.workers,
                caught_up,
                self.version_seen,
            );
        }
    }

    /// Stops reading while too much is in flight, and reads again below half the bound.
    /// Returns whether reading is stopped.
    ///
    /// Nothing is paused: librdkafka stops fetching for this worker's partitions once its
    /// queue holds the worker's share of the prefetch budget (see `prefetch.rs`), and what
    /// it fetched stays queued for when reading resumes.
    fn apply_backpressure(&mut self) -> bool {
        let settings = &self.settings;
        let (max_records, max_bytes) =
            (settings.max_in_flight_records, settings.max_in_flight_bytes);
        let stopping = if self.backpressured {
            !self.in_flight.has_room(max_records, max_bytes)
        } else {
            self.in_flight.full(max_records, max_bytes)
        };
        if stopping && !self.backpressured {
            tracing::debug!(group = %self.membership.group_id(), "in-flight bound reached: reading stops");
        }
        if !stopping && self.backpressured {
            tracing::debug!(group = %self.membership.group_id(), "in-flight records below half the bound: reading resumes");
        }
        self.backpressured = stopping;
        stopping
    }

    /// At the in-flight bound, lets the records read so far leave it before the tick ends:
    /// moves the capability one millisecond past their stamp (while that stays inside the
    /// current tick), so the frontier can pass them as soon as the dataflow has processed
    /// them, asks the batchers of the process to emit their open batches, and looks at the
    /// frontier again shortly. Without this, a worker would read at
    /// most `max_in_flight_bytes` per tick whatever the dataflow's speed.
    ///
    /// A stamp between two ticks is still a `u64` of wall-clock milliseconds: later than
    /// everything emitted before it and earlier than the next tick. Other workers keep
    /// stamping whole ticks, so the frontier (the least capability of all sources) passes
    /// this worker's records early only when every source has moved past them; otherwise
    /// they leave at the next tick, as before.
    fn close_stamp_early(&mut self, cap: &mut Capability<u64>, tick: u64) {
        let stamp = *cap.time();
        let next_tick = tick + self.clock.tick_ms();
        if self.in_flight.latest_stamp() == Some(stamp) && stamp + 1 < next_tick {
            cap.downgrade(&(stamp + 1));
        }
        if self.in_flight.records() > 0 {
            // Open batches downstream hold the frontier at their first record: without this
            // it would pass them only at their timeout (once per `batch_timeout`). Asked on
            // every look while stopped, not once: records can reach a batcher after an
            // earlier request (from another worker, or a stage in between), and a stamp
            // closed by the tick's end needs no downgrade but its batches still wait.
            timely_kafka_operators::batch::flush_open_batches();
        }
        // The frontier moves without waking this operator: look again shortly while reading
        // is stopped, backing off (1, 2, 4 ms, ... up to a tick) while nothing is released,
        // so a dataflow stalled for long (a sink waiting out a broker outage) costs no spin.
        self.activator.activate_after(self.stalled_poll);
        self.stalled_poll = (self.stalled_poll * 2).min(self.settings.tick);
    }

    /// Adds this worker's change of in-flight records, bytes and paused partitions to the
    /// group's metrics: a few atomic additions per activation, only when something changed.
    fn publish_in_flight(&mut self) {
        let now = (self.in_flight.records(), self.in_flight.bytes());
        let last = self.published_in_flight;
        if now != last {
            self.membership
                .shared
                .metrics
                .in_flight_changed(now.0 as i64 - last.0 as i64, now.1 as i64 - last.1 as i64);
            self.published_in_flight = now;
        }
    }

    /// Reports where each revoked partition's processed records end, and lets go of those
    /// whose in-flight records are done (all of them without a commit frontier, or on an
    /// immediate shutdown): the group thread commits them there before it releases them.
    fn finish_revoked(&mut self) {
        if !self.owned.iter().any(|p| p.revoking) {
            return;
        }
        let commits = self.commits();
        let abort = self.membership.shared.abort_requested();
        if commits
            && !abort
            && self
                .owned
                .iter()
                .any(|p| p.revoking && p.progress.has_in_flight())
        {
            // A revoked partition's records waiting in open batches would be let go
            // uncommitted once the revoke drain times out, and read again by the next owner,
            // whenever the batch timeout is the longer of the two. (A shutdown needs no such
            // request: the source drops its capability, and the batchers' input ends.)
            timely_kafka_operators::batch::flush_open_batches();
        }
        let revoking: Vec<&OwnedPartition> = self.owned.iter().filter(|p| p.revoking).collect();
        let tps: Vec<TopicPartition> = revoking.iter().map(|p| p.tp.clone()).collect();
        let halts = self.membership.shared.halt_offsets(&tps);
        let mut done = Vec::new();
        for (p, halt) in revoking.into_iter().zip(halts) {
            let position = commits
                .then(|| p.progress.processed_position_capped(halt))
                .flatten();
            let drained = !commits || abort || !p.progress.has_in_flight();
            self.membership
                .shared
                .revoke_progress(&p.tp, p.epoch, position, drained);
            if drained {
                done.push((p.tp.clone(), p.epoch));
            }
        }
        let done: HashSet<(TopicPartition, u64)> = done.into_iter().collect();
        self.owned
            .retain(|p| !p.revoking || !done.contains(&(p.tp.clone(), p.epoch)));
        // Positions in `owned` moved: records still arrive for the partitions kept.
        self.reindex();
    }

    /// Whether this source commits: it has a commit frontier and let nothing go without one.
    fn commits(&self) -> bool {
        !self.read_ungated && !self.commit_probes.borrow().user.is_empty()
    }

    /// Releases the ticks the commit frontier has passed. Returns whether any partition's
    /// processed position moved.
    fn release(&mut self) -> bool {
        let frontier = self.commit_probes.borrow().frontier();
        let frontier = match frontier {
            Ok(frontier) if !self.read_ungated => frontier,
            _ => {
                if !self.warned_no_probe && self.phase != Phase::Discovering {
                    tracing::warn!(
                        "no commit frontier attached (call `commit_after(&probe)` on the source handle \
                         before the dataflow runs): this source will not commit offsets"
                    );
                    self.warned_no_probe = true;
                }
                // Nothing to wait for: what was read no longer counts against the in-flight
                // bound, and no progress is kept.
                self.in_flight.release(None);
                for partition in &mut self.owned {
                    self.read_ungated |= partition.progress.release(None);
                }
                return false;
            }
        };
        let mut advanced = false;
        for partition in &mut self.owned {
            advanced |= partition.progress.release(frontier);
        }
        self.in_flight.release(frontier);
        advanced
    }

    fn maybe_commit(&mut self, advanced: bool) {
        if !self.commits() {
            return;
        }
        let due = match self.settings.commit {
            CommitCadence::Interval(interval) => self.last_commit.elapsed() >= interval,
            // At most once a tick: under backpressure the frontier can move every
            // millisecond (see `close_stamp_early`).
            CommitCadence::OnFrontierAdvance => {
                self.commit_pending |= advanced;
                let elapsed = self.last_commit.elapsed();
                if self.commit_pending && elapsed < self.settings.tick {
                    // Wake when it is due, not at some later activation.
                    self.activator
                        .activate_after(self.settings.tick.saturating_sub(elapsed));
                }
                (self.commit_pending && elapsed >= self.settings.tick)
                    || elapsed >= Duration::from_secs(1)
            }
        };
        if due {
            self.commit(false);
        }
    }

    /// Commits the processed position of every owned partition that moved. The final
    /// commit waits (bounded) for the broker's answer.
    fn commit(&mut self, last: bool) {
        self.last_commit = Instant::now();
        self.commit_pending = false;
        if !self.commits() {
            return;
        }
        let mine: Vec<TopicPartition> = self.owned.iter().map(|p| p.tp.clone()).collect();
        // Indexed: a commit of thousands of partitions must not cost O(P²).
        let index: HashMap<TopicPartition, usize> = mine
            .iter()
            .enumerate()
            .map(|(i, tp)| (tp.clone(), i))
            .collect();
        for failed in self.membership.take_failed_commits(&mine) {
            if let Some(&i) = index.get(&failed.topic_partition) {
                self.owned[i].progress.forget_commit(failed.offset);
            }
        }
        let offsets = commit_positions(&self.membership, &self.owned);
        let processed: Vec<Position> = self
            .owned
            .iter()
            .filter_map(|p| p.progress.processed().map(|o| p.tp.at(o)))
            .collect();
        let wait = last.then(|| Instant::now() + FINAL_COMMIT_TIMEOUT);
        match self.membership.commit(&offsets, &processed, wait) {
            Ok(sent) => {
                for position in &sent {
                    if let Some(&i) = index.get(&position.topic_partition) {
                        self.owned[i].progress.mark_committed(position.offset);
                    }
                }
                if last && !sent.is_empty() {
                    tracing::info!(
                        group = %self.membership.group_id(),
                        "final commit: {}",
                        sent.iter().map(Position::to_string).collect::<Vec<_>>().join(", ")
                    );
                }
            }
            Err(err) => {
                tracing::warn!("{err}");
                self.membership.shared.record_error(err);
            }
        }
    }

    /// Makes sure the operator wakes when the next tick begins, to move its capability (an
    /// idle source must not hold the frontier back) and to commit. Re-arms whenever the
    /// armed timer has fired, whatever the wall clock did (a clock stepped back must not
    /// leave an idle worker asleep).
    fn schedule_tick(&mut self) {
        let now = Instant::now();
        if self.timer_due.is_none_or(|due| due <= now) {
            let delay = self.clock.until_next_tick();
            self.timer_due = Some(now + delay);
            self.activator.activate_after(delay);
        }
    }
}

/// Whether a partition whose queue is empty has been read to its end: its position (the
/// later of where it started or the offset after the last record read, and librdkafka's
/// position, which also covers transaction markers) has reached both the end its log had when
/// it was assigned and the high watermark of its latest fetch. librdkafka's cached watermark
/// alone is not enough: it is from the partition's last fetch, which may predate this
/// assignment. Before any fetch response, or with no known position, it is not at its end.
fn reached_end(next: Option<i64>, end_at_assign: Option<i64>, fetched: FetchedEnd) -> bool {
    let Some(high_watermark) = fetched.high_watermark else {
        return false;
    };
    let end = high_watermark.max(end_at_assign.unwrap_or(high_watermark));
    next.max(fetched.position)
        .is_some_and(|position| position >= end)
}

/// The commit each partition is due: its processed position, capped at a `Stop` halt. Read
/// after `release`: a halt at offset o is recorded before the frontier passes o.
fn commit_positions(membership: &Membership, partitions: &[OwnedPartition]) -> Vec<Commit> {
    let tps: Vec<TopicPartition> = partitions.iter().map(|p| p.tp.clone()).collect();
    let halts = membership.shared.halt_offsets(&tps);
    partitions
        .iter()
        .zip(halts)
        .filter_map(|(p, halt)| {
            p.progress
                .commit_position_capped(halt)
                .map(|offset| Commit {
                    position: p.tp.at(offset),
                    epoch: p.epoch,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(position: Option<i64>, high_watermark: Option<i64>) -> FetchedEnd {
        FetchedEnd {
            position,
            high_watermark,
        }
    }

    #[test]
    fn not_at_end_before_the_first_fetch_response() {
        assert!(!reached_end(Some(10), Some(10), fetched(Some(10), None)));
        assert!(!reached_end(None, None, fetched(None, None)));
    }

    #[test]
    fn at_end_once_the_position_reaches_the_high_watermark() {
        assert!(!reached_end(Some(9), Some(10), fetched(None, Some(10))));
        assert!(reached_end(Some(10), Some(10), fetched(None, Some(10))));
        // A transaction marker at offset 10: no record past 9, but librdkafka's position
        // moved past the marker.
        assert!(reached_end(Some(10), Some(11), fetched(Some(11), Some(11))));
        // Started at a committed offset at the end, nothing read in this assignment.
        assert!(reached_end(Some(500), Some(500), fetched(None, Some(500))));
    }

    #[test]
    fn a_watermark_from_before_the_assignment_is_not_the_end() {
        // Handed back at its committed offset 500; the log grew to 800 while another member
        // owned it, and librdkafka still caches 500 from this process's last fetch.
        assert!(!reached_end(Some(500), Some(800), fetched(None, Some(500))));
    }

    #[test]
    fn an_unknown_start_is_never_the_end() {
        assert!(!reached_end(None, None, fetched(None, Some(500))));
        assert!(!reached_end(None, Some(0), fetched(None, Some(0))));
    }
}
