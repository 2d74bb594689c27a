//! The per-worker bound on records in flight: read but not yet past the commit frontier.
//!
//! At the bound the worker stops reading (librdkafka stops fetching once the worker's queue
//! holds its share of the prefetch budget, see `prefetch.rs`); the group thread keeps polling, so
//! the member is not evicted for a slow dataflow. Below half the bound it reads again.
//! Records leave the bound when the commit frontier passes their stamp, so a stopped worker
//! closes its stamp early (see `close_stamp_early` in `operator.rs`): the bound then limits
//! what is in the dataflow at once, not how much is read per tick. Memory budget of a process, roughly:
//! `prefetch_budget_bytes` (librdkafka's prefetch, see `prefetch.rs`) plus
//! `workers × max_in_flight_bytes` (records in the dataflow), plus the sink's producer queue
//! if there is one.

use std::collections::VecDeque;

/// Records and bytes emitted per tick and not yet released.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    ticks: VecDeque<(u64, u64, u64)>,
    records: u64,
    bytes: u64,
}

impl InFlight {
    /// Notes `records` records of `bytes` bytes emitted at `tick` (ticks never decrease).
    pub(crate) fn emitted(&mut self, tick: u64, records: u64, bytes: u64) {
        match self.ticks.back_mut() {
            Some((t, r, b)) if *t == tick => {
                *r += records;
                *b += bytes;
            }
            _ => self.ticks.push_back((tick, records, bytes)),
        }
        self.records += records;
        self.bytes += bytes;
    }

    /// Forgets the ticks the frontier has passed (`None`: all of them).
    pub(crate) fn release(&mut self, frontier: Option<u64>) {
        while let Some(&(tick, records, bytes)) = self.ticks.front() {
            if frontier.is_some_and(|f| tick >= f) {
                break;
            }
            self.ticks.pop_front();
            self.records -= records;
            self.bytes -= bytes;
        }
    }

    /// The stamp of the latest records in flight, if any.
    pub(crate) fn latest_stamp(&self) -> Option<u64> {
        self.ticks.back().map(|&(tick, _, _)| tick)
    }

    /// Records in flight.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Bytes in flight.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the bound is reached.
    pub(crate) fn full(&self, max_records: u64, max_bytes: u64) -> bool {
        self.records >= max_records || self.bytes >= max_bytes
    }

    /// Whether it is back below half the bound.
    pub(crate) fn has_room(&self, max_records: u64, max_bytes: u64) -> bool {
        self.records < max_records / 2 && self.bytes < max_bytes / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_drains_by_tick() {
        let mut f = InFlight::default();
        f.emitted(1, 10, 1000);
        f.emitted(1, 5, 500);
        f.emitted(2, 20, 2000);
        assert!(f.full(35, u64::MAX));
        assert!(!f.full(36, u64::MAX));
        f.release(Some(2));
        assert_eq!((f.records, f.bytes), (20, 2000));
        assert!(!f.has_room(35, u64::MAX));
        f.release(None);
        assert!(f.has_room(35, u64::MAX));
    }
}
