//! A delivery checker for end-to-end tests: per partition, which input records were lost,
//! duplicated or reordered, and whether a commit ran ahead of processing.
//!
//! Input records carry a [`Trace`] payload, `(run, partition, seq)`, so a record read back
//! from an output topic names the input record it came from. A test tells the [`Checker`]
//! what was written ([`input`](Checker::input)), what the pipeline processed, in order and
//! by *segment* (one uninterrupted run of one owner: a process between restarts)
//! ([`observe`](Checker::observe), [`observe_payload`](Checker::observe_payload)), where each
//! segment started ([`restart`](Checker::restart)) and what was committed
//! ([`committed`](Checker::committed)). [`Checker::report`] then checks the invariants of
//! `RELIABILITY.md`:
//!
//! - **I1 no loss**: every input record was observed.
//! - **I2 commit safety**: every input record below a commit was observed. For a commit
//!   recorded with [`committed_in_order`](Checker::committed_in_order), among the
//!   observations as they happened (the commit read from the broker after the observations
//!   made before it), the record must have been observed *before* the commit was seen: a
//!   commit ahead of processing is found even if processing caught up later. For one
//!   recorded with [`committed`](Checker::committed), where the order is not known (outputs
//!   read back after the run, say), only by the end: that finds commits ahead of records
//!   that were never processed at all.
//! - **I3 monotone commits**: the commits of a partition never go backwards.
//! - **I4 bounded duplicates**: a record is observed again only by a segment that started at
//!   or below it, that is, re-read from the uncommitted window. A segment's start is what
//!   the test knows of the group's committed offset when the segment began
//!   ([`restart`](Checker::restart)); a segment started from an unknown point (`None`) may
//!   re-read anything, so give the best bound known (for a new member taking over a
//!   partition: the group's commit as read from the broker before it began).
//! - **I6 order**: within a segment, a partition's records are observed in offset order.
//!
//! ```
//! use timely_kafka::testing::{Checker, Trace};
//!
//! let mut checker = Checker::new();
//! for seq in 0..3 {
//!     checker.input(0, seq as i64, Trace { run: 0, partition: 0, seq });
//! }
//! // Segment 0 processes offsets 0 and 1, commits 1, and crashes.
//! checker.observe(0, 0, 0);
//! checker.observe(0, 0, 1);
//! checker.committed(0, 1);
//! // Segment 1 restarts from the commit: it re-reads offset 1, then reads 2.
//! checker.restart(1, [(0, Some(1))]);
//! checker.observe(1, 0, 1);
//! checker.observe(1, 0, 2);
//! checker.committed(0, 3);
//! let report = checker.report();
//! assert!(report.is_clean(), "{report}");
//! assert_eq!(report.duplicates(), 1);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use super::TestRecord;

/// Where a traced record was written: the load `run`, its `partition`, and its sequence
/// number `seq` within that run and partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Trace {
    /// Which load wrote it (a test that loads several times numbers its loads).
    pub run: u32,
    /// The partition it was written to.
    pub partition: i32,
    /// Its position among the run's records of that partition, from 0.
    pub seq: u64,
}

/// A payload that is not a [`Trace`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a trace payload (expected `trace:RUN:PARTITION:SEQ`): {payload:?}")]
pub struct TraceParseError {
    /// The payload, lossily decoded.
    pub payload: String,
}

impl Trace {
    /// The payload bytes: `trace:{run}:{partition}:{seq}`.
    pub fn payload(&self) -> String {
        format!("trace:{}:{}:{}", self.run, self.partition, self.seq)
    }

    /// Parses a payload written by [`payload`](Self::payload).
    pub fn parse(payload: &[u8]) -> Result<Trace, TraceParseError> {
        let error = || TraceParseError {
            payload: String::from_utf8_lossy(payload).into_owned(),
        };
        let text = std::str::from_utf8(payload).map_err(|_| error())?;
        let mut fields = text.strip_prefix("trace:").ok_or_else(error)?.split(':');
        let mut next = || fields.next().ok_or_else(error);
        let trace = Trace {
            run: next()?.parse().map_err(|_| error())?,
            partition: next()?.parse().map_err(|_| error())?,
            seq: next()?.parse().map_err(|_| error())?,
        };
        if fields.next().is_some() {
            return Err(error());
        }
        Ok(trace)
    }

    /// Records for `seqs` of `run` in each of `partitions` partitions, keyed `key-{seq}`,
    /// interleaved across partitions: ready for
    /// [`EmbeddedCluster::load`](super::EmbeddedCluster::load).
    pub fn records(
        run: u32,
        partitions: i32,
        seqs: Range<u64>,
    ) -> impl Iterator<Item = TestRecord> {
        seqs.flat_map(move |seq| {
            (0..partitions).map(move |partition| {
                TestRecord::new(
                    Trace {
                        run,
                        partition,
                        seq,
                    }
                    .payload(),
                )
                .partition(partition)
                .key(format!("key-{seq}"))
            })
        })
    }
}

/// Collects what was written, processed and committed, and checks the invariants I1, I2,
/// I3, I4 and I6 of docs/reliability.md over them ([`Checker::report`]).
#[derive(Debug, Default, Clone)]
pub struct Checker {
    /// Input offsets per partition, and the trace each carries.
    input: BTreeMap<i32, BTreeMap<i64, Trace>>,
    by_trace: HashMap<Trace, (i32, i64)>,
    /// `(segment, partition, offset)` in the order processed.
    observed: Vec<(u64, i32, i64)>,
    /// Where each segment started, per partition (its committed offset then).
    starts: BTreeMap<u64, BTreeMap<i32, Option<i64>>>,
    /// Commits per partition, in the order they were seen.
    commits: BTreeMap<i32, Vec<i64>>,
    /// `(observations made before it, partition, offset)` of every commit, in call order;
    /// `usize::MAX`: all of them (the order is not known).
    commit_points: Vec<(usize, i32, i64)>,
    /// Observed payloads that are not input records.
    unknown: Vec<String>,
}

impl Checker {
    /// An empty checker.
    pub fn new() -> Self {
        Checker::default()
    }

    /// Input record at `offset` of `partition` carries `trace`.
    pub fn input(&mut self, partition: i32, offset: i64, trace: Trace) {
        self.input
            .entry(partition)
            .or_default()
            .insert(offset, trace);
        self.by_trace.insert(trace, (partition, offset));
    }

    /// Input read back from a topic: `(partition, offset, payload)`. A payload that is not a
    /// trace is an error naming its partition and offset.
    pub fn input_payload(
        &mut self,
        partition: i32,
        offset: i64,
        payload: &[u8],
    ) -> Result<(), String> {
        let trace = Trace::parse(payload)
            .map_err(|e| format!("input partition {partition} offset {offset}: {e}"))?;
        self.input(partition, offset, trace);
        Ok(())
    }

    /// Segment `segment` processed input `offset` of `partition` (call in processing order).
    pub fn observe(&mut self, segment: u64, partition: i32, offset: i64) {
        self.observed.push((segment, partition, offset));
    }

    /// Segment `segment` produced an output record with this payload: the input record its
    /// trace names was processed. A payload naming no input record is reported as unknown.
    pub fn observe_payload(&mut self, segment: u64, payload: &[u8]) {
        match Trace::parse(payload)
            .ok()
            .and_then(|t| self.by_trace.get(&t).copied())
        {
            Some((partition, offset)) => self.observe(segment, partition, offset),
            None => self
                .unknown
                .push(String::from_utf8_lossy(payload).into_owned()),
        }
    }

    /// Segment `segment` started from these committed offsets (`None`: nothing committed).
    /// Without a call, a segment may re-read nothing.
    pub fn restart(
        &mut self,
        segment: u64,
        committed: impl IntoIterator<Item = (i32, Option<i64>)>,
    ) {
        self.starts.entry(segment).or_default().extend(committed);
    }

    /// The group's committed offset for `partition` was `offset` (call in the order the
    /// commits were seen). I2 holds it against every observation, whenever made.
    pub fn committed(&mut self, partition: i32, offset: i64) {
        self.commits.entry(partition).or_default().push(offset);
        self.commit_points.push((usize::MAX, partition, offset));
    }

    /// Like [`committed`](Self::committed), for a commit seen *now*: after the observations
    /// recorded so far and before any recorded later. I2 holds it against the observations
    /// made before it.
    pub fn committed_in_order(&mut self, partition: i32, offset: i64) {
        self.commits.entry(partition).or_default().push(offset);
        self.commit_points
            .push((self.observed.len(), partition, offset));
    }

    /// I2: per partition, the input offsets below a commit that had not been observed when
    /// the commit was seen.
    fn commits_ahead(&self) -> BTreeMap<i32, Vec<i64>> {
        let inputs: BTreeMap<i32, Vec<i64>> = self
            .input
            .iter()
            .map(|(p, offsets)| (*p, offsets.keys().copied().collect()))
            .collect();
        // Per partition: offsets observed so far, and how many input offsets, from the
        // lowest, have all been observed.
        let mut seen: HashMap<i32, std::collections::HashSet<i64>> = HashMap::new();
        let mut prefix: HashMap<i32, usize> = HashMap::new();
        let mut ahead: BTreeMap<i32, std::collections::BTreeSet<i64>> = BTreeMap::new();
        let mut next = 0;
        let mut points = self.commit_points.clone();
        // Commits of unknown order are held against every observation: after the others.
        points.sort_by_key(|(before, _, _)| *before);
        for (before, partition, offset) in points {
            let before = before.min(self.observed.len());
            for &(_, p, o) in &self.observed[next.min(before)..before] {
                seen.entry(p).or_default().insert(o);
            }
            next = next.max(before);
            let Some(input) = inputs.get(&partition) else {
                continue;
            };
            let seen = seen.entry(partition).or_default();
            let done = prefix.entry(partition).or_default();
            while *done < input.len() && seen.contains(&input[*done]) {
                *done += 1;
            }
            if input.get(*done).is_some_and(|first| *first < offset) {
                ahead.entry(partition).or_default().extend(
                    input[*done..]
                        .iter()
                        .take_while(|o| **o < offset)
                        .filter(|o| !seen.contains(o)),
                );
            }
        }
        ahead
            .into_iter()
            .map(|(p, offsets)| (p, offsets.into_iter().collect()))
            .collect()
    }

    /// Checks everything collected.
    pub fn report(&self) -> Report {
        let mut partitions = BTreeMap::new();
        let mut seen: HashMap<(i32, i64), usize> = HashMap::new();
        let mut last: HashMap<(u64, i32), i64> = HashMap::new();
        let mut reordered: BTreeMap<i32, Vec<Reorder>> = BTreeMap::new();
        let mut rereads_below_start: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        let mut first_segment: HashMap<(i32, i64), u64> = HashMap::new();
        let mut commits_ahead = self.commits_ahead();
        for &(segment, partition, offset) in &self.observed {
            let count = seen.entry((partition, offset)).or_default();
            *count += 1;
            let first = *first_segment.entry((partition, offset)).or_insert(segment);
            if *count > 1 && first != segment {
                // Re-read by a later segment: only allowed at or above where it started.
                let start = self
                    .starts
                    .get(&segment)
                    .and_then(|s| s.get(&partition).copied());
                let allowed = match start {
                    Some(Some(start)) => offset >= start,
                    Some(None) => true,
                    None => false,
                };
                if !allowed {
                    rereads_below_start
                        .entry(partition)
                        .or_default()
                        .push(offset);
                }
            }
            if let Some(previous) = last.insert((segment, partition), offset) {
                if offset <= previous {
                    reordered.entry(partition).or_default().push(Reorder {
                        segment,
                        previous,
                        offset,
                    });
                }
            }
        }
        let mut all: Vec<i32> = self.input.keys().copied().collect();
        all.extend(self.observed.iter().map(|o| o.1));
        all.extend(self.commits.keys().copied());
        all.sort_unstable();
        all.dedup();
        for partition in all {
            let input = self.input.get(&partition);
            let commits = self
                .commits
                .get(&partition)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let last_commit = commits.iter().copied().max();
            let lost: Vec<i64> = input
                .into_iter()
                .flat_map(|i| i.keys())
                .filter(|o| !seen.contains_key(&(partition, **o)))
                .copied()
                .collect();
            let committed_unprocessed = commits_ahead.remove(&partition).unwrap_or_default();
            let commit_regressions = commits
                .windows(2)
                .filter(|w| w[1] < w[0])
                .map(|w| (w[0], w[1]))
                .collect();
            let unknown_offsets = seen
                .keys()
                .filter(|(p, o)| *p == partition && !input.is_some_and(|i| i.contains_key(o)))
                .map(|(_, o)| *o)
                .collect();
            let duplicates = seen
                .iter()
                .filter(|((p, _), _)| *p == partition)
                .map(|(_, n)| n - 1)
                .sum();
            partitions.insert(
                partition,
                PartitionReport {
                    input: input.map_or(0, BTreeMap::len),
                    lost,
                    committed_unprocessed,
                    duplicates,
                    rereads_below_start: rereads_below_start.remove(&partition).unwrap_or_default(),
                    reordered: reordered.remove(&partition).unwrap_or_default(),
                    commit_regressions,
                    last_commit,
                    unknown_offsets,
                },
            );
        }
        Report {
            partitions,
            unknown_payloads: self.unknown.clone(),
        }
    }
}

/// An observation out of offset order within one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reorder {
    /// The segment that observed it.
    pub segment: u64,
    /// The offset observed before it.
    pub previous: i64,
    /// The offset observed, not above `previous`.
    pub offset: i64,
}

/// What the checker found for one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Input records written to the partition.
    pub input: usize,
    /// I1: input offsets never observed.
    pub lost: Vec<i64>,
    /// I2: offsets below a commit that had not been observed when the commit was seen: a
    /// commit ran ahead of processing (whether or not the record was processed later).
    pub committed_unprocessed: Vec<i64>,
    /// Observations beyond the first of each record.
    pub duplicates: usize,
    /// I4: offsets a later segment re-read although it started above them.
    pub rereads_below_start: Vec<i64>,
    /// I6: observations out of offset order within a segment.
    pub reordered: Vec<Reorder>,
    /// I3: commits that went backwards, `(from, to)`.
    pub commit_regressions: Vec<(i64, i64)>,
    /// The highest commit seen.
    pub last_commit: Option<i64>,
    /// Observed offsets that are not input records.
    pub unknown_offsets: Vec<i64>,
}

impl PartitionReport {
    /// Whether every invariant holds for this partition (duplicates are allowed; where they
    /// may come from is checked by `rereads_below_start`).
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.committed_unprocessed.is_empty()
            && self.rereads_below_start.is_empty()
            && self.reordered.is_empty()
            && self.commit_regressions.is_empty()
            && self.unknown_offsets.is_empty()
    }
}

/// What the checker found, per partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Per partition, in order.
    pub partitions: BTreeMap<i32, PartitionReport>,
    /// Observed payloads that name no input record.
    pub unknown_payloads: Vec<String>,
}

impl Report {
    /// Whether every invariant holds in every partition.
    pub fn is_clean(&self) -> bool {
        self.unknown_payloads.is_empty() && self.partitions.values().all(PartitionReport::is_clean)
    }

    /// Input records in all partitions.
    pub fn input(&self) -> usize {
        self.partitions.values().map(|p| p.input).sum()
    }

    /// Lost records in all partitions.
    pub fn lost(&self) -> usize {
        self.partitions.values().map(|p| p.lost.len()).sum()
    }

    /// Duplicate observations in all partitions.
    pub fn duplicates(&self) -> usize {
        self.partitions.values().map(|p| p.duplicates).sum()
    }
}

/// At most this many offsets are listed per finding.
const SHOWN: usize = 10;

fn shown<T: fmt::Debug>(items: &[T]) -> String {
    if items.len() > SHOWN {
        format!("{:?}... ({} in all)", &items[..SHOWN], items.len())
    } else {
        format!("{items:?}")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} input records, {} lost, {} duplicates{}",
            self.input(),
            self.lost(),
            self.duplicates(),
            if self.is_clean() { "" } else { ": FAILED" }
        )?;
        for (partition, p) in &self.partitions {
            write!(
                f,
                "  partition {partition}: {} input, committed {:?}, {} duplicates",
                p.input, p.last_commit, p.duplicates
            )?;
            for (name, list) in [
                ("lost", shown(&p.lost)),
                ("committed unprocessed", shown(&p.committed_unprocessed)),
                ("re-read below the start", shown(&p.rereads_below_start)),
                ("reordered", shown(&p.reordered)),
                ("commit regressions", shown(&p.commit_regressions)),
                ("unknown offsets", shown(&p.unknown_offsets)),
            ] {
                if list != "[]" {
                    write!(f, "; {name}: {list}")?;
                }
            }
            writeln!(f)?;
        }
        if !self.unknown_payloads.is_empty() {
            writeln!(f, "  unknown payloads: {}", shown(&self.unknown_payloads))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(partitions: i32, per_partition: u64) -> Checker {
        let mut checker = Checker::new();
        for partition in 0..partitions {
            for seq in 0..per_partition {
                checker.input(
                    partition,
                    seq as i64,
                    Trace {
                        run: 0,
                        partition,
                        seq,
                    },
                );
            }
        }
        checker
    }

    #[test]
    fn trace_payloads_round_trip_and_reject_others() {
        let trace = Trace {
            run: 3,
            partition: 7,
            seq: 12_345,
        };
        assert_eq!(Trace::parse(trace.payload().as_bytes()), Ok(trace));
        for bad in ["", "trace:1:2", "trace:1:2:3:4", "trace:a:2:3", "x:1:2:3"] {
            let err = Trace::parse(bad.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("trace:RUN"), "{err}");
        }
        assert_eq!(Trace::records(0, 2, 0..3).count(), 6);
    }

    #[test]
    fn a_clean_run_is_clean() {
        let mut c = checker(2, 3);
        for o in 0..3 {
            c.observe(0, 0, o);
            c.observe(0, 1, o);
        }
        c.committed(0, 3);
        c.committed(1, 3);
        let report = c.report();
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            (report.input(), report.lost(), report.duplicates()),
            (6, 0, 0)
        );
    }

    #[test]
    fn loss_and_a_commit_ahead_of_processing_are_found() {
        let mut c = checker(1, 4);
        c.observe(0, 0, 0);
        c.observe(0, 0, 3);
        c.committed(0, 2);
        let p = &c.report().partitions[&0];
        assert_eq!(p.lost, [1, 2]);
        assert_eq!(p.committed_unprocessed, [1]);
        assert!(!c.report().is_clean());
    }

    #[test]
    fn a_commit_ahead_of_processing_is_found_even_when_processing_catches_up() {
        let mut c = checker(2, 4);
        c.observe(0, 0, 0);
        c.observe(0, 1, 0);
        c.observe(0, 1, 1);
        // Seen while partition 0 had processed only offset 0: ahead of 1 and 2.
        c.committed_in_order(0, 3);
        // Partition 1's commit is behind its processing.
        c.committed_in_order(1, 2);
        for o in 1..4 {
            c.observe(0, 0, o);
        }
        c.observe(0, 1, 2);
        c.observe(0, 1, 3);
        c.committed_in_order(0, 4);
        c.committed_in_order(1, 4);
        let report = c.report();
        assert_eq!(report.partitions[&0].committed_unprocessed, [1, 2]);
        assert!(report.partitions[&0].lost.is_empty());
        assert!(report.partitions[&1].is_clean(), "{report}");
        assert!(!report.is_clean());
        // Recorded without their order, the same commits only count against the end.
        let mut unordered = checker(1, 4);
        unordered.committed(0, 3);
        for o in 0..4 {
            unordered.observe(0, 0, o);
        }
        assert!(unordered.report().is_clean(), "{}", unordered.report());
    }

    #[test]
    fn reordering_within_a_segment_is_found_but_not_across_segments() {
        let mut c = checker(1, 3);
        c.observe(0, 0, 1);
        c.observe(0, 0, 0);
        c.observe(0, 0, 2);
        c.restart(1, [(0, Some(0))]);
        c.observe(1, 0, 0);
        let p = &c.report().partitions[&0];
        assert_eq!(
            p.reordered,
            [Reorder {
                segment: 0,
                previous: 1,
                offset: 0
            }]
        );
        assert_eq!(p.duplicates, 1);
        assert!(p.rereads_below_start.is_empty());
    }

    #[test]
    fn a_reread_below_the_restart_point_breaks_i4() {
        let mut c = checker(1, 3);
        for o in 0..3 {
            c.observe(0, 0, o);
        }
        c.restart(1, [(0, Some(2))]);
        c.observe(1, 0, 1);
        c.observe(1, 0, 2);
        // Segment 2 was never declared as a restart: any re-read by it is unexplained.
        c.observe(2, 0, 2);
        let p = &c.report().partitions[&0];
        assert_eq!(p.rereads_below_start, [1, 2]);
        assert_eq!(p.duplicates, 3);
    }

    #[test]
    fn commit_regressions_and_unknown_payloads_are_found() {
        let mut c = checker(1, 2);
        c.observe_payload(
            0,
            Trace {
                run: 0,
                partition: 0,
                seq: 0,
            }
            .payload()
            .as_bytes(),
        );
        c.observe_payload(
            0,
            Trace {
                run: 0,
                partition: 0,
                seq: 1,
            }
            .payload()
            .as_bytes(),
        );
        c.observe_payload(0, b"garbage");
        c.committed(0, 2);
        c.committed(0, 1);
        let report = c.report();
        assert_eq!(report.partitions[&0].commit_regressions, [(2, 1)]);
        assert_eq!(report.unknown_payloads, ["garbage"]);
        assert!(report.to_string().contains("FAILED"), "{report}");
    }
}
