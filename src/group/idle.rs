//! When a process's source became idle: caught up and nothing new arrived.
//!
//! The process is *idle* while all of these hold:
//!
//! * its membership holds a settled assignment: the group has handed it its partitions (maybe
//!   none) and no rebalance is under way. Joining, waiting for the group's first rebalance
//!   delay, waiting for a dead member's session to expire and revoking are never idle;
//! * every partition it owns is at its end: its queue is empty and its position (the offset
//!   after the last record, or transaction marker, handed over; or where it started) has
//!   reached both the end its log had when it was assigned and the high watermark of its
//!   latest fetch, and no record has arrived since. Under `read_committed` an open
//!   transaction holds this back until it ends;
//! * every record it has read has passed the commit frontier (when there is one).
//!
//! The idle time counts from the moment the last of these became true. Each local worker
//! reports whether its own partitions are caught up; any change to the assignment marks every
//! worker as not caught up until it has looked at its new partitions, and a report about an
//! older assignment is ignored. Under the consumer protocol a member assigned nothing gets no
//! rebalance callback: the group thread settles it once it has a member epoch.

use std::time::{Duration, Instant};

/// The process-wide idle clock.
#[derive(Debug, Default)]
pub(crate) struct IdleClock {
    /// The group has handed this process its assignment and no rebalance is under way.
    settled: bool,
    /// Per local worker: its partitions are at their end and nothing it read is in flight.
    caught_up: Vec<bool>,
    /// Since when everything above has held.
    since: Option<Instant>,
}

impl IdleClock {
    /// A rebalance began (or an assignment is being handed over): the clock stops, and every
    /// worker must look at its partitions again before the process counts as idle. Called
    /// before the workers are told the assignment changed, so a worker's later report is
    /// about the new assignment.
    pub(crate) fn unsettle(&mut self) {
        self.settled = false;
        self.caught_up.iter_mut().for_each(|c| *c = false);
        self.since = None;
    }

    /// Whether the group has handed this process its assignment since the last rebalance.
    pub(crate) fn is_settled(&self) -> bool {
        self.settled
    }

    /// The group has handed this process its assignment.
    pub(crate) fn settle(&mut self) {
        self.settled = true;
        self.update();
    }

    /// Local worker `rank` of `workers` reports whether its partitions are caught up.
    pub(crate) fn report(&mut self, rank: usize, workers: usize, caught_up: bool) {
        if self.caught_up.len() < workers {
            self.caught_up.resize(workers, false);
        }
        self.caught_up[rank] = caught_up;
        self.update();
    }

    fn update(&mut self) {
        let idle = self.settled && !self.caught_up.is_empty() && self.caught_up.iter().all(|c| *c);
        match (idle, self.since) {
            (true, None) => self.since = Some(Instant::now()),
            (false, Some(_)) => self.since = None,
            _ => {}
        }
    }

    /// How long the process has been idle (zero when it is not).
    pub(crate) fn idle_for(&self) -> Duration {
        self.since.map_or(Duration::ZERO, |since| since.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_idle_before_the_first_assignment() {
        let mut clock = IdleClock::default();
        clock.report(0, 1, true);
        assert_eq!(clock.idle_for(), Duration::ZERO);
        assert!(clock.since.is_none());
    }

    #[test]
    fn idle_once_settled_and_every_worker_caught_up() {
        let mut clock = IdleClock::default();
        clock.settle();
        clock.report(0, 2, true);
        assert!(clock.since.is_none(), "worker 1 has not reported");
        clock.report(1, 2, true);
        assert!(clock.since.is_some());
        clock.report(1, 2, false);
        assert!(clock.since.is_none(), "a worker read more");
    }

    #[test]
    fn a_rebalance_stops_the_clock_until_workers_report_again() {
        let mut clock = IdleClock::default();
        clock.settle();
        clock.report(0, 1, true);
        assert!(clock.since.is_some());
        clock.unsettle();
        assert!(clock.since.is_none());
        clock.report(0, 1, true);
        assert!(clock.since.is_none(), "revoking is never idle");
        clock.unsettle();
        clock.settle();
        assert!(
            clock.since.is_none(),
            "the worker has not seen its new partitions"
        );
        clock.report(0, 1, true);
        assert!(clock.since.is_some());
    }
}
