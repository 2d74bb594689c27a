//! A member that records what it processed by ownership segment, an observer of the group's
//! committed offsets, and the check of both against a topic with a [`Checker`]: shared by
//! the fault tests and the soak.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::BaseConsumer;
use rdkafka::ClientConfig;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::offsets;
use timely_kafka::testing::{Checker, EmbeddedCluster, Report};
use timely_kafka::{
    KafkaSourceExt, SourceConfigBuilder, SourceControl, SourceProgress, TopicPartition,
};

use super::{init_logging, read_topic};

/// What one member processed, and its assignment history.
#[derive(Debug, Default)]
pub struct Log {
    /// The current segment of each partition: a new one at every assignment.
    pub current: BTreeMap<i32, u64>,
    /// Segments handed out so far.
    pub segments: u64,
    /// `(segment, partition, bound, when)`: a segment may re-read at or above `bound`, the
    /// highest commit the broker had acknowledged to this member when the segment began
    /// (the group's committed offset, where the segment starts, is at or above it unless a
    /// commit went backwards; `None`: nothing acknowledged yet). [`check`] raises it to the
    /// commits an observer read before `when`, which bound hand-offs from other members.
    pub starts: Vec<(u64, i32, Option<i64>, Instant)>,
    /// `(segment, partition, offset)` of every record processed, in order.
    pub observed: Vec<(u64, i32, i64)>,
    /// Partition assignments and revocations (lost ones included) seen by the hooks.
    pub assigned: usize,
    pub revoked: usize,
}

impl Log {
    /// Records processed of `partition` (with repeats).
    pub fn count(&self, partition: i32) -> usize {
        self.observed.iter().filter(|o| o.1 == partition).count()
    }

    /// Whether every offset in `from..to` of `partition` was processed.
    pub fn has_all(&self, partition: i32, from: i64, to: i64) -> bool {
        let mut seen: Vec<i64> = self
            .observed
            .iter()
            .filter(|o| o.1 == partition && o.2 >= from && o.2 < to)
            .map(|o| o.2)
            .collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len() as i64 == to - from
    }
}

/// One member: `workers` timely workers on a thread of their own, recording every record
/// at the end of the dataflow and committing behind its probe.
pub struct Member {
    pub log: Arc<Mutex<Log>>,
    pub control: SourceControl,
    /// The least tick the probe of worker 0 may still see (`u64::MAX`: none).
    pub frontier: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
    pub thread: thread::JoinHandle<()>,
}

/// The commit the broker acknowledged to this member for `partition`, per its progress.
pub fn acknowledged(progress: &SourceProgress, partition: i32) -> Option<i64> {
    progress
        .partitions
        .iter()
        .find(|s| s.topic_partition.partition == partition)
        .and_then(|s| s.committed)
}

impl Member {
    /// Starts a member with `builder`'s config (hooks are added here). `per_record` is a
    /// processing cost paid for each record (a slow stage), zero for none.
    pub fn start(builder: SourceConfigBuilder, workers: usize, per_record: Duration) -> Member {
        init_logging();
        let log: Arc<Mutex<Log>> = Arc::default();
        let control_cell: Arc<OnceLock<SourceControl>> = Arc::default();
        let config = {
            let (on_assign, on_revoke) = (Arc::clone(&log), Arc::clone(&log));
            let cell = Arc::clone(&control_cell);
            builder
                .on_assigned(move |a| {
                    let partition = a.topic_partition.partition;
                    let bound = cell
                        .get()
                        .and_then(|c| acknowledged(&c.progress(), partition));
                    let mut log = on_assign.lock().unwrap();
                    let segment = log.segments;
                    log.segments += 1;
                    log.current.insert(partition, segment);
                    log.starts.push((segment, partition, bound, Instant::now()));
                    log.assigned += 1;
                    Ok(())
                })
                .on_revoked(move |_| {
                    on_revoke.lock().unwrap().revoked += 1;
                    Ok(())
                })
                .build()
                .unwrap()
        };
        let frontier = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (control_tx, control_rx) = mpsc::channel::<SourceControl>();
        let thread = {
            let (log, frontier, stop) =
                (Arc::clone(&log), Arc::clone(&frontier), Arc::clone(&stop));
            thread::spawn(move || {
                timely::execute(timely::Config::process(workers), move |worker| {
                    let index = worker.index();
                    let probe = ProbeHandle::new();
                    let log = Arc::clone(&log);
                    let handle = worker.dataflow(|scope| {
                        let source = scope.kafka_source(&config).unwrap();
                        source
                            .records
                            .inspect(move |r| {
                                if !per_record.is_zero() {
                                    // The cost of a slow processing stage, not a wait.
                                    thread::sleep(per_record);
                                }
                                let mut log = log.lock().unwrap();
                                let segment =
                                    log.current.get(&r.partition).copied().unwrap_or(u64::MAX);
                                log.observed.push((segment, r.partition, r.offset));
                            })
                            .probe_with(&probe);
                        source.handle.commit_after(&probe);
                        source.handle
                    });
                    if index == 0 {
                        // Before the first step: the group is joined (and the hooks run)
                        // only once every worker has stepped.
                        let _ = control_cell.set(handle.control());
                        control_tx.send(handle.control()).unwrap();
                    }
                    while !stop.load(Ordering::SeqCst) {
                        worker.step_or_park(Some(Duration::from_millis(20)));
                        if index == 0 {
                            let least = probe
                                .with_frontier(|f| f.iter().min().copied().unwrap_or(u64::MAX));
                            frontier.store(least, Ordering::SeqCst);
                        }
                    }
                    handle.shutdown();
                })
                .unwrap()
                .join()
                .into_iter()
                .for_each(|r| r.unwrap());
            })
        };
        let control = control_rx.recv().unwrap();
        Member {
            log,
            control,
            frontier,
            stop,
            thread,
        }
    }

    pub fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }

    /// Shuts down gracefully and returns what was processed and how long shutdown took.
    pub fn stop(self) -> (Log, Duration) {
        let started = Instant::now();
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        let took = started.elapsed();
        let log = std::mem::take(&mut *self.log.lock().unwrap());
        (log, took)
    }
}

/// Polls `check` until it holds, failing the test with `what` after `within`.
pub fn wait_within(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The group's committed offsets as the broker holds them, read by a client outside the
/// group, every reading kept in order.
pub struct Commits {
    pub observer: BaseConsumer,
    pub topic: String,
    pub partitions: i32,
    /// Every committed offset read, `(partition, offset)`, in the order read.
    pub readings: Vec<(i32, i64)>,
    /// When each reading had been made (the broker held at least it from then on).
    pub read_at: Vec<Instant>,
    /// For readings made against a member ([`poll_against`](Self::poll_against)): how many
    /// records it had processed once the reading was made, which places the commit in the
    /// order of its processing for [`check`].
    pub positions: Vec<Option<usize>>,
    /// The last successful reading.
    pub last: BTreeMap<i32, Option<i64>>,
}

impl Commits {
    pub fn new(cluster: &EmbeddedCluster, group: &str, topic: &str, partitions: i32) -> Self {
        let observer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("create the commit observer");
        Commits {
            observer,
            topic: topic.to_owned(),
            partitions,
            readings: Vec::new(),
            read_at: Vec::new(),
            positions: Vec::new(),
            last: BTreeMap::new(),
        }
    }

    /// Reads the committed offsets once. A failed read (the coordinator is unreachable)
    /// records nothing and returns `false`.
    pub fn poll(&mut self) -> bool {
        let wanted: Vec<TopicPartition> = (0..self.partitions)
            .map(|p| TopicPartition::new(self.topic.as_str(), p))
            .collect();
        let Ok(result) =
            offsets::committed_offsets(&self.observer, &wanted, Duration::from_secs(1))
        else {
            return false;
        };
        let at = Instant::now();
        for (tp, committed) in result {
            let p = tp.partition;
            if let Some(o) = committed.offset {
                self.readings.push((p, o));
                self.read_at.push(at);
                self.positions.push(None);
            }
            self.last.insert(p, committed.offset);
        }
        true
    }

    /// Reads once, after taking `member`'s own account of its acknowledged commits, and
    /// asserts that the member claims no commit the broker does not hold: a refused commit
    /// is not counted as a success.
    pub fn poll_against(&mut self, member: &Member) {
        let reported = member.control.progress();
        let first = self.readings.len();
        if !self.poll() {
            return;
        }
        // Taken after the reading: the commits read cannot be ahead of these records.
        let processed = member.log().observed.len();
        for position in &mut self.positions[first..] {
            *position = Some(processed);
        }
        for p in 0..self.partitions {
            if let Some(claimed) = acknowledged(&reported, p) {
                let held = self.last[&p];
                assert!(
                    held.is_some_and(|h| h >= claimed),
                    "partition {p}: the member reports {claimed} committed, the broker holds {held:?}"
                );
            }
        }
    }

    /// Forgets where readings stand in a member's processing: for checking a log merged from
    /// several members, whose order the positions do not index.
    pub fn forget_positions(&mut self) {
        self.positions.iter_mut().for_each(|p| *p = None);
    }

    /// Whether the last reading has every partition's commit at its end offset (an empty
    /// partition: no commit, or 0).
    pub fn matches(&self, ends: &BTreeMap<i32, i64>) -> bool {
        ends.iter().all(|(p, end)| match self.last.get(p) {
            Some(Some(c)) => c == end,
            Some(None) => *end == 0,
            None => false,
        })
    }

    /// Reads once; whether the commits are at `ends`.
    pub fn at(&mut self, ends: &BTreeMap<i32, i64>) -> bool {
        self.poll();
        self.matches(ends)
    }

    /// [`poll_against`](Self::poll_against) `member`; whether the commits are at `ends`.
    pub fn caught_up(&mut self, member: &Member, ends: &BTreeMap<i32, i64>) -> bool {
        self.poll_against(member);
        self.matches(ends)
    }
}

/// Checks what `log` processed against the topic's records at or above `from` (per
/// partition; 0 where absent), and the commits read meanwhile: each in its place among the
/// records processed where [`Commits::poll_against`] placed it (I2 against processing as
/// it happened), else after them all. Each segment's start is bounded by the member's own
/// acknowledged commits and by the commits read before it began (I4, hand-offs included).
pub fn check(
    cluster: &EmbeddedCluster,
    topic: &str,
    log: &Log,
    commits: &Commits,
    from: &BTreeMap<i32, i64>,
) -> Report {
    let mut checker = Checker::new();
    for w in read_topic(cluster, topic) {
        if w.offset >= from.get(&w.partition).copied().unwrap_or(0) {
            let payload = w.payload.unwrap_or_default();
            checker
                .input_payload(w.partition, w.offset, payload.as_bytes())
                .unwrap();
        }
    }
    for (segment, partition, bound, began) in &log.starts {
        let read_before = commits
            .readings
            .iter()
            .zip(&commits.read_at)
            .filter(|((p, _), at)| p == partition && *at < began)
            .map(|((_, o), _)| *o)
            .max();
        checker.restart(*segment, [(*partition, (*bound).max(read_before))]);
    }
    // A reading with no place goes where the next placed one does (later, so never ahead
    // of what it saw), or after everything.
    let mut places = vec![log.observed.len(); commits.readings.len()];
    let mut next = log.observed.len();
    for k in (0..commits.readings.len()).rev() {
        next = commits.positions[k].map_or(next, |p| p.min(next));
        places[k] = next;
    }
    let mut readings = commits.readings.iter().zip(places).peekable();
    for (index, (segment, partition, offset)) in log.observed.iter().enumerate() {
        while let Some(((p, o), _)) = readings.next_if(|(_, place)| *place <= index) {
            checker.committed_in_order(*p, *o);
        }
        checker.observe(*segment, *partition, *offset);
    }
    for ((p, o), _) in readings {
        checker.committed_in_order(*p, *o);
    }
    checker.report()
}
