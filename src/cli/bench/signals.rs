//! Coordination between a run's consumer and its rate-limited producer (`--rate`): the
//! consumer says when it is ready to read, either side says when it failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Shared by the consumer side and the feeding thread of one run. Cheap to clone.
#[derive(Clone, Default)]
pub struct RunSignals {
    ready: Arc<(Mutex<bool>, Condvar)>,
    failed: Arc<AtomicBool>,
}

impl RunSignals {
    /// The consumer has its partitions: records produced from now on are read live.
    pub fn set_ready(&self) {
        let (lock, condvar) = &*self.ready;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_all();
    }

    /// Waits until [`set_ready`](Self::set_ready) or a failure; `false` on timeout or failure.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, condvar) = &*self.ready;
        let mut ready = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*ready && !self.failed() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            ready = condvar
                .wait_timeout(ready, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *ready && !self.failed()
    }

    /// Something went wrong: the other side stops instead of waiting out its deadline.
    pub fn set_failed(&self) {
        let (lock, condvar) = &*self.ready;
        // Under the lock, so a waiter between its check and its wait cannot miss it.
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        self.failed.store(true, Ordering::SeqCst);
        condvar.notify_all();
    }

    /// Whether either side failed.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_wakes_the_waiter() {
        let signals = RunSignals::default();
        let other = signals.clone();
        let waiter = std::thread::spawn(move || other.wait_ready(Duration::from_secs(30)));
        signals.set_ready();
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn failure_wakes_the_waiter() {
        let signals = RunSignals::default();
        let other = signals.clone();
        let waiter = std::thread::spawn(move || other.wait_ready(Duration::from_secs(30)));
        signals.set_failed();
        assert!(!waiter.join().unwrap());
    }
}
