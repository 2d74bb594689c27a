//! Lifecycle hooks: user callbacks on assignment received and revoked.

use std::fmt;
use std::sync::Arc;

use crate::position::TopicPartition;

/// One partition handed to (or taken from) this process, as a lifecycle hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Assignment {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// The Kafka group generation of the rebalance (-1 where the protocol does not say).
    pub generation: i32,
}

/// What a hook returns when it refuses: any error, which stops the source as
/// [`Error::Hook`](crate::Error::Hook). A `String` converts with `.into()`.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// A lifecycle callback, called once per partition. An `Err` stops the source with
/// [`Error::Hook`](crate::Error::Hook). Called on the group thread; keep it short.
pub type LifecycleHook = Arc<dyn Fn(&Assignment) -> Result<(), HookError> + Send + Sync>;

/// The hooks of a source.
#[derive(Clone, Default)]
pub(crate) struct LifecycleHooks {
    pub assigned: Option<LifecycleHook>,
    pub revoked: Option<LifecycleHook>,
}

impl fmt::Debug for LifecycleHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LifecycleHooks")
            .field("assigned", &self.assigned.is_some())
            .field("revoked", &self.revoked.is_some())
            .finish()
    }
}
