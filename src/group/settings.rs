//! The settings the group's membership runs by, validated by the source's builder.

use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::hooks::LifecycleHooks;
use super::protocol::GroupProtocol;
use super::start_policy::StartPolicy;
use crate::client::{millis, Passthrough};
use crate::source::prefetch::{LimitOverrides, PrefetchLimits};

/// What the process's group membership needs: whom to ask, which group and topics, how to
/// join and where to start, and how its consumer fetches. Built by
/// [`SourceConfigBuilder::build`](crate::SourceConfigBuilder::build).
#[derive(Clone)]
pub(crate) struct GroupSettings {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    pub group_protocol: GroupProtocol,
    pub start: StartPolicy,
    pub connect_timeout: Duration,
    pub revoke_drain_timeout: Duration,
    pub fetch_queue_backoff: Duration,
    pub fetch_max_wait: Duration,
    pub fetch_min_bytes: u32,
    /// The process-wide prefetch budget, divided among the worker queues (see
    /// `source/prefetch.rs`).
    pub prefetch_budget: u64,
    /// Fetch limits the user set explicitly.
    pub limit_overrides: LimitOverrides,
    /// `fetch.max.bytes`, derived from the prefetch budget; a value given with `set` wins.
    pub fetch_max_bytes: u32,
    pub passthrough: Passthrough,
    pub hooks: LifecycleHooks,
    pub static_member: Option<String>,
    /// The metadata string sent with every commit: names this process's run, so a reader of
    /// the group's offsets can tell this run's commits from earlier ones.
    pub commit_metadata: String,
}

impl GroupSettings {
    /// The `fetch.max.bytes` to set, or `None` to leave it to the user or to librdkafka.
    ///
    /// Once set, librdkafka stops adjusting it and refuses a client whose
    /// `message.max.bytes` is larger or whose `receive.message.max.bytes` is not 512 bytes
    /// above it. So: nothing if the user set it; at least the user's `message.max.bytes`
    /// (librdkafka's default 1,000,000); at most the user's `receive.message.max.bytes`
    /// − 512, and nothing if those two leave no room.
    fn fetch_max_bytes(&self) -> Option<u32> {
        let user = |key: &str| self.passthrough.get(key);
        if user("fetch.max.bytes").is_some() {
            return None;
        }
        let parse = |key: &str| user(key).and_then(|v| v.trim().parse::<u64>().ok());
        let floor = parse("message.max.bytes").unwrap_or(1_000_000);
        let ceiling = parse("receive.message.max.bytes").map(|r| r.saturating_sub(512));
        let wanted = u64::from(self.fetch_max_bytes).max(floor);
        match ceiling {
            Some(ceiling) if ceiling < floor => None,
            Some(ceiling) => Some(wanted.min(ceiling)),
            None => Some(wanted),
        }
        .and_then(|v| u32::try_from(v).ok())
    }

    /// librdkafka's fetch limits for a consumer whose partitions forward to `workers` worker
    /// queues.
    pub(crate) fn prefetch_limits(&self, workers: usize) -> PrefetchLimits {
        PrefetchLimits::derive(self.prefetch_budget, workers, self.limit_overrides)
    }

    /// The librdkafka configuration of the group's consumer, for `workers` worker queues.
    pub(crate) fn client_config(&self, workers: usize) -> ClientConfig {
        let limits = self.prefetch_limits(workers);
        let mut config = ClientConfig::new();
        if let Some(fetch_max_bytes) = self.fetch_max_bytes() {
            config.set("fetch.max.bytes", fetch_max_bytes.to_string());
        }
        self.passthrough.apply_to(&mut config);
        self.group_protocol.apply_to(&mut config);
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // librdkafka's batch read moves the position one past an end-of-partition event,
            // and a pause then resumes there, skipping a record: keep them off.
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", self.start.reset().auto_offset_reset())
            .set("fetch.queue.backoff.ms", millis(self.fetch_queue_backoff))
            .set("fetch.wait.max.ms", millis(self.fetch_max_wait))
            .set("fetch.min.bytes", self.fetch_min_bytes.to_string())
            .set(
                "max.partition.fetch.bytes",
                limits.max_partition_fetch_bytes.to_string(),
            )
            .set(
                "queued.max.messages.kbytes",
                limits.queued_max_kbytes.to_string(),
            )
            .set(
                "queued.min.messages",
                limits.queued_min_messages.to_string(),
            );
        if let Some(instance) = &self.static_member {
            config.set("group.instance.id", instance);
        }
        config
    }
}

impl fmt::Debug for GroupSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupSettings")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("topics", &self.topics)
            .field("group_protocol", &self.group_protocol)
            .field("start", &self.start)
            .field("connect_timeout", &self.connect_timeout)
            .field("revoke_drain_timeout", &self.revoke_drain_timeout)
            .field("static_member", &self.static_member)
            .field("passthrough", &self.passthrough)
            .finish_non_exhaustive()
    }
}
