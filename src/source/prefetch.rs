//! The process-wide prefetch budget: what librdkafka may hold fetched but not yet read, in
//! bytes, whatever the number of partitions.
//!
//! # Why a budget
//!
//! The source reads every partition through its own librdkafka queue (split from the
//! consumer's queue). librdkafka decides per partition queue whether to fetch more
//! (`rd_kafka_toppar_fetch_decide` in `rdkafka_fetcher.c`): it stops once that queue holds
//! `queued.min.messages` messages or `queued.max.messages.kbytes` × 1000 bytes, and a fetch
//! already under way adds at most `max.partition.fetch.bytes` more. With split queues these
//! limits apply **per partition** (librdkafka's CONFIGURATION.md says so too), so prefetch grew
//! with the partition count: 256 backlogged partitions held 700–800 MiB under the old
//! defaults. The limits are fixed when the client is created, before any assignment is known.
//!
//! # Mechanism
//!
//! 1. **Static, per partition.** From the budget `B` the builder derives librdkafka's
//!    per-partition limits (unless set explicitly): `max.partition.fetch.bytes` =
//!    `F` = `B / 512` clamped to 16 KiB ..= 128 KiB (the default budget's; a larger budget
//!    buys fetch slots, not larger fetches), `queued.max.messages.kbytes` = `F / 128`
//!    (a queue of eight fetches), `queued.min.messages` = `F / 64`. The queue must hold
//!    several fetches: librdkafka backs a partition whose queue is full off for
//!    `fetch.queue.backoff.ms`, and with room for only one fetch (the earlier
//!    `queued.max.messages.kbytes` = `F / 1024`, with `F` = `B / 256`) it did so after almost
//!    every fetch, which held 1 KB records to 15 % and 100 KB records to 12 % of the raw
//!    consumer (48–59 % with this rule, on Apache Kafka, 8 partitions, records that compress
//!    2:1). One fetching partition's queue then holds at most its
//!    *reserve* `Q` = `queued.max.messages.kbytes × 1000 + max.partition.fetch.bytes +
//!    queued.min.messages × 256` bytes (the last term is librdkafka's own cost per queued
//!    message, about 256 bytes, which matters for small records).
//! 2. **Dynamic, a fetch window per worker.** A worker with `W` local workers' share of the
//!    budget lets at most `slots = max(1, ⌊B / (W × Q)⌋)` of its partitions fetch at once; the
//!    others are paused, and librdkafka purges a paused partition's queue, so they hold
//!    nothing. A partition read to its end holds no slot: its queue is empty, and it stays
//!    resumed, so a caught-up worker never waits for a turn. When a worker has more
//!    partitions with a backlog than slots, they take turns: a turn ends once the partition
//!    has read `4 × Q` bytes (counting 256 bytes per record), or has read nothing for
//!    [`idle_turn`](PrefetchPlan::idle_turn); the partition that waited longest is resumed
//!    next (first in, first out), so every partition keeps a share: none starves. Turns are
//!    re-dealt on every rebalance (new partitions that exceed the slots wait at once).
//!
//! librdkafka counts `queued.max.messages.kbytes` in decompressed bytes but
//! `max.partition.fetch.bytes` in bytes on the wire, so for a compressed topic the `F` term
//! of `Q` is multiplied by the compression ratio (a benchmark payload that compressed 180:1
//! once put ~46 MB in one partition's queue from a single 256 KiB fetch).
//!
//! The bound, for a process of `W` workers: the partitions with a backlog hold at most
//! `W × slots × Q ≤ max(B, W × Q)` bytes. Two kinds of surplus come on top, neither growing
//! with the backlog: a caught-up partition that receives records holds what one fetch
//! brings (at most `max.partition.fetch.bytes`; a whole fetch response is capped at
//! `fetch.max.bytes`, see [`fetch_max_bytes`]) until its worker
//! next runs and counts it; and for records much smaller than 256 bytes on the wire, one
//! fetch response carries more messages than `queued.min.messages`, each costing librdkafka
//! about 256 bytes. A worker with no more partitions than slots never pauses for the budget.
//! The records read and not yet processed are bounded separately, by `max_in_flight_bytes`
//! per worker (see `budget.rs`).

use std::time::Duration;

/// What librdkafka keeps per queued message besides the record itself (its `rd_kafka_op_t`
/// and message header), about 256 bytes; counted against the budget.
pub(crate) const MESSAGE_OVERHEAD: u64 = 256;

/// The largest derived `max.partition.fetch.bytes`, reached at the default budget: a
/// partition's queue (eight fetches, 1 MB) then keeps it as fast as larger ones did, so a
/// larger budget buys fetch slots, not larger fetches.
const MAX_FETCH: u64 = 128 << 10;

/// A turn lasts until the partition has read this many reserves' worth: a fetch still in
/// flight when a turn ends is dropped, so this keeps the refetched share to a quarter.
const TURN_RESERVES: u64 = 4;

/// librdkafka's per-partition fetch limits, derived from the budget or set explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefetchLimits {
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: u32,
    /// `queued.max.messages.kbytes`.
    pub queued_max_kbytes: u32,
    /// `queued.min.messages`.
    pub queued_min_messages: u32,
}

/// Explicit per-partition limits, each overriding what the budget would derive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitOverrides {
    pub max_partition_fetch_bytes: Option<u32>,
    pub queued_max_kbytes: Option<u32>,
    pub queued_min_messages: Option<u32>,
}

impl PrefetchLimits {
    /// librdkafka's limits for a process-wide budget of `budget` bytes.
    pub(crate) fn derive(budget: u64, overrides: LimitOverrides) -> Self {
        let fetch = (budget / 512).clamp(16 << 10, MAX_FETCH) as u32;
        PrefetchLimits {
            max_partition_fetch_bytes: overrides.max_partition_fetch_bytes.unwrap_or(fetch),
            queued_max_kbytes: overrides.queued_max_kbytes.unwrap_or((fetch / 128).max(1)),
            queued_min_messages: overrides.queued_min_messages.unwrap_or((fetch / 64).max(1)),
        }
    }

    /// The most one fetching partition's queue holds, in bytes: librdkafka stops fetching at
    /// `queued.max.messages.kbytes` (it counts a kbyte as 1000 bytes) or at
    /// `queued.min.messages`, and a fetch under way adds up to `max.partition.fetch.bytes`.
    pub(crate) fn reserve(&self) -> u64 {
        u64::from(self.queued_max_kbytes) * 1000
            + u64::from(self.max_partition_fetch_bytes)
            + u64::from(self.queued_min_messages) * MESSAGE_OVERHEAD
    }
}

/// The per-partition librdkafka settings the source derives from a prefetch budget of
/// `budget` bytes (`max.partition.fetch.bytes`, `queued.max.messages.kbytes`,
/// `queued.min.messages`), so that a plain rdkafka consumer can fetch as the source does, for
/// example as the baseline of a benchmark. The source adds its fetch window on top (see the
/// module docs); a plain consumer with these settings has none.
///
/// ```
/// let limits = timely_kafka::source::prefetch_limits(64 << 20);
/// assert_eq!(limits[0], ("max.partition.fetch.bytes", "131072".to_owned()));
/// assert_eq!(limits[1], ("queued.max.messages.kbytes", "1024".to_owned()));
/// ```
pub fn prefetch_limits(budget: u64) -> [(&'static str, String); 3] {
    let limits = PrefetchLimits::derive(budget, LimitOverrides::default());
    [
        (
            "max.partition.fetch.bytes",
            limits.max_partition_fetch_bytes.to_string(),
        ),
        (
            "queued.max.messages.kbytes",
            limits.queued_max_kbytes.to_string(),
        ),
        (
            "queued.min.messages",
            limits.queued_min_messages.to_string(),
        ),
    ]
}

/// `fetch.max.bytes` for a budget of `budget` bytes: an eighth of it, within 1 MiB ..= 50 MiB
/// (librdkafka's default is 50 MB). The group's settings keep it at least the user's
/// `message.max.bytes` and below their `receive.message.max.bytes`, which librdkafka
/// requires once it is set, and leave a value the user set alone.
/// Left to itself librdkafka derives it from `queued.max.messages.kbytes`, 1 MB here, which
/// caps a whole fetch response (every partition together) at 1 MB: with large records over
/// many partitions, a round trip then carried a few records. The budget is not loosened:
/// a response carries at most `max.partition.fetch.bytes` for each partition in it, and the
/// fetch window bounds the partitions.
pub(crate) fn fetch_max_bytes(budget: u64) -> u32 {
    (budget / 8).clamp(1 << 20, 50 << 20) as u32
}

/// How one worker shares the process's prefetch budget: how many of its partitions may fetch
/// at once, and how long a turn lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefetchPlan {
    /// Partitions of this worker that may fetch at once.
    pub slots: usize,
    /// A turn ends once the partition has read this many bytes (256 per record included).
    pub turn_bytes: u64,
    /// A turn ends once the partition has read nothing for this long.
    pub idle_turn: Duration,
}

impl PrefetchPlan {
    /// The plan of one of `workers` local workers under a process-wide `budget`.
    pub(crate) fn new(
        budget: u64,
        limits: PrefetchLimits,
        workers: usize,
        fetch_max_wait: Duration,
    ) -> Self {
        let reserve = limits.reserve().max(1);
        let share = budget / workers.max(1) as u64;
        PrefetchPlan {
            slots: ((share / reserve) as usize).max(1),
            turn_bytes: TURN_RESERVES * reserve,
            // A partition with nothing to read answers after the broker's fetch wait.
            idle_turn: (2 * fetch_max_wait).max(Duration::from_millis(50)),
        }
    }

    /// The most bytes librdkafka holds prefetched for a worker under this plan.
    pub(crate) fn worker_bound(&self, limits: PrefetchLimits) -> u64 {
        self.slots as u64 * limits.reserve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_default_budget_derives_small_per_partition_limits() {
        let limits = PrefetchLimits::derive(64 * MIB, LimitOverrides::default());
        assert_eq!(
            limits,
            PrefetchLimits {
                max_partition_fetch_bytes: 128 << 10,
                queued_max_kbytes: 1024,
                queued_min_messages: 2048,
            }
        );
        assert_eq!(limits.reserve(), 1_024_000 + (128 << 10) + 2048 * 256);
        let plan = PrefetchPlan::new(64 * MIB, limits, 1, Duration::from_millis(100));
        assert_eq!(plan.slots, 39);
        assert!(plan.worker_bound(limits) <= 64 * MIB);
        // Two workers share the budget.
        let plan = PrefetchPlan::new(64 * MIB, limits, 2, Duration::from_millis(100));
        assert_eq!(plan.slots, 19);
        assert!(2 * plan.worker_bound(limits) <= 64 * MIB);
    }

    #[test]
    fn the_bound_holds_for_any_budget_and_worker_count() {
        for budget in [MIB, 4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB, 4096 * MIB] {
            let limits = PrefetchLimits::derive(budget, LimitOverrides::default());
            for workers in [1, 2, 3, 8, 16] {
                let plan = PrefetchPlan::new(budget, limits, workers, Duration::from_millis(100));
                assert!(plan.slots >= 1, "every worker keeps a partition fetching");
                let process = workers as u64 * plan.worker_bound(limits);
                assert!(
                    process <= budget.max(workers as u64 * limits.reserve()),
                    "budget {budget}, {workers} workers: {process} bytes"
                );
            }
        }
    }

    #[test]
    fn a_fetch_response_may_carry_an_eighth_of_the_budget() {
        assert_eq!(fetch_max_bytes(64 * MIB), 8 << 20);
        assert_eq!(fetch_max_bytes(MIB), 1 << 20);
        assert_eq!(fetch_max_bytes(4096 * MIB), 50 << 20);
    }

    #[test]
    fn per_partition_limits_have_a_floor_and_a_ceiling() {
        let tiny = PrefetchLimits::derive(1, LimitOverrides::default());
        assert_eq!(tiny.max_partition_fetch_bytes, 16 << 10);
        assert_eq!(tiny.queued_max_kbytes, 128);
        assert_eq!(tiny.queued_min_messages, 256);
        let huge = PrefetchLimits::derive(1 << 40, LimitOverrides::default());
        assert_eq!(huge.max_partition_fetch_bytes, 128 << 10);
        // A budget of about 1.6 MiB a partition lets 1,024 partitions fetch at once.
        let plan = PrefetchPlan::new(1700 * MIB, huge, 1, Duration::from_millis(100));
        assert!(plan.slots >= 1024, "{} slots", plan.slots);
    }

    #[test]
    fn explicit_limits_override_the_derived_ones() {
        let limits = PrefetchLimits::derive(
            64 * MIB,
            LimitOverrides {
                queued_max_kbytes: Some(16_384),
                ..LimitOverrides::default()
            },
        );
        assert_eq!(limits.queued_max_kbytes, 16_384);
        assert_eq!(limits.max_partition_fetch_bytes, 128 << 10);
        // A reserve above the share still leaves one partition fetching per worker.
        let plan = PrefetchPlan::new(4 * MIB, limits, 1, Duration::from_millis(100));
        assert_eq!(plan.slots, 1);
    }
}
