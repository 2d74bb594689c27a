//! The source's figures: kept in atomics by the workers, the group thread and the commit
//! thread; read as a [`SourceMetrics`] snapshot; published to the `metrics` facade by the
//! group thread.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics::{Counter, Gauge, Histogram};

use super::names;
use super::statistics::{SourceStatistics, Statistics};
use crate::position::TopicPartition;

/// How often the group thread publishes the source's figures to the facade.
pub(crate) const PUBLISH_INTERVAL: Duration = Duration::from_millis(500);

/// Count, total and longest of a kind of timed event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DurationStats {
    /// How many were timed.
    pub count: u64,
    /// Their total duration.
    pub total: Duration,
    /// The longest one.
    pub max: Duration,
}

impl DurationStats {
    pub(crate) fn add(&mut self, duration: Duration) {
        self.count += 1;
        self.total += duration;
        self.max = self.max.max(duration);
    }

    /// The mean duration, if any was timed.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| self.total / self.count as u32)
    }
}

/// One partition assigned to this process, as [`SourceControl::metrics`](crate::SourceControl::metrics)
/// saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionMetrics {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// Its high watermark from librdkafka's last fetch response, if one arrived.
    pub high_watermark: Option<i64>,
    /// The last offset the broker acknowledged as committed by this process.
    pub committed: Option<i64>,
    /// The offset after the last record the dataflow has fully processed, as of the last
    /// commit (the next offset to process); before any, the committed offset it started from.
    pub processed: Option<i64>,
    /// `high_watermark - committed`, when both are known.
    pub committed_lag: Option<i64>,
    /// `high_watermark - processed`, when both are known.
    pub processed_lag: Option<i64>,
    /// Records read from it by this process (over every assignment of it).
    pub records_read: u64,
    /// Key and payload bytes of those records.
    pub bytes_read: u64,
    /// The offset a [`FailurePolicy::Stop`](crate::process::FailurePolicy::Stop) halted its
    /// commits at, if one did.
    pub halted_at: Option<i64>,
    /// Records waiting in librdkafka's fetch queue, from its last statistics (only with
    /// `statistics.interval.ms`).
    pub fetch_queue: Option<i64>,
    /// librdkafka's own lag figure, from its last statistics (only with
    /// `statistics.interval.ms`).
    pub librdkafka_lag: Option<i64>,
}

impl PartitionMetrics {
    /// Records processed at or past the halt, and so never committed (0 without a halt).
    pub fn halted_records(&self) -> i64 {
        match (self.halted_at, self.processed) {
            (Some(halt), Some(processed)) => (processed - halt).max(0),
            _ => 0,
        }
    }
}

/// Commit counts and timings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitMetrics {
    /// Partition offsets sent to the group coordinator.
    pub sent: u64,
    /// Partition offsets the broker accepted.
    pub succeeded: u64,
    /// Partition offsets whose commit failed, by librdkafka error code name (they are sent
    /// again).
    pub failed: BTreeMap<String, u64>,
    /// Time from sending a commit request to its answer.
    pub latency: DurationStats,
    /// When the broker last accepted a commit of this process.
    pub last_success: Option<SystemTime>,
}

impl CommitMetrics {
    /// Failed partition offsets, every error together.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Rebalance counts and revoke drain timings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebalanceMetrics {
    /// Assign callbacks.
    pub assigned: u64,
    /// Revoke callbacks (in-flight records drained and committed first).
    pub revoked: u64,
    /// Assignments lost (taken away without a drain: session timeout, fencing, a
    /// rebalance error).
    pub lost: u64,
    /// How long revokes drained and committed before releasing their partitions.
    pub drains: DurationStats,
    /// The group generation (member epoch under the consumer protocol) at the last
    /// rebalance, if known.
    pub generation: Option<i32>,
}

/// A snapshot of a source's figures in this process: what the Prometheus metrics say, for
/// programs that read them in-process. From [`SourceControl::metrics`](crate::SourceControl::metrics).
///
/// ```no_run
/// # fn show(control: &timely_kafka::SourceControl) {
/// let m = control.metrics();
/// for p in &m.partitions {
///     println!("{}: lag {:?}", p.topic_partition, p.committed_lag);
/// }
/// println!("{} commits failed", m.commits.failed_total());
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceMetrics {
    /// The consumer group.
    pub group: String,
    /// The partitions assigned to this process, in `(topic, partition)` order.
    pub partitions: Vec<PartitionMetrics>,
    /// Records read by this process, every partition and assignment together.
    pub records_read: u64,
    /// Key and payload bytes of those records.
    pub bytes_read: u64,
    /// Records read and not yet past the commit frontier, over all local workers.
    pub in_flight_records: u64,
    /// Their key and payload bytes.
    pub in_flight_bytes: u64,
    /// Records librdkafka has fetched that the workers have not read yet, over all local
    /// workers' queues: the prefetch the budget bounds.
    pub prefetched_records: u64,
    /// Commits.
    pub commits: CommitMetrics,
    /// Rebalances.
    pub rebalances: RebalanceMetrics,
    /// Failed records seen by [`FailurePolicy::Continue`](crate::process::FailurePolicy::Continue).
    pub failures_continued: u64,
    /// Failed records seen by [`FailurePolicy::Stop`](crate::process::FailurePolicy::Stop).
    pub failures_stopped: u64,
    /// Partitions whose commits a `FailurePolicy::Stop` halted.
    pub halted_partitions: u64,
    /// Average round-trip time to each broker over librdkafka's last statistics interval
    /// (only with `statistics.interval.ms`), by librdkafka's broker name.
    pub broker_rtt: BTreeMap<String, Duration>,
}

impl SourceMetrics {
    /// The sum of [`PartitionMetrics::committed_lag`] over the partitions where it is known.
    pub fn committed_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.committed_lag).sum()
    }

    /// The sum of [`PartitionMetrics::processed_lag`] over the partitions where it is known.
    pub fn processed_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.processed_lag).sum()
    }
}

/// What a rebalance callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RebalanceEvent {
    Assigned = 0,
    Revoked = 1,
    Lost = 2,
}

impl RebalanceEvent {
    const ALL: [RebalanceEvent; 3] = [
        RebalanceEvent::Assigned,
        RebalanceEvent::Revoked,
        RebalanceEvent::Lost,
    ];

    fn label(self) -> &'static str {
        match self {
            RebalanceEvent::Assigned => "assigned",
            RebalanceEvent::Revoked => "revoked",
            RebalanceEvent::Lost => "lost",
        }
    }
}

/// Which failure policy saw a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    Continue = 0,
    Stop = 1,
}

/// A per-partition figure gathered under the group's lock, for [`GroupMetrics::snapshot`].
pub(crate) struct PartitionInputs {
    pub topic_partition: TopicPartition,
    pub high_watermark: Option<i64>,
    pub committed: Option<i64>,
    pub processed: Option<i64>,
    pub records_read: u64,
    pub bytes_read: u64,
    pub halted_at: Option<i64>,
}

/// What one partition's records read add up to, over every assignment of it here.
#[derive(Debug, Clone)]
pub(crate) struct PartitionRead {
    pub topic_partition: TopicPartition,
    pub records: u64,
    pub bytes: u64,
}

/// A partition's read counts, kept on its queue handle for the membership's lifetime.
#[derive(Debug, Default)]
pub(crate) struct ReadCounts {
    records: AtomicU64,
    bytes: AtomicU64,
}

impl ReadCounts {
    /// Adds one activation's reads: two relaxed atomic additions.
    pub(crate) fn add(&self, records: u64, bytes: u64) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.records.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// The source's counters of one membership, shared by its workers and threads.
pub(crate) struct GroupMetrics {
    group: String,
    commits_sent: AtomicU64,
    commits_succeeded: AtomicU64,
    commits_failed: Mutex<BTreeMap<String, u64>>,
    commit_latency: Mutex<DurationStats>,
    commit_histogram: Histogram,
    /// Unix milliseconds of the last accepted commit; 0 before any.
    last_commit_ms: AtomicU64,
    rebalances: [AtomicU64; 3],
    drains: Mutex<DurationStats>,
    drain_histogram: Histogram,
    /// i32::MIN while unknown.
    generation: AtomicI64,
    in_flight_records: AtomicI64,
    in_flight_bytes: AtomicI64,
    failures: [AtomicU64; 2],
    publisher: Mutex<Publisher>,
    statistics: Mutex<SourceStatistics>,
}

impl GroupMetrics {
    pub(crate) fn new(group: &str) -> Self {
        let label = || [("group", group.to_owned())];
        GroupMetrics {
            group: group.to_owned(),
            commits_sent: AtomicU64::new(0),
            commits_succeeded: AtomicU64::new(0),
            commits_failed: Mutex::new(BTreeMap::new()),
            commit_latency: Mutex::new(DurationStats::default()),
            commit_histogram: metrics::histogram!(names::COMMIT_DURATION, &label()),
            last_commit_ms: AtomicU64::new(0),
            rebalances: Default::default(),
            drains: Mutex::new(DurationStats::default()),
            drain_histogram: metrics::histogram!(names::REVOKE_DRAIN, &label()),
            generation: AtomicI64::new(i64::from(i32::MIN)),
            in_flight_records: AtomicI64::new(0),
            in_flight_bytes: AtomicI64::new(0),
            failures: Default::default(),
            publisher: Mutex::new(Publisher::new(group)),
            statistics: Mutex::new(SourceStatistics::new(group)),
        }
    }

    /// Partition offsets about to be sent in a commit request.
    pub(crate) fn commits_sent(&self, n: u64) {
        self.commits_sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Partition offsets the broker accepted.
    pub(crate) fn commits_succeeded(&self, n: u64) {
        if n > 0 {
            self.commits_succeeded.fetch_add(n, Ordering::Relaxed);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            self.last_commit_ms.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// Partition offsets whose commit failed with `error`.
    pub(crate) fn commits_failed(&self, error: &rdkafka::error::KafkaError, n: u64) {
        let kind = super::error_kind(error);
        *lock(&self.commits_failed).entry(kind).or_default() += n;
    }

    /// A commit request answered after `latency`.
    pub(crate) fn commit_answered(&self, latency: Duration) {
        lock(&self.commit_latency).add(latency);
        self.commit_histogram.record(latency.as_secs_f64());
    }

    pub(crate) fn rebalance(&self, event: RebalanceEvent, generation: Option<i32>) {
        self.rebalances[event as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(generation) = generation {
            self.generation
                .store(i64::from(generation), Ordering::Relaxed);
        }
    }

    /// The group generation at the last rebalance, if known.
    pub(crate) fn generation(&self) -> Option<i32> {
        let g = self.generation.load(Ordering::Relaxed);
        (g != i64::from(i32::MIN)).then_some(g as i32)
    }

    /// A revoke drained (and committed) for `duration`.
    pub(crate) fn drained(&self, duration: Duration) {
        lock(&self.drains).add(duration);
        self.drain_histogram.record(duration.as_secs_f64());
    }

    /// A worker's change of its in-flight records and bytes.
    pub(crate) fn in_flight_changed(&self, records: i64, bytes: i64) {
        if records != 0 {
            self.in_flight_records.fetch_add(records, Ordering::Relaxed);
        }
        if bytes != 0 {
            self.in_flight_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    pub(crate) fn failures(&self, policy: PolicyKind, records: u64) {
        self.failures[policy as usize].fetch_add(records, Ordering::Relaxed);
    }

    /// Records a librdkafka statistics document, for the partitions `assigned` says this
    /// process holds.
    pub(crate) fn statistics(
        &self,
        statistics: &Statistics,
        assigned: impl FnMut(&TopicPartition) -> bool,
    ) {
        lock(&self.statistics).record(statistics, assigned);
    }

    /// Unix time of the last accepted commit.
    pub(crate) fn last_commit(&self) -> Option<SystemTime> {
        match self.last_commit_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// The snapshot of these counters and `partitions` (assigned ones) and `read_totals`
    /// (every partition ever read).
    pub(crate) fn snapshot(
        &self,
        partitions: Vec<PartitionInputs>,
        read_totals: (u64, u64),
        halted_partitions: u64,
        prefetched_records: u64,
    ) -> SourceMetrics {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let gauge = |a: &AtomicI64| a.load(Ordering::Relaxed).max(0) as u64;
        let statistics = lock(&self.statistics);
        let partitions = partitions
            .into_iter()
            .map(|p| {
                let lag = |offset: Option<i64>| Some((p.high_watermark? - offset?).max(0));
                PartitionMetrics {
                    high_watermark: p.high_watermark,
                    committed: p.committed,
                    processed: p.processed,
                    committed_lag: lag(p.committed),
                    processed_lag: lag(p.processed),
                    records_read: p.records_read,
                    bytes_read: p.bytes_read,
                    halted_at: p.halted_at,
                    fetch_queue: statistics
                        .figures(&p.topic_partition)
                        .map(|f| f.fetch_queue),
                    librdkafka_lag: statistics
                        .figures(&p.topic_partition)
                        .and_then(|f| f.consumer_lag),
                    topic_partition: p.topic_partition,
                }
            })
            .collect();
        SourceMetrics {
            group: self.group.clone(),
            partitions,
            records_read: read_totals.0,
            bytes_read: read_totals.1,
            in_flight_records: gauge(&self.in_flight_records),
            in_flight_bytes: gauge(&self.in_flight_bytes),
            prefetched_records,
            commits: CommitMetrics {
                sent: load(&self.commits_sent),
                succeeded: load(&self.commits_succeeded),
                failed: lock(&self.commits_failed).clone(),
                latency: *lock(&self.commit_latency),
                last_success: self.last_commit(),
            },
            rebalances: RebalanceMetrics {
                assigned: load(&self.rebalances[RebalanceEvent::Assigned as usize]),
                revoked: load(&self.rebalances[RebalanceEvent::Revoked as usize]),
                lost: load(&self.rebalances[RebalanceEvent::Lost as usize]),
                drains: *lock(&self.drains),
                generation: self.generation(),
            },
            failures_continued: load(&self.failures[PolicyKind::Continue as usize]),
            failures_stopped: load(&self.failures[PolicyKind::Stop as usize]),
            halted_partitions,
            broker_rtt: statistics.rtts(),
        }
    }

    /// Whether the last publish is older than the publish interval.
    pub(crate) fn publish_due(&self) -> bool {
        lock(&self.publisher).last.elapsed() >= PUBLISH_INTERVAL
    }

    /// Records `snapshot`, with every partition ever read (`read`), in the facade.
    pub(crate) fn publish(&self, snapshot: &SourceMetrics, read: &[PartitionRead]) {
        lock(&self.publisher).publish(snapshot, read);
    }
}

/// The facade's handles, created once per group, partition, event and error.
struct Publisher {
    group: String,
    last: Instant,
    assigned: Gauge,
    generation: Gauge,
    in_flight_records: Gauge,
    in_flight_bytes: Gauge,
    prefetched_records: Gauge,
    sent: Counter,
    succeeded: Counter,
    failed: HashMap<String, Counter>,
    last_commit: Gauge,
    rebalances: [Counter; 3],
    failures: [Counter; 2],
    halted: Gauge,
    partitions: HashMap<TopicPartition, PartitionHandles>,
    /// The partitions assigned at the last publish.
    shown: BTreeSet<TopicPartition>,
}

struct PartitionHandles {
    high_watermark: Gauge,
    committed: Gauge,
    processed: Gauge,
    committed_lag: Gauge,
    processed_lag: Gauge,
    records: Counter,
    bytes: Counter,
    halted: Gauge,
}

impl PartitionHandles {
    fn new(group: &str, tp: &TopicPartition) -> Self {
        let labels = [
            ("group", group.to_owned()),
            ("topic", tp.topic.to_string()),
            ("partition", tp.partition.to_string()),
        ];
        PartitionHandles {
            high_watermark: metrics::gauge!(names::HIGH_WATERMARK, &labels),
            committed: metrics::gauge!(names::COMMITTED_OFFSET, &labels),
            processed: metrics::gauge!(names::PROCESSED_OFFSET, &labels),
            committed_lag: metrics::gauge!(names::COMMITTED_LAG, &labels),
            processed_lag: metrics::gauge!(names::PROCESSED_LAG, &labels),
            records: metrics::counter!(names::RECORDS_READ, &labels),
            bytes: metrics::counter!(names::BYTES_READ, &labels),
            halted: metrics::gauge!(names::HALTED_RECORDS, &labels),
        }
    }
}

impl Publisher {
    fn new(group: &str) -> Self {
        let g = [("group", group.to_owned())];
        let with = |key: &'static str, value: &'static str| {
            [("group", group.to_owned()), (key, value.to_owned())]
        };
        Publisher {
            group: group.to_owned(),
            // Due at once.
            last: Instant::now() - PUBLISH_INTERVAL,
            assigned: metrics::gauge!(names::ASSIGNED_PARTITIONS, &g),
            generation: metrics::gauge!(names::GENERATION, &g),
            in_flight_records: metrics::gauge!(names::IN_FLIGHT_RECORDS, &g),
            in_flight_bytes: metrics::gauge!(names::IN_FLIGHT_BYTES, &g),
            prefetched_records: metrics::gauge!(names::PREFETCHED_RECORDS, &g),
            sent: metrics::counter!(names::COMMITS_SENT, &g),
            succeeded: metrics::counter!(names::COMMITS_SUCCEEDED, &g),
            failed: HashMap::new(),
            last_commit: metrics::gauge!(names::LAST_COMMIT, &g),
            rebalances: RebalanceEvent::ALL
                .map(|e| metrics::counter!(names::REBALANCES, &with("event", e.label()))),
            failures: [
                metrics::counter!(names::FAILURES, &with("policy", "continue")),
                metrics::counter!(names::FAILURES, &with("policy", "stop")),
            ],
            halted: metrics::gauge!(names::HALTED_PARTITIONS, &g),
            partitions: HashMap::new(),
            shown: BTreeSet::new(),
        }
    }

    fn publish(&mut self, m: &SourceMetrics, read: &[PartitionRead]) {
        self.last = Instant::now();
        self.assigned.set(m.partitions.len() as f64);
        if let Some(generation) = m.rebalances.generation {
            self.generation.set(f64::from(generation));
        }
        self.in_flight_records.set(m.in_flight_records as f64);
        self.in_flight_bytes.set(m.in_flight_bytes as f64);
        self.prefetched_records.set(m.prefetched_records as f64);
        self.sent.absolute(m.commits.sent);
        self.succeeded.absolute(m.commits.succeeded);
        for (error, n) in &m.commits.failed {
            let group = &self.group;
            self.failed
                .entry(error.clone())
                .or_insert_with(|| {
                    metrics::counter!(
                        names::COMMITS_FAILED,
                        "group" => group.clone(),
                        "error" => error.clone()
                    )
                })
                .absolute(*n);
        }
        if let Some(at) = m.commits.last_success {
            let secs = at
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.last_commit.set(secs);
        }
        let r = &m.rebalances;
        for (counter, value) in self.rebalances.iter().zip([r.assigned, r.revoked, r.lost]) {
            counter.absolute(value);
        }
        self.failures[0].absolute(m.failures_continued);
        self.failures[1].absolute(m.failures_stopped);
        self.halted.set(m.halted_partitions as f64);

        let group = &self.group;
        for r in read {
            let handles = self
                .partitions
                .entry(r.topic_partition.clone())
                .or_insert_with(|| PartitionHandles::new(group, &r.topic_partition));
            handles.records.absolute(r.records);
            handles.bytes.absolute(r.bytes);
        }
        let mut shown = BTreeSet::new();
        for p in &m.partitions {
            let handles = self
                .partitions
                .entry(p.topic_partition.clone())
                .or_insert_with(|| PartitionHandles::new(group, &p.topic_partition));
            let set = |gauge: &Gauge, value: Option<i64>| {
                if let Some(v) = value {
                    gauge.set(v as f64);
                }
            };
            set(&handles.high_watermark, p.high_watermark);
            set(&handles.committed, p.committed);
            set(&handles.processed, p.processed);
            set(&handles.committed_lag, p.committed_lag);
            set(&handles.processed_lag, p.processed_lag);
            handles.halted.set(p.halted_records() as f64);
            shown.insert(p.topic_partition.clone());
        }
        // Released since the last publish: its lag is its new owner's to report now.
        for gone in self.shown.difference(&shown) {
            if let Some(handles) = self.partitions.get(gone) {
                handles.committed_lag.set(0.0);
                handles.processed_lag.set(0.0);
            }
        }
        self.shown = shown;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(hw: Option<i64>, committed: Option<i64>, processed: Option<i64>) -> PartitionInputs {
        PartitionInputs {
            topic_partition: TopicPartition::new("t", 0),
            high_watermark: hw,
            committed,
            processed,
            records_read: 10,
            bytes_read: 100,
            halted_at: None,
        }
    }

    #[test]
    fn lag_is_high_watermark_minus_offset_when_both_are_known() {
        let m = GroupMetrics::new("g");
        let s = m.snapshot(
            vec![
                inputs(Some(100), Some(40), Some(60)),
                inputs(None, Some(40), Some(60)),
                inputs(Some(100), None, None),
            ],
            (10, 100),
            0,
            0,
        );
        assert_eq!(s.partitions[0].committed_lag, Some(60));
        assert_eq!(s.partitions[0].processed_lag, Some(40));
        assert_eq!(s.partitions[1].committed_lag, None);
        assert_eq!(s.partitions[2].processed_lag, None);
        assert_eq!(s.committed_lag(), 60);
        assert_eq!(s.processed_lag(), 40);
    }

    #[test]
    fn counters_add_up() {
        let m = GroupMetrics::new("g");
        m.commits_sent(3);
        m.commits_succeeded(2);
        m.commits_failed(
            &rdkafka::error::KafkaError::ConsumerCommit(
                rdkafka::error::RDKafkaErrorCode::RequestTimedOut,
            ),
            1,
        );
        m.commit_answered(Duration::from_millis(5));
        m.rebalance(RebalanceEvent::Assigned, Some(3));
        m.rebalance(RebalanceEvent::Revoked, None);
        m.in_flight_changed(10, 1000);
        m.in_flight_changed(-4, -400);
        m.failures(PolicyKind::Stop, 2);
        let s = m.snapshot(Vec::new(), (0, 0), 0, 0);
        assert_eq!(s.commits.sent, 3);
        assert_eq!(s.commits.succeeded, 2);
        assert_eq!(s.commits.failed["RequestTimedOut"], 1);
        assert_eq!(s.commits.latency.count, 1);
        assert!(s.commits.last_success.is_some());
        assert_eq!((s.rebalances.assigned, s.rebalances.revoked), (1, 1));
        assert_eq!(s.rebalances.generation, Some(3));
        assert_eq!((s.in_flight_records, s.in_flight_bytes), (6, 600));
        assert_eq!((s.failures_continued, s.failures_stopped), (0, 2));
    }

    #[test]
    fn halted_records_count_from_the_halt() {
        let mut p = GroupMetrics::new("g")
            .snapshot(vec![inputs(Some(100), Some(40), Some(60))], (0, 0), 1, 0)
            .partitions
            .remove(0);
        assert_eq!(p.halted_records(), 0);
        p.halted_at = Some(45);
        assert_eq!(p.halted_records(), 15);
    }
}
