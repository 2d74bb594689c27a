//! [`SourceConfigBuilder`]: every setting of a source with its default, checked at once in
//! [`build`](SourceConfigBuilder::build).

use std::sync::Arc;
use std::time::Duration;

use super::config::{CommitCadence, SourceConfig, SourceSettings};
use super::prefetch::LimitOverrides;
use crate::client::{
    check_client_config, check_security, merge_security, positive, required, validate_topic_name,
    Forced, Managed, Passthrough, Refused, Security,
};
use crate::error::ConfigError;
use crate::group::{
    Assignment, GroupProtocol, GroupSettings, HookError, LifecycleHook, LifecycleHooks,
    MembershipSlot, OffsetReset, StartPolicy,
};

/// The default process-wide prefetch budget: 64 MiB.
const DEFAULT_PREFETCH_BUDGET: u64 = 64 << 20;

/// Keys that typed setters own.
const MANAGED: &[Managed] = &[
    Managed {
        key: "bootstrap.servers",
        setter: "brokers",
    },
    Managed {
        key: "metadata.broker.list",
        setter: "brokers",
    },
    Managed {
        key: "group.id",
        setter: "group_id",
    },
    Managed {
        key: "group.instance.id",
        setter: "static_membership",
    },
    Managed {
        key: "group.protocol",
        setter: "group_protocol",
    },
    Managed {
        key: "partition.assignment.strategy",
        setter: "group_protocol",
    },
    Managed {
        key: "group.remote.assignor",
        setter: "group_protocol",
    },
    Managed {
        key: "auto.offset.reset",
        setter: "offset_reset",
    },
    Managed {
        key: "fetch.queue.backoff.ms",
        setter: "fetch_queue_backoff",
    },
    Managed {
        key: "fetch.wait.max.ms",
        setter: "fetch_max_wait",
    },
    Managed {
        key: "fetch.min.bytes",
        setter: "fetch_min_bytes",
    },
    Managed {
        key: "max.partition.fetch.bytes",
        setter: "max_partition_fetch_bytes",
    },
    Managed {
        key: "queued.min.messages",
        setter: "queued_min_messages",
    },
    Managed {
        key: "queued.max.messages.kbytes",
        setter: "queued_max_kbytes",
    },
];

/// Keys whose values frontier-driven commits depend on.
const FORCED: &[Forced] = &[
    Forced {
        key: "enable.auto.commit",
        value: "false",
        reason: "offsets are committed only once the frontier shows their records processed",
    },
    Forced {
        key: "enable.auto.offset.store",
        value: "false",
        reason: "librdkafka must not store the offset of a record that is merely fetched",
    },
];

/// Keys the source cannot honour, whatever their value.
const REFUSED: &[Refused] = &[
    Refused {
        key: "transactional.id",
        reason: "the source does not use Kafka transactions: nothing would initialise them",
    },
    Refused {
        key: "enable.partition.eof",
        reason: "the source sets it itself: it keeps end-of-partition events off (librdkafka's \
                 batch read moves the position one past one, and a paused partition then \
                 resumes past a record) and tells when it has caught up by other means",
    },
];

impl SourceConfig {
    /// Starts a builder with the defaults documented on each setter.
    pub fn builder() -> SourceConfigBuilder {
        SourceConfigBuilder::default()
    }
}

/// Builds a [`SourceConfig`]; every setter documents its default, and [`build`](Self::build)
/// checks everything at once.
#[derive(Clone)]
pub struct SourceConfigBuilder {
    brokers: Option<String>,
    group_id: Option<String>,
    topics: Vec<String>,
    group_protocol: GroupProtocol,
    reset: OffsetReset,
    ignore_committed: bool,
    tick: Duration,
    commit: CommitCadence,
    connect_timeout: Duration,
    drain_timeout: Duration,
    revoke_drain_timeout: Duration,
    max_records_per_activation: usize,
    fetch_queue_backoff: Duration,
    fetch_max_wait: Duration,
    fetch_min_bytes: u32,
    prefetch_budget_bytes: u64,
    limit_overrides: LimitOverrides,
    max_in_flight_records: u64,
    max_in_flight_bytes: u64,
    passthrough: Passthrough,
    security: Option<Security>,
    hooks: LifecycleHooks,
    static_member: Option<(String, usize)>,
}

impl Default for SourceConfigBuilder {
    fn default() -> Self {
        SourceConfigBuilder {
            brokers: None,
            group_id: None,
            topics: Vec::new(),
            group_protocol: GroupProtocol::default(),
            reset: OffsetReset::Earliest,
            ignore_committed: false,
            tick: Duration::from_millis(100),
            commit: CommitCadence::Interval(Duration::from_secs(1)),
            connect_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            revoke_drain_timeout: Duration::from_secs(10),
            max_records_per_activation: 2048,
            fetch_queue_backoff: Duration::from_millis(10),
            fetch_max_wait: Duration::from_millis(100),
            fetch_min_bytes: 1,
            prefetch_budget_bytes: DEFAULT_PREFETCH_BUDGET,
            limit_overrides: LimitOverrides::default(),
            max_in_flight_records: 1_000_000,
            max_in_flight_bytes: 32 << 20,
            passthrough: Passthrough::default(),
            security: None,
            hooks: LifecycleHooks::default(),
            static_member: None,
        }
    }
}

impl SourceConfigBuilder {
    /// Bootstrap servers, `host:port[,host:port...]` (`bootstrap.servers`). Required.
    pub fn brokers(mut self, brokers: impl Into<String>) -> Self {
        self.brokers = Some(brokers.into());
        self
    }

    /// The consumer group to join (`group.id`). Required.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Adds a topic to subscribe to. At least one is required.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topics.push(topic.into());
        self
    }

    /// Adds several topics to subscribe to.
    pub fn topics<I, S>(mut self, topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.topics.extend(topics.into_iter().map(Into::into));
        self
    }

    /// The consumer-group protocol and its assignor (`group.protocol`,
    /// `partition.assignment.strategy`, `group.remote.assignor`). Default: the classic
    /// protocol with librdkafka's `range,roundrobin` assignor, which every broker speaks. See
    /// [`GroupProtocol`](crate::GroupProtocol) for what each protocol accepts; with the
    /// consumer protocol, `session.timeout.ms` and `heartbeat.interval.ms` are the broker's
    /// and setting them is an error.
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group_protocol = protocol;
        self
    }

    /// Where a partition without a committed offset starts. Default: [`OffsetReset::Earliest`].
    /// Also sets librdkafka's `auto.offset.reset` for positions that fall out of range.
    pub fn offset_reset(mut self, reset: OffsetReset) -> Self {
        self.reset = reset;
        self
    }

    /// Ignore committed offsets and start every assigned partition where
    /// [`offset_reset`](Self::offset_reset) says (broadway_kafka's `begin_offset: :reset`).
    /// Default: `false`.
    pub fn ignore_committed(mut self, ignore: bool) -> Self {
        self.ignore_committed = ignore;
        self
    }

    /// The length of a timestamp tick: records are stamped with the wall-clock time rounded
    /// down to a multiple of it, so workers and processes advance together. Shorter ticks mean
    /// finer-grained commits and frontiers at some cost in throughput. Default: 100 ms.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// Commit processed offsets at most once per `interval`. Default: 1 s.
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit = CommitCadence::Interval(interval);
        self
    }

    /// Commit as soon as the frontier shows new records processed, at most once a tick
    /// (broadway_kafka's `offset_commit_on_ack`). Default: off.
    pub fn commit_on_frontier_advance(mut self) -> Self {
        self.commit = CommitCadence::OnFrontierAdvance;
        self
    }

    /// How long to wait for any broker to answer before giving up with
    /// [`Error::BrokersUnreachable`](crate::Error::BrokersUnreachable). Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// On shutdown, how long to wait for in-flight records to be processed before the final
    /// commit. What is unfinished by then is not committed and will be read again. Default: 30 s.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// On a rebalance (also one during a shutdown), how long a revoked partition's in-flight
    /// records may take to finish before the partition is released anyway. The partition is
    /// then committed where its processed records end, and the release waits for the
    /// broker's answer within the same timeout (a quarter of it, at most 1 s, is kept for
    /// that answer). What is unfinished is not committed, is logged, and will be read again
    /// by the new owner. Must stay below the group's rebalance timeout
    /// (`max.poll.interval.ms`). Default: 10 s.
    pub fn revoke_drain_timeout(mut self, timeout: Duration) -> Self {
        self.revoke_drain_timeout = timeout;
        self
    }

    /// At most this many records are read from one partition per operator activation, so a
    /// hot partition cannot starve the others on its worker. Default: 2048.
    pub fn max_records_per_activation(mut self, records: usize) -> Self {
        self.max_records_per_activation = records;
        self
    }

    /// `fetch.queue.backoff.ms`: how long librdkafka waits before fetching again once a
    /// partition's local queue is full. librdkafka's 1000 ms default stalls a fast consumer;
    /// default here: 10 ms.
    pub fn fetch_queue_backoff(mut self, backoff: Duration) -> Self {
        self.fetch_queue_backoff = backoff;
        self
    }

    /// `fetch.wait.max.ms`: how long a broker may hold a fetch waiting for
    /// `fetch.min.bytes`. Default: 100 ms.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = wait;
        self
    }

    /// `fetch.min.bytes`: the least data a broker returns for a fetch. Default: 1.
    pub fn fetch_min_bytes(mut self, bytes: u32) -> Self {
        self.fetch_min_bytes = bytes;
        self
    }

    /// The process-wide prefetch budget: the most bytes librdkafka may hold fetched but not
    /// yet read, over all the partitions this process reads, however many there are.
    /// Default: 64 MiB.
    ///
    /// Every partition a worker owns forwards its records to that worker's one librdkafka
    /// queue, and librdkafka's queue limits, measured on that queue, bound the worker's
    /// partitions together. From the budget `B` the builder derives (unless set explicitly):
    /// `fetch.max.bytes` = `B / 16` within 1 ..= 50 MiB (one fetch response, every partition
    /// together); per worker, with share `S = (B − fetch.max.bytes) / W` for `W` timely
    /// workers, `queued.max.messages.kbytes` = `¾ S / 1000` and `queued.min.messages` =
    /// `S / 1024` (librdkafka's own cost of about 256 bytes per queued message is not in its
    /// byte count); and `max.partition.fetch.bytes` = `fetch.max.bytes`, at most 1 MiB.
    /// Prefetch then stays below `B` with one broker; each further broker
    /// leading partitions of the process adds up to one response. The response terms count
    /// bytes on the wire, so for a compressed topic multiply them by its compression ratio.
    /// With several processes, `W` counts every process's workers, so each process uses its
    /// own workers' part of the budget. Records read and not yet processed come on top,
    /// bounded by [`max_in_flight_bytes`](Self::max_in_flight_bytes) per worker. Small
    /// records that compress well cost more than the response's size suggests: librdkafka
    /// keeps about 256 bytes per record, whatever its size on the wire (a 4 MiB response of
    /// 10-byte records that compressed about 25:1 took about 100 MiB). For such topics set a
    /// smaller `fetch.max.bytes` with [`set`](Self::set): 1 MiB halved that memory at the
    /// same speed, but with many partitions or large records small responses cost speed (a
    /// fetch request names every partition).
    ///
    /// ```
    /// use timely_kafka::SourceConfig;
    ///
    /// let config = SourceConfig::builder()
    ///     .brokers("localhost:9092")
    ///     .group_id("g")
    ///     .topic("orders")
    ///     .prefetch_budget_bytes(16 << 20)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn prefetch_budget_bytes(mut self, bytes: u64) -> Self {
        self.prefetch_budget_bytes = bytes;
        self
    }

    /// `max.partition.fetch.bytes`: the most data fetched per partition per request.
    /// Default: derived from [`prefetch_budget_bytes`](Self::prefetch_budget_bytes)
    /// (1 MiB for the default budget).
    pub fn max_partition_fetch_bytes(mut self, bytes: u32) -> Self {
        self.limit_overrides.max_partition_fetch_bytes = Some(bytes);
        self
    }

    /// `queued.max.messages.kbytes`: the prefetch buffer librdkafka keeps for each worker
    /// (every partition a worker owns feeds one queue), in units of 1000 bytes. Default:
    /// derived from [`prefetch_budget_bytes`](Self::prefetch_budget_bytes) (47,185 for the
    /// default budget on one worker).
    pub fn queued_max_kbytes(mut self, kbytes: u32) -> Self {
        self.limit_overrides.queued_max_kbytes = Some(kbytes);
        self
    }

    /// Static group membership (`group.instance.id` = `{prefix}-{process_index}`): pass the
    /// timely process index (`-p`) so each process of a timely cluster is its own static
    /// member. A process restarted within `session.timeout.ms` takes its partitions back
    /// without a rebalance: on shutdown a static member does not leave the group, so the
    /// other members keep reading and see no revocation. Default: dynamic membership.
    ///
    /// Tested on the embedded cluster with the KIP-848 protocol
    /// ([`GroupProtocol::consumer`](crate::GroupProtocol::consumer)); librdkafka's mock rebalances every classic-protocol join, so
    /// the classic protocol's behaviour is the broker's (Kafka 2.3+ implements it).
    pub fn static_membership(mut self, prefix: impl Into<String>, process_index: usize) -> Self {
        self.static_member = Some((prefix.into(), process_index));
        self
    }

    /// Calls `hook(&assignment)` for every partition assigned to this process, before it is
    /// read (Elsa's `assignment_received_handler`). An `Err` stops the source with
    /// [`Error::Hook`](crate::Error::Hook).
    ///
    /// ```
    /// use timely_kafka::SourceConfig;
    ///
    /// let config = SourceConfig::builder()
    ///     .brokers("localhost:9092")
    ///     .group_id("audit")
    ///     .topic("orders")
    ///     .on_assigned(|assignment| {
    ///         if assignment.topic_partition.partition > 99 {
    ///             return Err(format!("{} is not ours", assignment.topic_partition).into());
    ///         }
    ///         Ok(())
    ///     })
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn on_assigned(
        mut self,
        hook: impl Fn(&Assignment) -> Result<(), HookError> + Send + Sync + 'static,
    ) -> Self {
        self.hooks.assigned = Some(Arc::new(hook) as LifecycleHook);
        self
    }

    /// Calls `hook(&assignment)` for every partition revoked from this process, after its
    /// in-flight records drained (Elsa's `assignments_revoked_handler`). An `Err` stops the
    /// source with [`Error::Hook`](crate::Error::Hook).
    pub fn on_revoked(
        mut self,
        hook: impl Fn(&Assignment) -> Result<(), HookError> + Send + Sync + 'static,
    ) -> Self {
        self.hooks.revoked = Some(Arc::new(hook) as LifecycleHook);
        self
    }

    /// `queued.min.messages`: how many records librdkafka keeps prefetched at most for each
    /// worker (every partition a worker owns feeds one queue). Each costs librdkafka a few
    /// hundred bytes besides the record; default: derived from
    /// [`prefetch_budget_bytes`](Self::prefetch_budget_bytes) (61,440 for the default budget
    /// on one worker).
    pub fn queued_min_messages(mut self, messages: u32) -> Self {
        self.limit_overrides.queued_min_messages = Some(messages);
        self
    }

    /// Per worker, the most records read but not yet past the commit frontier. At the bound
    /// the worker stops reading (librdkafka stops fetching once the worker's queue is full;
    /// the member keeps polling, so it is not evicted) and reads again below half of it, so
    /// it must be at least 2. Default: 1,000,000.
    pub fn max_in_flight_records(mut self, records: u64) -> Self {
        self.max_in_flight_records = records;
        self
    }

    /// Per worker, the most bytes read but not yet past the commit frontier, counting each
    /// record's key, payload and [`RECORD_OVERHEAD_BYTES`](crate::source::RECORD_OVERHEAD_BYTES);
    /// see [`max_in_flight_records`](Self::max_in_flight_records); at least 2. Default: 32 MiB. A process's
    /// records are bounded by `prefetch_budget_bytes + workers × max_in_flight_bytes`,
    /// whatever the partition count: 64 MiB + 2 × 32 MiB = 128 MiB on 2 workers by default.
    pub fn max_in_flight_bytes(mut self, bytes: u64) -> Self {
        self.max_in_flight_bytes = bytes;
        self
    }

    /// Passes any other librdkafka key through (security, `client.id`,
    /// `session.timeout.ms`, ...). librdkafka checks the key
    /// and value during [`build`](Self::build). Refused: `transactional.id` (the source uses
    /// no transactions) and `enable.partition.eof` (the source sets it itself).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.passthrough.set(key, value);
        self
    }

    /// How the group's clients connect: TLS, SASL, certificates and credentials. Default:
    /// plaintext, or what the `security.*`, `ssl.*` and `sasl.*` keys passed through
    /// [`set`](Self::set) say; a key given both ways is an error naming it.
    pub fn security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// Validates every setting and returns the configuration, or the first problem found,
    /// naming its key.
    pub fn build(mut self) -> Result<SourceConfig, ConfigError> {
        let brokers = required(
            self.brokers,
            "bootstrap.servers",
            "call `.brokers(\"host:port\")`",
        )?;
        let group_id = required(self.group_id, "group.id", "call `.group_id(\"my-group\")`")?;
        if self.topics.is_empty() {
            return Err(ConfigError::Missing {
                key: "topics".into(),
                hint: "call `.topic(\"name\")` at least once".into(),
            });
        }
        for topic in &self.topics {
            validate_topic_name(topic)?;
        }
        positive(self.tick, "tick", Duration::from_millis(1))?;
        if let CommitCadence::Interval(interval) = self.commit {
            positive(interval, "commit_interval", Duration::from_millis(1))?;
        }
        positive(
            self.connect_timeout,
            "connect_timeout",
            Duration::from_millis(1),
        )?;
        if self.max_records_per_activation == 0 {
            return Err(ConfigError::Invalid {
                key: "max_records_per_activation".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        // Reading pauses at a bound and resumes below half of it: below 2 there is never
        // room below half, and reading would stop for good.
        for (key, bound) in [
            ("max_in_flight_records", self.max_in_flight_records),
            ("max_in_flight_bytes", self.max_in_flight_bytes),
        ] {
            if bound < 2 {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    value: bound.to_string(),
                    reason: "must be at least 2: reading pauses at the bound and resumes below \
                             half of it"
                        .into(),
                });
            }
        }
        if self.prefetch_budget_bytes == 0 {
            return Err(ConfigError::Invalid {
                key: "prefetch_budget_bytes".into(),
                value: "0".into(),
                reason: "must be at least 1: a budget of nothing would never fetch".into(),
            });
        }
        self.passthrough.validate(MANAGED, FORCED, REFUSED)?;
        if let Some(security) = &self.security {
            merge_security(&mut self.passthrough, security)?;
        }
        self.group_protocol.validate(&self.passthrough)?;
        let rebalance_timeout = self
            .passthrough
            .get("max.poll.interval.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(300), Duration::from_millis);
        if self.revoke_drain_timeout >= rebalance_timeout {
            return Err(ConfigError::Invalid {
                key: "revoke_drain_timeout".into(),
                value: format!("{:?}", self.revoke_drain_timeout),
                reason: format!(
                    "must be below the group's rebalance timeout (max.poll.interval.ms = {rebalance_timeout:?}), or the \
                     member is evicted while it drains"
                ),
            });
        }
        if let OffsetReset::Timestamp(ms) = self.reset {
            if ms < 0 {
                return Err(ConfigError::Invalid {
                    key: "offset_reset".into(),
                    value: ms.to_string(),
                    reason:
                        "a timestamp is milliseconds since the Unix epoch and cannot be negative"
                            .into(),
                });
            }
        }
        let static_member = match self.static_member {
            Some((prefix, index)) => {
                if prefix.trim().is_empty() || prefix.chars().any(char::is_whitespace) {
                    return Err(ConfigError::Invalid {
                        key: "static_membership".into(),
                        value: prefix,
                        reason: "the prefix must be non-empty and contain no whitespace".into(),
                    });
                }
                Some(format!("{prefix}-{index}"))
            }
            None => None,
        };
        let start = if self.ignore_committed {
            StartPolicy::Reset(self.reset)
        } else {
            StartPolicy::Committed { reset: self.reset }
        };
        let group = GroupSettings {
            brokers,
            group_id,
            topics: self.topics,
            group_protocol: self.group_protocol,
            start,
            connect_timeout: self.connect_timeout,
            revoke_drain_timeout: self.revoke_drain_timeout,
            fetch_queue_backoff: self.fetch_queue_backoff,
            fetch_max_wait: self.fetch_max_wait,
            fetch_min_bytes: self.fetch_min_bytes,
            prefetch_budget: self.prefetch_budget_bytes,
            limit_overrides: self.limit_overrides,
            fetch_max_bytes: super::prefetch::fetch_max_bytes(self.prefetch_budget_bytes),
            passthrough: self.passthrough,
            hooks: self.hooks,
            static_member,
            commit_metadata: run_metadata(),
        };
        // Security first: its errors say what a setting means for the connection. Then the
        // full client configuration must be acceptable too (for example a fetch size
        // librdkafka considers out of range).
        check_security(&group.passthrough, &group.brokers)?;
        check_client_config(&group.client_config(1))?;
        Ok(SourceConfig {
            group: Arc::new(group),
            source: SourceSettings {
                tick: self.tick,
                commit: self.commit,
                drain_timeout: self.drain_timeout,
                max_records_per_activation: self.max_records_per_activation,
                max_in_flight_records: self.max_in_flight_records,
                max_in_flight_bytes: self.max_in_flight_bytes,
            },
            membership: Arc::new(MembershipSlot::default()),
        })
    }
}

/// A commit metadata string unique to this config's run of this process.
fn run_metadata() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("timely-kafka:{}:{nanos}", std::process::id())
}
