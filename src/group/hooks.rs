//! Lifecycle hooks: user callbacks on assignment received and revoked.

use std::fmt;
use std::sync::Arc;

/// A lifecycle callback: `(topic, partition, generation)`. An `Err` stops the source with
/// that error. Called on the group thread; keep it short.
pub type LifecycleHook = Arc<dyn Fn(&str, i32, i32) -> Result<(), String> + Send + Sync>;

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
