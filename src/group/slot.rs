//! Where the workers of a process find (or create) their shared membership.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::settings::GroupSettings;
use super::Membership;
use crate::error::Error;

/// The membership of a [`SourceConfig`](crate::SourceConfig) in this process: created by the first worker that
/// builds a source from the config, found by the others, and closed when the last one
/// drops it (a later run with the same config joins the group again).
#[derive(Default)]
pub(crate) struct MembershipSlot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Empty,
    Live(Weak<Membership>),
    /// Creation failed; workers arriving soon after get the same error instead of waiting
    /// out the connect timeout again.
    Failed {
        error: Error,
        at: Instant,
        retry_after: Duration,
    },
}

impl MembershipSlot {
    /// The live membership, or a new one for a dataflow of `workers` timely workers.
    pub(crate) fn get_or_create(
        &self,
        settings: &Arc<GroupSettings>,
        workers: usize,
    ) -> Result<Arc<Membership>, Error> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &*state {
            SlotState::Live(weak) => {
                if let Some(live) = weak.upgrade() {
                    return Ok(live);
                }
            }
            SlotState::Failed {
                error,
                at,
                retry_after,
            } if at.elapsed() < *retry_after => {
                return Err(error.clone());
            }
            _ => {}
        }
        match Membership::create(Arc::clone(settings), workers) {
            Ok(membership) => {
                *state = SlotState::Live(Arc::downgrade(&membership));
                Ok(membership)
            }
            Err(error) => {
                *state = SlotState::Failed {
                    error: error.clone(),
                    at: Instant::now(),
                    retry_after: settings.connect_timeout,
                };
                Err(error)
            }
        }
    }
}
