//! The process's consumer-group membership, shared by its timely workers.
//!
//! ```text
//!            ┌──────────── one per process ────────────┐
//!  Kafka ──► │ BaseConsumer (subscribe, group protocol) │
//!            │   group thread: poll() serves rebalance  │
//!            │   callbacks and commit results           │
//!            │   partition queues, each forwarded to    │
//!            │   its owner's worker queue               │
//!            └──────┬───────────────┬───────────────────┘
//!                   ▼               ▼
//!              worker 0 source   worker 1 source   (each reads only the partitions it owns)
//! ```
//!
//! Rebalance callbacks run on a thread of their own, never on a timely worker, so no worker
//! ever blocks on its own dataflow's progress. Each assigned partition is owned by exactly one
//! local worker (see [`ownership`](crate::source::ownership)) and its librdkafka queue is
//! forwarded to that worker's queue, so librdkafka's prefetch limits bound each worker's
//! partitions together; records arriving in a worker's queue wake that worker, so idle
//! workers park instead of spinning.

mod context;
mod hooks;
mod idle;
mod membership;
mod native_commit;
pub mod ownership;
mod partition_queue;
mod protocol;
mod settings;
mod shared;
mod slot;
mod snapshot;
mod start;
mod start_policy;
#[cfg(test)]
mod tests;
mod worker_queue;

pub(crate) use context::GroupContext;
pub(crate) use hooks::LifecycleHooks;
pub use hooks::{Assignment, HookError, LifecycleHook};
pub(crate) use membership::{Commit, Membership, SourceClaim};
pub(crate) use native_commit::metadata_bytes;
pub(crate) use partition_queue::{FetchedEnd, NativePartitionQueue};
pub use protocol::{ClassicAssignor, GroupProtocol, ServerAssignor};
pub(crate) use settings::GroupSettings;
pub(crate) use shared::{GroupShared, PartitionHandle};
pub(crate) use slot::MembershipSlot;
pub use snapshot::{HaltedPartition, PartitionStatus, SourceProgress};
pub use start_policy::{OffsetReset, StartPolicy};
pub(crate) use worker_queue::{Message, WorkerQueue, BATCH as WORKER_QUEUE_BATCH};
