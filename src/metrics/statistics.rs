//! librdkafka's statistics, when switched on (`statistics.interval.ms` above 0; off by
//! default): the few fields that say something the library's own counters do not, taken
//! from the JSON librdkafka emits every interval.
//!
//! * per broker: the average round-trip time of the last interval (`rtt.avg`, microseconds);
//! * per assigned partition of a source: records in librdkafka's fetch queue
//!   (`fetchq_cnt`) and its own lag figure (`consumer_lag`);
//! * per producer: requests retried (`txretries`, summed over brokers).
//!
//! Only these fields are read (serde skips the rest); the document arrives on librdkafka's
//! own thread once per interval, never per record.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics::{Counter, Gauge};
use serde::Deserialize;

use super::names;
use crate::position::TopicPartition;

/// The fields read from a statistics document.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Statistics {
    #[serde(default)]
    brokers: BTreeMap<String, BrokerStatistics>,
    #[serde(default)]
    topics: BTreeMap<String, TopicStatistics>,
}

#[derive(Debug, Default, Deserialize)]
struct BrokerStatistics {
    /// -1 for bootstrap brokers not yet identified.
    #[serde(default = "minus_one")]
    nodeid: i32,
    #[serde(default)]
    rtt: Option<Window>,
    #[serde(default)]
    txretries: u64,
}

#[derive(Debug, Default, Deserialize)]
struct Window {
    /// Microseconds.
    #[serde(default)]
    avg: i64,
    /// Samples in the window; the average means nothing without one.
    #[serde(default)]
    cnt: i64,
}

#[derive(Debug, Default, Deserialize)]
struct TopicStatistics {
    #[serde(default)]
    partitions: BTreeMap<String, PartitionStatistics>,
}

#[derive(Debug, Default, Deserialize)]
struct PartitionStatistics {
    #[serde(default = "minus_one")]
    partition: i32,
    #[serde(default)]
    fetchq_cnt: i64,
    #[serde(default = "minus_one_i64")]
    consumer_lag: i64,
}

fn minus_one() -> i32 {
    -1
}

fn minus_one_i64() -> i64 {
    -1
}

/// A partition's figures from one statistics document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionFigures {
    pub fetch_queue: i64,
    /// librdkafka's lag, when it knows one.
    pub consumer_lag: Option<i64>,
}

impl Statistics {
    /// Parses a statistics document; `None` (and a debug log) if it is not one.
    pub(crate) fn parse(json: &[u8]) -> Option<Statistics> {
        match serde_json::from_slice(json) {
            Ok(statistics) => Some(statistics),
            Err(e) => {
                tracing::debug!("librdkafka statistics not understood: {e}");
                None
            }
        }
    }

    /// Each identified broker's average round-trip time over the last interval, in
    /// seconds, by the name librdkafka gives it (`host:port/id`).
    pub(crate) fn broker_rtts(&self) -> impl Iterator<Item = (&str, f64)> {
        self.brokers.iter().filter_map(|(name, b)| {
            let rtt = b.rtt.as_ref().filter(|w| w.cnt > 0)?;
            (b.nodeid >= 0).then_some((name.as_str(), rtt.avg as f64 / 1e6))
        })
    }

    /// Requests retried, summed over the brokers.
    pub(crate) fn retries(&self) -> u64 {
        self.brokers.values().map(|b| b.txretries).sum()
    }

    /// The figures of the partitions `wanted` says yes to.
    pub(crate) fn partitions(
        &self,
        mut wanted: impl FnMut(&TopicPartition) -> bool,
    ) -> Vec<(TopicPartition, PartitionFigures)> {
        let mut out = Vec::new();
        for (topic, t) in &self.topics {
            for p in t.partitions.values().filter(|p| p.partition >= 0) {
                let tp = TopicPartition::new(topic.as_str(), p.partition);
                if wanted(&tp) {
                    out.push((
                        tp,
                        PartitionFigures {
                            fetch_queue: p.fetchq_cnt.max(0),
                            consumer_lag: (p.consumer_lag >= 0).then_some(p.consumer_lag),
                        },
                    ));
                }
            }
        }
        out
    }
}

/// A source's statistics handles.
pub(crate) struct SourceStatistics {
    group: String,
    brokers: HashMap<String, Gauge>,
    partitions: HashMap<TopicPartition, (Gauge, Gauge)>,
    shown: BTreeSet<TopicPartition>,
    /// The last document's figures, for snapshots.
    last_rtts: BTreeMap<String, Duration>,
    last_partitions: HashMap<TopicPartition, PartitionFigures>,
}

impl SourceStatistics {
    pub(crate) fn new(group: &str) -> Self {
        SourceStatistics {
            group: group.to_owned(),
            brokers: HashMap::new(),
            partitions: HashMap::new(),
            shown: BTreeSet::new(),
            last_rtts: BTreeMap::new(),
            last_partitions: HashMap::new(),
        }
    }

    /// The last document's figures for `tp`, if it had any.
    pub(crate) fn figures(&self, tp: &TopicPartition) -> Option<PartitionFigures> {
        self.last_partitions.get(tp).copied()
    }

    /// The last document's broker round-trip times.
    pub(crate) fn rtts(&self) -> BTreeMap<String, Duration> {
        self.last_rtts.clone()
    }

    /// Records a document's figures for the partitions `assigned` says this process holds.
    pub(crate) fn record(
        &mut self,
        statistics: &Statistics,
        assigned: impl FnMut(&TopicPartition) -> bool,
    ) {
        self.last_rtts.clear();
        self.last_partitions.clear();
        for (broker, rtt) in statistics.broker_rtts() {
            self.last_rtts
                .insert(broker.to_owned(), Duration::from_secs_f64(rtt));
            let group = &self.group;
            self.brokers
                .entry(broker.to_owned())
                .or_insert_with(|| {
                    metrics::gauge!(
                        names::SOURCE_BROKER_RTT,
                        "group" => group.clone(),
                        "broker" => broker.to_owned()
                    )
                })
                .set(rtt);
        }
        let mut shown = BTreeSet::new();
        for (tp, figures) in statistics.partitions(assigned) {
            let group = &self.group;
            let (queue, lag) = self.partitions.entry(tp.clone()).or_insert_with(|| {
                let labels = [
                    ("group", group.clone()),
                    ("topic", tp.topic.to_string()),
                    ("partition", tp.partition.to_string()),
                ];
                (
                    metrics::gauge!(names::FETCH_QUEUE, &labels),
                    metrics::gauge!(names::LIBRDKAFKA_LAG, &labels),
                )
            });
            queue.set(figures.fetch_queue as f64);
            if let Some(l) = figures.consumer_lag {
                lag.set(l as f64);
            }
            self.last_partitions.insert(tp.clone(), figures);
            shown.insert(tp);
        }
        for gone in self.shown.difference(&shown) {
            if let Some((queue, lag)) = self.partitions.get(gone) {
                queue.set(0.0);
                lag.set(0.0);
            }
        }
        self.shown = shown;
    }
}

/// A sink's statistics handles (one producer per worker: gauges are last-writer-wins,
/// counters add each producer's increase).
pub(crate) struct SinkStatistics {
    brokers: std::sync::Mutex<HashMap<String, Gauge>>,
    retries: Counter,
    retries_seen: AtomicU64,
}

impl SinkStatistics {
    pub(crate) fn new() -> Self {
        SinkStatistics {
            brokers: std::sync::Mutex::new(HashMap::new()),
            retries: metrics::counter!(names::SINK_REQUEST_RETRIES),
            retries_seen: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, statistics: &Statistics) {
        let mut brokers = self.brokers.lock().unwrap_or_else(|e| e.into_inner());
        for (broker, rtt) in statistics.broker_rtts() {
            brokers
                .entry(broker.to_owned())
                .or_insert_with(
                    || metrics::gauge!(names::SINK_BROKER_RTT, "broker" => broker.to_owned()),
                )
                .set(rtt);
        }
        let retries = statistics.retries();
        let before = self.retries_seen.fetch_max(retries, Ordering::Relaxed);
        if retries > before {
            self.retries.increment(retries - before);
        }
    }

    /// Requests retried so far, as the last statistics said.
    pub(crate) fn retries(&self) -> u64 {
        self.retries_seen.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from a librdkafka 2.12 consumer's statistics.
    const DOCUMENT: &str = r#"{
      "name": "rdkafka#consumer-1", "type": "consumer", "ts": 123, "msg_cnt": 0,
      "brokers": {
        "127.0.0.1:40000/bootstrap": {"name": "127.0.0.1:40000/bootstrap", "nodeid": -1,
          "rtt": {"min": 0, "max": 0, "avg": 0, "cnt": 0}, "txretries": 0},
        "127.0.0.1:40000/1": {"name": "127.0.0.1:40000/1", "nodeid": 1, "state": "UP",
          "rtt": {"min": 100, "max": 900, "avg": 250, "p99": 900, "cnt": 12}, "txretries": 3},
        "GroupCoordinator": {"nodeid": -1, "rtt": {"avg": 5, "cnt": 1}}
      },
      "topics": {
        "in": {"topic": "in", "partitions": {
          "0": {"partition": 0, "fetchq_cnt": 40, "consumer_lag": 7, "fetch_state": "active"},
          "1": {"partition": 1, "fetchq_cnt": 0, "consumer_lag": -1},
          "-1": {"partition": -1, "fetchq_cnt": 0, "consumer_lag": -1}
        }}
      },
      "cgrp": {"state": "up"}
    }"#;

    #[test]
    fn reads_rtt_fetch_queue_and_lag() {
        let s = Statistics::parse(DOCUMENT.as_bytes()).unwrap();
        let rtts: Vec<_> = s.broker_rtts().collect();
        assert_eq!(rtts, vec![("127.0.0.1:40000/1", 0.00025)]);
        assert_eq!(s.retries(), 3);
        let parts = s.partitions(|_| true);
        assert_eq!(
            parts,
            vec![
                (
                    TopicPartition::new("in", 0),
                    PartitionFigures {
                        fetch_queue: 40,
                        consumer_lag: Some(7)
                    }
                ),
                (
                    TopicPartition::new("in", 1),
                    PartitionFigures {
                        fetch_queue: 0,
                        consumer_lag: None
                    }
                ),
            ]
        );
        assert_eq!(s.partitions(|tp| tp.partition == 1).len(), 1);
    }

    #[test]
    fn a_document_it_cannot_read_is_skipped() {
        assert!(Statistics::parse(b"not json").is_none());
        assert!(Statistics::parse(b"{}").is_some());
    }
}
