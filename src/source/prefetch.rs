//! The process-wide prefetch budget: what librdkafka may hold fetched but not yet read, in
//! bytes, whatever the number of partitions.
//!
//! # Mechanism
//!
//! Each local worker has one librdkafka queue, and every partition it owns forwards its
//! records there (see `group/worker_queue.rs`). librdkafka decides per partition whether to
//! fetch more (`rd_kafka_toppar_fetch_decide` in `rdkafka_fetcher.c`), comparing the
//! partition's queue with `queued.min.messages` and `queued.max.messages.kbytes` × 1000 bytes
//! — and for a forwarded queue it measures the queue it forwards to. So the two limits bound
//! a worker's partitions **together**: a worker with 1,024 partitions holds no more than one
//! with 8. This is the bound a plain rdkafka consumer has with its single consumer queue.
//!
//! From the budget `B` and the number of queues `W` that share it (the timely workers; see
//! below), unless set explicitly:
//!
//! - `fetch.max.bytes` = `B / 16` within 1 MiB ..= 50 MiB ([`fetch_max_bytes`]): one fetch
//!   response, every partition of a broker together;
//! - each worker's share `S = (B − fetch.max.bytes) / W`;
//! - `queued.max.messages.kbytes` = `¾ S / 1000`;
//! - `queued.min.messages` = `S / 1024`: librdkafka's own cost per queued message, about 256
//!   bytes, is not in the byte count, so the message count bounds it to a quarter of `S`;
//! - `max.partition.fetch.bytes` = `fetch.max.bytes`, at most 1 MiB (librdkafka's default):
//!   a partition with a backlog may fill a response, and librdkafka starts each request with
//!   the next partition in turn.
//!
//! librdkafka checks the limits before it sends a fetch, so a queue just under them can take
//! one more response. The bound, for one broker: `W × S + fetch.max.bytes ≤ B`. Each further
//! broker that leads partitions of the process adds up to one response (`fetch.max.bytes`).
//! For a compressed topic the response terms count decompressed bytes: librdkafka limits a
//! fetch in bytes on the wire and a queue in decompressed bytes (a payload that compressed
//! 180:1 once put 46 MB in a queue from one 256 KiB fetch).
//!
//! `W` is the number of timely workers the source was built on (timely's `peers`), known when
//! the first worker builds the source, before it learns which workers share its process. In
//! one process that is the local worker count. With several processes each process divides
//! its budget by all workers, so it uses only its own workers' part of it: the bound holds,
//! with less prefetch than the budget allows.
//!
//! No partition starves: librdkafka asks for every partition of the broker in each fetch
//! request, starting with the next one in turn, and the broker fills the response in request
//! order up to `fetch.max.bytes`. A worker that stops reading (its in-flight bound, see
//! `budget.rs`) leaves its queue full, so librdkafka stops fetching its partitions and keeps
//! what it fetched; nothing is paused or fetched twice.

/// What librdkafka keeps per queued message besides the record itself (its `rd_kafka_op_t`
/// and message header), about 256 bytes.
pub(crate) const MESSAGE_OVERHEAD: u64 = 256;

/// The largest derived `max.partition.fetch.bytes`: librdkafka's default.
const MAX_PARTITION_FETCH: u64 = 1 << 20;

/// librdkafka's fetch limits, derived from the budget or set explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefetchLimits {
    /// `max.partition.fetch.bytes`.
    pub max_partition_fetch_bytes: u32,
    /// `queued.max.messages.kbytes`: per worker queue.
    pub queued_max_kbytes: u32,
    /// `queued.min.messages`: per worker queue.
    pub queued_min_messages: u32,
}

/// Explicit limits, each overriding what the budget would derive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitOverrides {
    pub max_partition_fetch_bytes: Option<u32>,
    pub queued_max_kbytes: Option<u32>,
    pub queued_min_messages: Option<u32>,
}

impl PrefetchLimits {
    /// librdkafka's limits for a process-wide budget of `budget` bytes shared by `workers`
    /// worker queues.
    pub(crate) fn derive(budget: u64, workers: usize, overrides: LimitOverrides) -> Self {
        let response = u64::from(fetch_max_bytes(budget));
        let share = budget.saturating_sub(response) / workers.max(1) as u64;
        let clamp = |v: u64| v.clamp(1, u64::from(u32::MAX)) as u32;
        PrefetchLimits {
            max_partition_fetch_bytes: overrides
                .max_partition_fetch_bytes
                .unwrap_or(clamp(response.min(MAX_PARTITION_FETCH))),
            queued_max_kbytes: overrides
                .queued_max_kbytes
                .unwrap_or(clamp(share * 3 / 4 / 1000)),
            queued_min_messages: overrides
                .queued_min_messages
                .unwrap_or(clamp(share / (4 * MESSAGE_OVERHEAD))),
        }
    }

    /// The most one worker's queue holds before librdkafka stops fetching for it, in bytes
    /// (one more fetch response may land on top): `queued.max.messages.kbytes` (librdkafka
    /// counts a kbyte as 1000 bytes) plus librdkafka's own cost of `queued.min.messages`
    /// messages.
    pub(crate) fn worker_bound(&self) -> u64 {
        u64::from(self.queued_max_kbytes) * 1000
            + u64::from(self.queued_min_messages) * MESSAGE_OVERHEAD
    }
}

/// The librdkafka settings the source derives from a prefetch budget of `budget` bytes for
/// one worker (`max.partition.fetch.bytes`, `queued.max.messages.kbytes`,
/// `queued.min.messages`, `fetch.max.bytes`), so that a plain rdkafka consumer, whose one
/// consumer queue takes every partition as a worker's queue does, can fetch within the same
/// budget: for example the baseline of a benchmark.
///
/// ```
/// let limits = timely_kafka::source::prefetch_limits(64 << 20);
/// assert_eq!(limits[0], ("max.partition.fetch.bytes", "1048576".to_owned()));
/// assert_eq!(limits[1], ("queued.max.messages.kbytes", "47185".to_owned()));
/// assert_eq!(limits[3], ("fetch.max.bytes", "4194304".to_owned()));
/// ```
pub fn prefetch_limits(budget: u64) -> [(&'static str, String); 4] {
    let limits = PrefetchLimits::derive(budget, 1, LimitOverrides::default());
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
        ("fetch.max.bytes", fetch_max_bytes(budget).to_string()),
    ]
}

/// `fetch.max.bytes` for a budget of `budget` bytes: a sixteenth of it, within 1 MiB ..= 50 MiB
/// (librdkafka's default is 50 MB). The group's settings keep it at least the user's
/// `message.max.bytes` and below their `receive.message.max.bytes`, which librdkafka
/// requires once it is set, and leave a value the user set alone.
/// Left to itself librdkafka derives it from `queued.max.messages.kbytes`.
pub(crate) fn fetch_max_bytes(budget: u64) -> u32 {
    (budget / 16).clamp(1 << 20, 50 << 20) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_default_budget_derives_per_worker_limits() {
        let limits = PrefetchLimits::derive(64 * MIB, 1, LimitOverrides::default());
        assert_eq!(
            limits,
            PrefetchLimits {
                max_partition_fetch_bytes: 1 << 20,
                queued_max_kbytes: 47_185,
                queued_min_messages: 61_440,
            }
        );
        assert!(limits.worker_bound() + u64::from(fetch_max_bytes(64 * MIB)) <= 64 * MIB);
        // Two workers share it.
        let two = PrefetchLimits::derive(64 * MIB, 2, LimitOverrides::default());
        assert_eq!(two.queued_max_kbytes, 23_592);
        assert_eq!(two.queued_min_messages, 30_720);
    }

    #[test]
    fn the_bound_holds_for_any_budget_and_worker_count() {
        for budget in [4 * MIB, 16 * MIB, 64 * MIB, 256 * MIB, 4096 * MIB] {
            for workers in [1, 2, 3, 8, 16] {
                let limits = PrefetchLimits::derive(budget, workers, LimitOverrides::default());
                let process =
                    workers as u64 * limits.worker_bound() + u64::from(fetch_max_bytes(budget));
                assert!(
                    process <= budget,
                    "budget {budget}, {workers} workers: {process} bytes"
                );
                assert!(limits.queued_max_kbytes >= 1 && limits.queued_min_messages >= 1);
            }
        }
    }

    #[test]
    fn a_tiny_budget_keeps_every_limit_positive() {
        let limits = PrefetchLimits::derive(1, 4, LimitOverrides::default());
        assert_eq!(limits.queued_max_kbytes, 1);
        assert_eq!(limits.queued_min_messages, 1);
        assert_eq!(limits.max_partition_fetch_bytes, 1 << 20);
    }

    #[test]
    fn a_fetch_response_may_carry_a_sixteenth_of_the_budget() {
        assert_eq!(fetch_max_bytes(64 * MIB), 4 << 20);
        assert_eq!(fetch_max_bytes(256 * MIB), 16 << 20);
        assert_eq!(fetch_max_bytes(MIB), 1 << 20);
        assert_eq!(fetch_max_bytes(4096 * MIB), 50 << 20);
    }

    #[test]
    fn explicit_limits_override_the_derived_ones() {
        let limits = PrefetchLimits::derive(
            64 * MIB,
            1,
            LimitOverrides {
                queued_max_kbytes: Some(16_384),
                ..LimitOverrides::default()
            },
        );
        assert_eq!(limits.queued_max_kbytes, 16_384);
        assert_eq!(limits.max_partition_fetch_bytes, 1 << 20);
    }
}
