//! [`SourceConfig`]: one consumer-group membership per process, built and validated at once.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::group::{GroupSettings, MembershipSlot};

/// When processed offsets go back to the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitCadence {
    /// At most once per interval (broadway_kafka's `offset_commit_interval`).
    Interval(Duration),
    /// As soon as the frontier shows new records fully processed
    /// (broadway_kafka's `offset_commit_on_ack`). More commit requests, smaller replay window.
    OnFrontierAdvance,
}

/// The source's own settings: how it stamps time, when it commits, how much it reads.
/// The group's membership runs by [`GroupSettings`].
#[derive(Debug, Clone)]
pub(crate) struct SourceSettings {
    pub tick: Duration,
    pub commit: CommitCadence,
    pub drain_timeout: Duration,
    pub max_records_per_activation: usize,
    pub max_in_flight_records: u64,
    pub max_in_flight_bytes: u64,
}

/// The configuration of one Kafka source: which group to join, which topics to read, how to
/// stamp time and when to commit.
///
/// A `SourceConfig` stands for **one group membership per process**. Build it once, outside
/// `timely::execute`, and call [`kafka_source`](crate::KafkaSourceExt::kafka_source) with it on
/// every worker: the workers of a process share its membership, and the partitions assigned
/// to the process are spread over them. Clones share the membership too; build a second
/// config for a second, independent membership.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use timely_kafka::{OffsetReset, SourceConfig};
///
/// let config = SourceConfig::builder()
///     .brokers("localhost:9092")
///     .group_id("orders-audit")
///     .topic("orders")
///     .offset_reset(OffsetReset::Earliest)
///     .tick(Duration::from_millis(50))
///     .commit_interval(Duration::from_secs(2))
///     .set("client.id", "audit-1")
///     .set("sasl.password", "hunter2")
///     .build()
///     .unwrap();
/// // Secrets never reach logs.
/// assert!(!format!("{config:?}").contains("hunter2"));
///
/// // Settings correctness depends on cannot be turned back on.
/// let err = SourceConfig::builder()
///     .brokers("localhost:9092")
///     .group_id("g")
///     .topic("orders")
///     .set("enable.auto.commit", "true")
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("enable.auto.commit"));
/// ```
#[derive(Clone)]
pub struct SourceConfig {
    pub(crate) group: Arc<GroupSettings>,
    pub(crate) source: SourceSettings,
    pub(crate) membership: Arc<MembershipSlot>,
}

impl SourceConfig {
    /// The bootstrap servers.
    pub fn brokers(&self) -> &str {
        &self.group.brokers
    }

    /// The consumer group id.
    pub fn group_id(&self) -> &str {
        &self.group.group_id
    }

    /// The subscribed topics.
    pub fn topics(&self) -> &[String] {
        &self.group.topics
    }

    /// The length of one timestamp tick.
    pub fn tick(&self) -> Duration {
        self.source.tick
    }

    /// The metadata string this source sends with every offset commit,
    /// `timely-kafka:{pid}:{nanoseconds}`: different for every process and every run, so
    /// the group's committed offsets show which run committed them.
    pub fn commit_metadata(&self) -> &str {
        &self.group.commit_metadata
    }
}

impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = &self.group;
        let source = &self.source;
        f.debug_struct("SourceConfig")
            .field("brokers", &group.brokers)
            .field("group_id", &group.group_id)
            .field("topics", &group.topics)
            .field("group_protocol", &group.group_protocol)
            .field("start", &group.start)
            .field("tick", &source.tick)
            .field("commit", &source.commit)
            .field("connect_timeout", &group.connect_timeout)
            .field("drain_timeout", &source.drain_timeout)
            .field("revoke_drain_timeout", &group.revoke_drain_timeout)
            .field("passthrough", &group.passthrough)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults the README and the setters' docs state.
    #[test]
    fn defaults_are_the_documented_ones() {
        let config = SourceConfig::builder()
            .brokers("localhost:9092")
            .group_id("g")
            .topic("t")
            .build()
            .unwrap();
        let s = &config.source;
        assert_eq!(s.drain_timeout, Duration::from_secs(30), "drain_timeout");
        assert_eq!(
            config.group.revoke_drain_timeout,
            Duration::from_secs(10),
            "revoke_drain_timeout"
        );
        assert_eq!(
            s.commit,
            CommitCadence::Interval(Duration::from_secs(1)),
            "commit cadence"
        );
        assert_eq!(s.max_in_flight_records, 1_000_000, "max_in_flight_records");
        assert_eq!(s.max_in_flight_bytes, 32 << 20, "max_in_flight_bytes");
    }
}
