//! Per-partition commit progress: which offsets are fully processed, by tick.
//!
//! The source records, for each tick, the offset after the last record it emitted at that
//! tick. When the frontier at the end of the dataflow passes a tick, every record emitted at
//! or before it is done everywhere, so the partition may commit that offset: *last processed
//! offset + 1*, never the last offset merely read.

use std::collections::VecDeque;

/// Commit progress of one partition.
///
/// ```
/// use timely_kafka::source::progress::PartitionProgress;
///
/// let mut p = PartitionProgress::default();
/// p.emitted(100, 7);   // offsets ..=7 emitted at tick 100
/// p.emitted(100, 9);
/// p.emitted(200, 15);
/// assert_eq!(p.commit_position(), None);        // nothing processed yet
/// p.release(Some(200));                          // frontier passed tick 100, not 200
/// assert_eq!(p.commit_position(), Some(10));    // last processed 9, so commit 10
/// p.mark_committed(10);
/// assert_eq!(p.commit_position(), None);
/// p.release(None);                               // the dataflow is done
/// assert_eq!(p.commit_position(), Some(16));
/// ```
#[derive(Debug, Clone, Default)]
pub struct PartitionProgress {
    /// `(tick, offset after the last record emitted at that tick)`, ticks increasing.
    in_flight: VecDeque<(u64, i64)>,
    /// The offset after the last fully processed record.
    processed: Option<i64>,
    /// The last offset handed to a commit.
    committed: Option<i64>,
    /// The group's committed offset when this ownership began.
    floor: Option<i64>,
}

impl PartitionProgress {
    /// Progress of a partition whose group had committed `committed` when it was assigned:
    /// nothing at or below it is committed again.
    pub fn after_commit(committed: Option<i64>) -> Self {
        PartitionProgress {
            committed,
            floor: committed,
            ..PartitionProgress::default()
        }
    }

    /// Notes that the record at `offset` was emitted at `tick`. Ticks never decrease.
    #[inline]
    pub fn emitted(&mut self, tick: u64, offset: i64) {
        match self.in_flight.back_mut() {
            Some((t, next)) if *t == tick => *next = offset + 1,
            _ => self.in_flight.push_back((tick, offset + 1)),
        }
    }

    /// Releases every tick the frontier has passed: all ticks below `frontier`, or all of
    /// them if the frontier is empty (`None`). Returns whether the processed position moved.
    pub fn release(&mut self, frontier: Option<u64>) -> bool {
        let mut moved = false;
        while let Some(&(tick, next)) = self.in_flight.front() {
            if frontier.is_some_and(|f| tick >= f) {
                break;
            }
            self.in_flight.pop_front();
            self.processed = Some(next);
            moved = true;
        }
        moved
    }

    /// The offset to commit, if processing moved past what was last committed.
    pub fn commit_position(&self) -> Option<i64> {
        match (self.processed, self.committed) {
            (Some(p), Some(c)) if p <= c => None,
            (p, _) => p,
        }
    }

    /// Like [`commit_position`](Self::commit_position), but never past `cap` (the first
    /// failed offset of a partition whose commits are halted).
    pub fn commit_position_capped(&self, cap: Option<i64>) -> Option<i64> {
        // A cap at or below where this ownership began is an older ownership's halt,
        // already resolved (someone committed past it).
        let cap = cap.filter(|c| self.floor.is_none_or(|f| *c > f));
        let position = match (self.processed, cap) {
            (Some(p), Some(c)) => Some(p.min(c)),
            (p, _) => p,
        }?;
        match self.committed {
            Some(c) if position <= c => None,
            _ => Some(position),
        }
    }

    /// Where this ownership's processed records end, capped like
    /// [`commit_position_capped`](Self::commit_position_capped), whether or not that offset
    /// was already handed to a commit: what a partition's final commit must have committed.
    /// `None` if nothing was processed past where the ownership began.
    ///
    /// ```
    /// use timely_kafka::source::progress::PartitionProgress;
    ///
    /// let mut p = PartitionProgress::after_commit(Some(5));
    /// assert_eq!(p.processed_position_capped(None), None);
    /// p.emitted(100, 9);
    /// p.release(None);
    /// p.mark_committed(10);
    /// assert_eq!(p.commit_position_capped(None), None);        // already sent
    /// assert_eq!(p.processed_position_capped(None), Some(10)); // still where it ends
    /// assert_eq!(p.processed_position_capped(Some(7)), Some(7));
    /// ```
    pub fn processed_position_capped(&self, cap: Option<i64>) -> Option<i64> {
        let cap = cap.filter(|c| self.floor.is_none_or(|f| *c > f));
        let position = match (self.processed, cap) {
            (Some(p), Some(c)) => Some(p.min(c)),
            (p, _) => p,
        }?;
        match self.floor {
            Some(f) if position <= f => None,
            _ => Some(position),
        }
    }

    /// Notes that `offset` was handed to a commit.
    pub fn mark_committed(&mut self, offset: i64) {
        self.committed = Some(self.committed.map_or(offset, |c| c.max(offset)));
    }

    /// Forgets a commit of `offset` that the broker refused, so it is sent again.
    pub fn forget_commit(&mut self, offset: i64) {
        if self.committed == Some(offset) {
            self.committed = None;
        }
    }

    /// Whether records emitted for this partition are still being processed.
    pub fn has_in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// The offset after the last fully processed record, if any.
    pub fn processed(&self) -> Option<i64> {
        self.processed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the frontier does, the commit position never passes a record emitted at
        /// a tick the frontier has not passed, and never goes backwards.
        #[test]
        fn commit_position_never_passes_unprocessed_records(
            steps in proptest::collection::vec((0u64..3, 1i64..5, 0u64..3), 1..60),
        ) {
            let mut p = PartitionProgress::default();
            let (mut tick, mut offset, mut frontier) = (0u64, 0i64, 0u64);
            let mut emitted: Vec<(u64, i64)> = Vec::new();
            let mut last_commit = None;
            for (dt, n, df) in steps {
                tick += dt;
                for _ in 0..n {
                    p.emitted(tick, offset);
                    emitted.push((tick, offset));
                    offset += 1;
                }
                frontier = (frontier + df).min(tick + 1);
                p.release(Some(frontier));
                if let Some(c) = p.commit_position() {
                    // every record below c was emitted at a tick the frontier passed
                    for &(t, o) in &emitted {
                        if o < c { prop_assert!(t < frontier); }
                    }
                    if let Some(prev) = last_commit { prop_assert!(c > prev); }
                    p.mark_committed(c);
                    last_commit = Some(c);
                }
            }
            p.release(None);
            if offset > 0 {
                prop_assert_eq!(p.processed(), Some(offset));
            }
        }
    }
}
