//! Early flush of open batches, for a stage upstream that waits on them.
//!
//! An open batch holds its earliest record's time, so the frontier after the batcher cannot
//! pass that record until the batch is out. A stage upstream that stops reading until the
//! frontier passes what it emitted (the Kafka source at its in-flight bound) would then wait
//! for the batch's timeout, and the batch would wait for records that stage no longer reads:
//! the pipeline would move once per timeout. [`flush_open_batches`] breaks the wait: every
//! batcher in the process emits its open batches at its next activation, which this call
//! schedules. Batches come out smaller, never later, and nothing else changes: each record is
//! still in exactly one batch, in order, and the frontier still waits for its batch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use timely::scheduling::SyncActivator;

/// How many flushes were requested since the process started.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// The live batchers of the process, each with the id of its registration.
static BATCHERS: Mutex<Vec<(u64, SyncActivator)>> = Mutex::new(Vec::new());

/// The next registration id.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Asks every batcher of this process, on every worker, to emit its open batches now.
///
/// Called by a stage that stopped reading until what it emitted is processed; the Kafka
/// source of timely-kafka calls it when it reaches its in-flight bound. Cheap enough to call
/// on every such stop (one atomic addition and one wake-up per batcher), too costly per
/// record.
///
/// ```
/// timely_kafka_operators::batch::flush_open_batches();
/// ```
pub fn flush_open_batches() {
    REQUESTS.fetch_add(1, Ordering::Release);
    let batchers = BATCHERS.lock().unwrap_or_else(|e| e.into_inner());
    for (_, activator) in batchers.iter() {
        // A batcher whose worker is gone cannot be woken; it has nothing left to flush.
        let _ = activator.activate();
    }
}

/// How many flushes were requested so far: a batcher flushes when this changed since it
/// last looked.
pub(crate) fn requested() -> u64 {
    REQUESTS.load(Ordering::Acquire)
}

/// A batcher's place in the registry; leaves it when dropped with the operator.
pub(crate) struct Registration(u64);

impl Registration {
    /// Registers a batcher to be woken by [`flush_open_batches`].
    pub(crate) fn new(activator: SyncActivator) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        BATCHERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, activator));
        Registration(id)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        BATCHERS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != self.0);
    }
}
