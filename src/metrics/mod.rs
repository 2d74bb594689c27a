//! Metrics: what the sources and sinks of this process are doing, as figures.
//!
//! ```text
//!  worker sources ──► atomics (per partition, per group) ──┬──► SourceControl::metrics()
//!  commit / group threads ─┘                               │    (a SourceMetrics snapshot)
//!                                                          └──► `metrics` facade, every
//!                                                               500 ms, from the group thread
//!  sink operator + delivery reports ──► atomics ──► SinkHandle::metrics(), and the facade
//!                                                   once per activation (at most every 200 ms)
//! ```
//!
//! Every figure is kept in the library's own counters first, so the same numbers are there
//! in-process ([`SourceControl::metrics`](crate::SourceControl::metrics),
//! [`SinkHandle::metrics`](crate::sink::SinkHandle::metrics)) for programs without
//! Prometheus. They are also recorded through the [`metrics`](https://docs.rs/metrics) facade:
//! install any recorder (`metrics-exporter-prometheus`, `metrics-exporter-statsd`, ...) before
//! building sources and sinks, and call [`describe`] once to give each metric its help text.
//! The library never installs a recorder itself; without one, the facade calls are no-ops.
//! The `timely-kafka` command's `--metrics-addr` serves them in Prometheus' text format (see
//! [`Exporter`](crate::exporter::Exporter), with the `cli` feature).
//!
//! # Cost
//!
//! No per-record work touches the facade: the source counts records and bytes per partition
//! and activation in two relaxed atomic additions, and the group thread publishes every
//! figure every 500 ms; the sink counts delivery reports in atomics it already kept and
//! publishes them at most every 200 ms. Commit, rebalance and drain timings are recorded when
//! they happen (a few per second at most).
//!
//! # Names and labels
//!
//! Prometheus conventions: counters end in `_total`, durations are in `_seconds`, sizes in
//! `_bytes`. Labels are bounded: `group` (one per source config), `topic` and `partition`
//! (only the partitions assigned to this process), `event`, `policy` and `error` (small
//! fixed sets; `error` is librdkafka's error code name). [`METRICS`] lists every metric
//! (the README's "Metrics" section is the same table).
//!
//! # librdkafka statistics
//!
//! Set `statistics.interval.ms` (off by default) on a source or sink and a few fields of
//! librdkafka's statistics are recorded too: broker round-trip times, records waiting in
//! each assigned partition's fetch queue, librdkafka's own lag figure, and the producer's
//! request retries. Only those fields are parsed, once per interval.
//!
//! Partition gauges describe the partitions this process holds. When one is revoked, its lag
//! gauges are set to 0 here (the member that takes it over reports it from then on); its
//! offsets and counters keep their last values.

mod sink;
mod source;
mod statistics;

pub use sink::SinkMetrics;
pub use source::{CommitMetrics, DurationStats, PartitionMetrics, RebalanceMetrics, SourceMetrics};

pub(crate) use sink::SinkRecorder;
pub(crate) use source::{
    GroupMetrics, PartitionInputs, PartitionRead, PolicyKind, ReadCounts, RebalanceEvent,
};
pub(crate) use statistics::Statistics;

use metrics::{KeyName, SharedString, Unit};

/// What kind of metric a [`MetricInfo`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonic count (its name ends in `_total`).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution (Prometheus histogram: `_bucket`, `_sum`, `_count`).
    Histogram,
}

impl MetricKind {
    /// The Prometheus type name: `counter`, `gauge` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric the library records: its name, kind, labels and meaning.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// The metric's name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Its label names.
    pub labels: &'static [&'static str],
    /// What it measures (the Prometheus `HELP` text).
    pub help: &'static str,
}

const PARTITION: &[&str] = &["group", "topic", "partition"];
const GROUP: &[&str] = &["group"];

macro_rules! metric {
    ($const:ident, $name:literal, $kind:ident, $labels:expr, $help:literal) => {
        pub(crate) const $const: &str = $name;
    };
}

macro_rules! metrics_table {
    ($(($const:ident, $name:literal, $kind:ident, $labels:expr, $help:literal)),* $(,)?) => {
        /// The metric names, as constants for the code that records them.
        pub(crate) mod names {
            $(metric!($const, $name, $kind, $labels, $help);)*
        }
        /// Every metric the library records, in the order the README lists them.
        pub const METRICS: &[MetricInfo] = &[
            $(MetricInfo { name: $name, kind: MetricKind::$kind, labels: $labels, help: $help },)*
        ];
    };
}

metrics_table! {
    (HIGH_WATERMARK, "timely_kafka_source_high_watermark", Gauge, PARTITION,
        "High watermark of an assigned partition, from librdkafka's last fetch response (no request is sent)."),
    (COMMITTED_OFFSET, "timely_kafka_source_committed_offset", Gauge, PARTITION,
        "Last offset the broker acknowledged as committed by this process for the partition."),
    (PROCESSED_OFFSET, "timely_kafka_source_processed_offset", Gauge, PARTITION,
        "Offset after the last record of the partition the dataflow has fully processed (the next offset to process)."),
    (COMMITTED_LAG, "timely_kafka_source_committed_lag_records", Gauge, PARTITION,
        "High watermark minus committed offset: records a restart would read again or still has to read."),
    (PROCESSED_LAG, "timely_kafka_source_processed_lag_records", Gauge, PARTITION,
        "High watermark minus the next offset to process: records not yet fully processed."),
    (RECORDS_READ, "timely_kafka_source_records_read_total", Counter, PARTITION,
        "Records read from the partition and emitted into the dataflow."),
    (BYTES_READ, "timely_kafka_source_bytes_read_total", Counter, PARTITION,
        "Key and payload bytes of the records read from the partition."),
    (HALTED_RECORDS, "timely_kafka_source_halted_records", Gauge, PARTITION,
        "Records processed at or past a FailurePolicy::Stop halt of the partition, and so never committed."),
    (ASSIGNED_PARTITIONS, "timely_kafka_source_assigned_partitions", Gauge, GROUP,
        "Partitions currently assigned to this process."),
    (GENERATION, "timely_kafka_source_group_generation", Gauge, GROUP,
        "The consumer group's generation (member epoch under the consumer protocol) at the last rebalance."),
    (IN_FLIGHT_RECORDS, "timely_kafka_source_in_flight_records", Gauge, GROUP,
        "Records read and not yet past the commit frontier, over all local workers."),
    (IN_FLIGHT_BYTES, "timely_kafka_source_in_flight_bytes", Gauge, GROUP,
        "Bytes of the records in flight (key, payload and a fixed overhead per record), over all local workers."),
    (PREFETCHED_RECORDS, "timely_kafka_source_prefetched_records", Gauge, GROUP,
        "Records librdkafka has fetched that the workers have not read yet, over all local workers' queues."),
    (COMMITS_SENT, "timely_kafka_source_commits_sent_total", Counter, GROUP,
        "Partition offsets sent to the group coordinator in commit requests."),
    (COMMITS_SUCCEEDED, "timely_kafka_source_commits_succeeded_total", Counter, GROUP,
        "Partition offsets the broker accepted."),
    (COMMITS_FAILED, "timely_kafka_source_commits_failed_total", Counter, &["group", "error"],
        "Partition offsets whose commit failed (refused, or not sent), by librdkafka error code; they are sent again."),
    (COMMIT_DURATION, "timely_kafka_source_commit_duration_seconds", Histogram, GROUP,
        "Time from sending a commit request to the broker's answer."),
    (LAST_COMMIT, "timely_kafka_source_last_commit_timestamp_seconds", Gauge, GROUP,
        "Unix time of the last commit the broker accepted."),
    (REBALANCES, "timely_kafka_source_rebalances_total", Counter, &["group", "event"],
        "Rebalance callbacks by event: assigned, revoked (drained and committed first) or lost (taken without a drain)."),
    (REVOKE_DRAIN, "timely_kafka_source_revoke_drain_duration_seconds", Histogram, GROUP,
        "Time a revoke spent draining in-flight records and committing before releasing its partitions."),
    (FAILURES, "timely_kafka_source_failures_total", Counter, &["group", "policy"],
        "Failed records seen by a failure policy, by policy (continue or stop)."),
    (HALTED_PARTITIONS, "timely_kafka_source_halted_partitions", Gauge, GROUP,
        "Partitions whose commits a FailurePolicy::Stop halted."),
    (SOURCE_BROKER_RTT, "timely_kafka_source_broker_rtt_seconds", Gauge, &["group", "broker"],
        "Average round-trip time to the broker over the last statistics interval, from librdkafka's statistics (only with statistics.interval.ms)."),
    (FETCH_QUEUE, "timely_kafka_source_fetch_queue_records", Gauge, PARTITION,
        "Records fetched and waiting in librdkafka's queue for the partition (fetchq_cnt; only with statistics.interval.ms)."),
    (LIBRDKAFKA_LAG, "timely_kafka_source_librdkafka_lag_records", Gauge, PARTITION,
        "librdkafka's own lag figure for the partition (consumer_lag; only with statistics.interval.ms)."),
    (SINK_SENT, "timely_kafka_sink_records_sent_total", Counter, &[],
        "Records the sink handed to librdkafka."),
    (SINK_ACKNOWLEDGED, "timely_kafka_sink_records_acknowledged_total", Counter, &[],
        "Records the broker acknowledged (delivery reports without error)."),
    (SINK_FAILED, "timely_kafka_sink_records_failed_total", Counter, &["error"],
        "Records that failed for good (failed delivery reports and records refused by librdkafka), by librdkafka error code."),
    (SINK_RETRIED, "timely_kafka_sink_enqueue_retries_total", Counter, &[],
        "Sends retried after librdkafka's queue was full. librdkafka's own produce retries are in its statistics."),
    (SINK_DELIVERY, "timely_kafka_sink_delivery_duration_seconds", Histogram, &[],
        "Per tick: time from its first record handed to librdkafka until the broker acknowledged its last one."),
    (SINK_QUEUE, "timely_kafka_sink_queue_records", Gauge, &[],
        "Messages and requests in librdkafka's producer queues (its out-queue length), over all local sinks."),
    (SINK_QUEUE_WAIT, "timely_kafka_sink_queue_full_wait_seconds", Histogram, &[],
        "Per sink activation that found librdkafka's queue full: how long it waited for room (the sum is the total time waited)."),
    (SINK_BROKER_RTT, "timely_kafka_sink_broker_rtt_seconds", Gauge, &["broker"],
        "Average round-trip time from a sink's producer to the broker over the last statistics interval (only with statistics.interval.ms)."),
    (SINK_REQUEST_RETRIES, "timely_kafka_sink_request_retries_total", Counter, &[],
        "Requests librdkafka's producers retried, summed over brokers (txretries; only with statistics.interval.ms)."),
}

/// Gives every metric of [`METRICS`] its help text (and unit) in the installed recorder.
/// Call it once after installing a recorder; without one it does nothing.
///
/// ```
/// timely_kafka::metrics::describe();
/// assert!(timely_kafka::metrics::METRICS
///     .iter()
///     .any(|m| m.name == "timely_kafka_source_committed_lag_records"));
/// ```
pub fn describe() {
    metrics::with_recorder(|recorder| {
        for metric in METRICS {
            let name = KeyName::from_const_str(metric.name);
            let help = SharedString::const_str(metric.help);
            let unit = unit_of(metric.name);
            match metric.kind {
                MetricKind::Counter => recorder.describe_counter(name, unit, help),
                MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
                MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
            }
        }
    });
}

/// The unit a name's suffix says.
fn unit_of(name: &str) -> Option<Unit> {
    let name = name.strip_suffix("_total").unwrap_or(name);
    if name.ends_with("_seconds") {
        Some(Unit::Seconds)
    } else if name.ends_with("_bytes") {
        Some(Unit::Bytes)
    } else {
        Some(Unit::Count)
    }
}

/// A bounded label value for an rdkafka error: its librdkafka error code's name, or the
/// kind of error when it has no code.
pub(crate) fn error_kind(error: &rdkafka::error::KafkaError) -> String {
    match (error.rdkafka_error_code(), error) {
        (Some(code), _) => format!("{code:?}"),
        (None, rdkafka::error::KafkaError::Canceled) => "Canceled".to_owned(),
        (None, _) => "Other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::BTreeSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(m.name.starts_with("timely_kafka_"), "{}", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == MetricKind::Counter,
                m.name.ends_with("_total"),
                "{}: counters, and only counters, end in _total",
                m.name
            );
            if m.kind == MetricKind::Histogram {
                assert!(m.name.ends_with("_seconds"), "{}", m.name);
            }
            assert!(!m.help.is_empty());
        }
    }

    #[test]
    fn error_kinds_are_code_names() {
        use rdkafka::error::{KafkaError, RDKafkaErrorCode};
        assert_eq!(
            error_kind(&KafkaError::ConsumerCommit(
                RDKafkaErrorCode::RebalanceInProgress
            )),
            "RebalanceInProgress"
        );
        assert_eq!(error_kind(&KafkaError::Canceled), "Canceled");
    }
}
