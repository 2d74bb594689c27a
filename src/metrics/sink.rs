//! The sink's figures: counted in atomics by the sink operator and its producer's delivery
//! callback, read as a [`SinkMetrics`] snapshot, published to the `metrics` facade by the
//! operator (at most every 200 ms).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};

use super::names;
use super::source::DurationStats;
use super::statistics::{SinkStatistics, Statistics};

/// How often a sink operator publishes its figures to the facade, at most.
const PUBLISH_INTERVAL: Duration = Duration::from_millis(200);

/// A snapshot of one worker's sink: from [`SinkHandle::metrics`](crate::sink::SinkHandle::metrics).
///
/// ```no_run
/// # fn show(sink: &timely_kafka::sink::SinkHandle) {
/// let m = sink.metrics();
/// println!("{} of {} acknowledged", m.acknowledged, m.sent);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkMetrics {
    /// Records handed to librdkafka.
    pub sent: u64,
    /// Records the broker acknowledged.
    pub acknowledged: u64,
    /// Records that failed for good, by librdkafka error code name (or the sink's own
    /// reason: `NoTopic`, `Metadata`, `BadPartition`, `Stopped`).
    pub failed: BTreeMap<String, u64>,
    /// Sends retried after librdkafka's queue was full.
    pub enqueue_retries: u64,
    /// Records handed to librdkafka and not yet acknowledged.
    pub in_flight: u64,
    /// librdkafka's out-queue length (messages and requests) when last looked at.
    pub queue_depth: u64,
    /// Time spent waiting for room in a full producer queue.
    pub queue_full_wait: Duration,
    /// Per tick: from its first record handed to librdkafka until its last one was
    /// acknowledged.
    pub tick_deliveries: DurationStats,
    /// Requests librdkafka's producer retried, from its last statistics (only with
    /// `statistics.interval.ms`).
    pub request_retries: u64,
}

impl SinkMetrics {
    /// Failed records, every error together.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// One sink's counters (the acknowledged count and in-flight records are kept by its
/// delivery ledger).
pub(crate) struct SinkRecorder {
    sent: AtomicU64,
    failed: Mutex<BTreeMap<String, u64>>,
    retries: AtomicU64,
    queue_wait_nanos: AtomicU64,
    queue_depth: AtomicU64,
    deliveries: Mutex<DurationStats>,
    histogram: Histogram,
    wait_histogram: Histogram,
    publisher: Mutex<SinkPublisher>,
    statistics: SinkStatistics,
}

impl SinkRecorder {
    pub(crate) fn new() -> Self {
        SinkRecorder {
            sent: AtomicU64::new(0),
            failed: Mutex::new(BTreeMap::new()),
            retries: AtomicU64::new(0),
            queue_wait_nanos: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            deliveries: Mutex::new(DurationStats::default()),
            histogram: metrics::histogram!(names::SINK_DELIVERY),
            wait_histogram: metrics::histogram!(names::SINK_QUEUE_WAIT),
            publisher: Mutex::new(SinkPublisher::new()),
            statistics: SinkStatistics::new(),
        }
    }

    /// Records about to be handed to librdkafka (per container).
    pub(crate) fn sent(&self, records: u64) {
        self.sent.fetch_add(records, Ordering::Relaxed);
    }

    /// A record that failed for good, with a bounded reason.
    pub(crate) fn failed(&self, reason: &str) {
        let mut failed = lock(&self.failed);
        match failed.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                failed.insert(reason.to_owned(), 1);
            }
        }
    }

    /// A send retried after a full queue.
    pub(crate) fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Time one activation spent waiting for room (called once per activation that
    /// waited, not per record).
    pub(crate) fn waited(&self, duration: Duration) {
        self.queue_wait_nanos
            .fetch_add(duration.as_nanos() as u64, Ordering::Relaxed);
        self.wait_histogram.record(duration.as_secs_f64());
    }

    /// A tick's records were all acknowledged, `duration` after its first was sent.
    pub(crate) fn tick_delivered(&self, duration: Duration) {
        lock(&self.deliveries).add(duration);
        self.histogram.record(duration.as_secs_f64());
    }

    /// Records a librdkafka statistics document of this sink's producer.
    pub(crate) fn statistics(&self, statistics: &Statistics) {
        self.statistics.record(statistics);
    }

    pub(crate) fn snapshot(&self, acknowledged: u64, in_flight: u64) -> SinkMetrics {
        SinkMetrics {
            sent: self.sent.load(Ordering::Relaxed),
            acknowledged,
            failed: lock(&self.failed).clone(),
            enqueue_retries: self.retries.load(Ordering::Relaxed),
            in_flight,
            queue_depth: self.queue_depth.load(Ordering::Relaxed),
            queue_full_wait: Duration::from_nanos(self.queue_wait_nanos.load(Ordering::Relaxed)),
            tick_deliveries: *lock(&self.deliveries),
            request_retries: self.statistics.retries(),
        }
    }

    /// Publishes to the facade if the last publish is older than the interval, or `now`.
    /// `queue_depth` says librdkafka's out-queue length (asked only when publishing), `None`
    /// once the sink is done (its share of the process's queue gauge is then taken back).
    pub(crate) fn publish(
        &self,
        acknowledged: u64,
        queue_depth: impl FnOnce() -> Option<u64>,
        now: bool,
    ) {
        let mut publisher = lock(&self.publisher);
        if !now && publisher.last.elapsed() < PUBLISH_INTERVAL {
            return;
        }
        publisher.last = Instant::now();
        let queue_depth = queue_depth();
        self.queue_depth
            .store(queue_depth.unwrap_or(0), Ordering::Relaxed);
        let failed = lock(&self.failed).clone();
        publisher.publish(
            self.sent.load(Ordering::Relaxed),
            acknowledged,
            &failed,
            self.retries.load(Ordering::Relaxed),
            queue_depth.unwrap_or(0),
        );
    }
}

/// The facade's handles and what this sink last added to each: several sinks (one per
/// worker) add to the same series.
struct SinkPublisher {
    last: Instant,
    sent: (Counter, u64),
    acknowledged: (Counter, u64),
    failed: HashMap<String, (Counter, u64)>,
    retries: (Counter, u64),
    queue: (Gauge, u64),
}

impl SinkPublisher {
    fn new() -> Self {
        SinkPublisher {
            last: Instant::now() - PUBLISH_INTERVAL,
            sent: (metrics::counter!(names::SINK_SENT), 0),
            acknowledged: (metrics::counter!(names::SINK_ACKNOWLEDGED), 0),
            failed: HashMap::new(),
            retries: (metrics::counter!(names::SINK_RETRIED), 0),
            queue: (metrics::gauge!(names::SINK_QUEUE), 0),
        }
    }

    fn publish(
        &mut self,
        sent: u64,
        acknowledged: u64,
        failed: &BTreeMap<String, u64>,
        retries: u64,
        queue: u64,
    ) {
        let add = |(counter, published): &mut (Counter, u64), value: u64| {
            if value > *published {
                counter.increment(value - *published);
                *published = value;
            }
        };
        add(&mut self.sent, sent);
        add(&mut self.acknowledged, acknowledged);
        add(&mut self.retries, retries);
        for (reason, n) in failed {
            let entry = self.failed.entry(reason.clone()).or_insert_with(|| {
                (
                    metrics::counter!(names::SINK_FAILED, "error" => reason.clone()),
                    0,
                )
            });
            add(entry, *n);
        }
        let (gauge, last) = &mut self.queue;
        if queue != *last {
            gauge.increment(queue as f64 - *last as f64);
            *last = queue;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
