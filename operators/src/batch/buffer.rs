//! The batching logic, free of timely: open batches per key, flushed by size, bytes or age.
//!
//! Kept apart from the operator so it can be tested with a simulated clock.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::stable_hash::StableBuildHasher;

/// Something that marks the time of records: the operator uses timely capabilities.
pub trait Stamp: Clone {
    /// Whether `self` is strictly earlier than `other`.
    fn earlier_than(&self, other: &Self) -> bool;
}

impl Stamp for u64 {
    fn earlier_than(&self, other: &Self) -> bool {
        self < other
    }
}

/// A batch taken out of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flushed<K, D, S> {
    /// The batch key.
    pub key: K,
    /// The records, in arrival order.
    pub records: Vec<D>,
    /// The earliest stamp among the records.
    pub stamp: S,
    /// Why it was flushed.
    pub reason: FlushReason,
}

/// Why a batch was flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushReason {
    /// It reached `max_size` records.
    Size,
    /// The next record would have taken it past `max_bytes` (or it reached it).
    Bytes,
    /// Its first record is `timeout` old.
    Timeout,
    /// A flush was requested ([`flush_open_batches`](super::flush_open_batches)).
    Requested,
    /// The input ended.
    InputDone,
}

struct Open<D, S> {
    records: Vec<D>,
    bytes: usize,
    stamp: S,
    deadline: Instant,
}

/// Open batches, one per key.
pub struct BatchBuffer<K, D, S> {
    max_size: usize,
    max_bytes: Option<usize>,
    timeout: Duration,
    slots: Vec<Option<(K, Open<D, S>)>>,
    free: Vec<usize>,
    index: HashMap<K, usize, StableBuildHasher>,
    /// The slot of the last key pushed: records arrive in runs of one key.
    last: Option<usize>,
}

impl<K: Hash + Eq + Clone, D, S: Stamp> BatchBuffer<K, D, S> {
    /// A buffer flushing at `max_size` records, `max_bytes` bytes, or `timeout` age.
    pub fn new(max_size: usize, max_bytes: Option<usize>, timeout: Duration) -> Self {
        BatchBuffer {
            max_size: max_size.max(1),
            max_bytes,
            timeout,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::default(),
            last: None,
        }
    }

    /// Adds `record` (of `weight` bytes, stamped `stamp`, arriving at `now`) to its key's
    /// batch, appending any batch that fills up to `out`.
    #[inline]
    pub fn push(
        &mut self,
        key: K,
        record: D,
        weight: usize,
        stamp: &S,
        now: Instant,
        out: &mut Vec<Flushed<K, D, S>>,
    ) {
        let slot = match self.last {
            Some(i) if self.slots[i].as_ref().is_some_and(|(k, _)| *k == key) => i,
            _ => self.slot_for(key.clone(), stamp, now),
        };
        self.last = Some(slot);
        if let Some(max_bytes) = self.max_bytes {
            let (_, open) = self.slots[slot].as_ref().expect("slot is open");
            if !open.records.is_empty() && open.bytes + weight > max_bytes {
                self.flush_slot(slot, FlushReason::Bytes, out);
                let slot = self.slot_for(key, stamp, now);
                self.last = Some(slot);
                return self.add(slot, record, weight, stamp, out);
            }
        }
        self.add(slot, record, weight, stamp, out);
    }

    #[inline]
    fn add(
        &mut self,
        slot: usize,
        record: D,
        weight: usize,
        stamp: &S,
        out: &mut Vec<Flushed<K, D, S>>,
    ) {
        let (_, open) = self.slots[slot].as_mut().expect("slot is open");
        if stamp.earlier_than(&open.stamp) {
            open.stamp = stamp.clone();
        }
        open.records.push(record);
        open.bytes += weight;
        let full_bytes = self.max_bytes.is_some_and(|m| open.bytes >= m);
        if open.records.len() >= self.max_size {
            self.flush_slot(slot, FlushReason::Size, out);
        } else if full_bytes {
            self.flush_slot(slot, FlushReason::Bytes, out);
        }
    }

    /// The slot of `key`'s open batch, opening one if there is none.
    fn slot_for(&mut self, key: K, stamp: &S, now: Instant) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let open = Open {
            records: Vec::with_capacity(self.max_size.min(1024)),
            bytes: 0,
            stamp: stamp.clone(),
            deadline: now + self.timeout,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some((key.clone(), open));
                i
            }
            None => {
                self.slots.push(Some((key.clone(), open)));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, i);
        i
    }

    fn flush_slot(&mut self, slot: usize, reason: FlushReason, out: &mut Vec<Flushed<K, D, S>>) {
        if let Some((key, open)) = self.slots[slot].take() {
            self.index.remove(&key);
            self.free.push(slot);
            if self.last == Some(slot) {
                self.last = None;
            }
            out.push(Flushed {
                key,
                records: open.records,
                stamp: open.stamp,
                reason,
            });
        }
    }

    /// Flushes every batch whose timeout has passed at `now`.
    pub fn flush_expired(&mut self, now: Instant, out: &mut Vec<Flushed<K, D, S>>) {
        for slot in 0..self.slots.len() {
            if self.slots[slot]
                .as_ref()
                .is_some_and(|(_, open)| open.deadline <= now)
            {
                self.flush_slot(slot, FlushReason::Timeout, out);
            }
        }
    }

    /// Flushes every open batch, for `reason`.
    pub fn flush_all(&mut self, reason: FlushReason, out: &mut Vec<Flushed<K, D, S>>) {
        for slot in 0..self.slots.len() {
            self.flush_slot(slot, reason, out);
        }
    }

    /// When the oldest open batch times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .map(|(_, open)| open.deadline)
            .min()
    }

    /// Whether no batch is open.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The earliest stamp among open batches.
    pub fn earliest_stamp(&self) -> Option<&S> {
        self.slots
            .iter()
            .flatten()
            .map(|(_, open)| &open.stamp)
            .reduce(|a, b| if b.earlier_than(a) { b } else { a })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(
        buffer: &mut BatchBuffer<u8, (u8, u32), u64>,
        out: &mut Vec<Flushed<u8, (u8, u32), u64>>,
    ) {
        buffer.flush_all(FlushReason::InputDone, out);
    }

    proptest! {
        /// Every record lands in exactly one batch, batches respect the size and byte
        /// limits, each key's records keep their order, and a batch's stamp is its
        /// records' earliest.
        #[test]
        fn batches_partition_the_input(
            records in proptest::collection::vec((0u8..5, 1usize..40), 0..400),
            max_size in 1usize..50,
            max_bytes in proptest::option::of(10usize..200),
        ) {
            let start = Instant::now();
            let mut buffer = BatchBuffer::new(max_size, max_bytes, Duration::from_secs(1));
            let mut out = Vec::new();
            let mut seq = [0u32; 5];
            for (i, (key, weight)) in records.iter().enumerate() {
                let n = seq[*key as usize];
                seq[*key as usize] += 1;
                buffer.push(*key, (*key, n), *weight, &(i as u64 / 7), start, &mut out);
            }
            drain(&mut buffer, &mut out);
            let total: usize = out.iter().map(|b| b.records.len()).sum();
            prop_assert_eq!(total, records.len());
            let mut next = [0u32; 5];
            for batch in &out {
                prop_assert!(!batch.records.is_empty());
                prop_assert!(batch.records.len() <= max_size);
                for (key, n) in &batch.records {
                    prop_assert_eq!(*key, batch.key);
                    prop_assert_eq!(*n, next[*key as usize], "key {} out of order", key);
                    next[*key as usize] += 1;
                }
            }
            if let Some(max_bytes) = max_bytes {
                // A batch exceeds max_bytes only if it is a single oversized record.
                let weights: std::collections::HashMap<(u8, u32), usize> = {
                    let mut seq = [0u32; 5];
                    records.iter().map(|(k, w)| { let n = seq[*k as usize]; seq[*k as usize] += 1; ((*k, n), *w) }).collect()
                };
                for batch in &out {
                    let bytes: usize = batch.records.iter().map(|r| weights[r]).sum();
                    prop_assert!(bytes <= max_bytes || batch.records.len() == 1);
                }
            }
        }

        /// A partial batch is flushed once its first record is `timeout` old, not before.
        #[test]
        fn timeout_flushes_partial_batches(
            arrivals in proptest::collection::vec((0u8..3, 0u64..500), 1..60),
            timeout_ms in 1u64..300,
        ) {
            let start = Instant::now();
            let timeout = Duration::from_millis(timeout_ms);
            let mut buffer = BatchBuffer::new(usize::MAX, None, timeout);
            let mut out = Vec::new();
            let mut arrivals = arrivals;
            arrivals.sort_by_key(|(_, at)| *at);
            let mut opened: std::collections::HashMap<u8, u64> = Default::default();
            for (key, at) in &arrivals {
                let now = start + Duration::from_millis(*at);
                buffer.flush_expired(now, &mut out);
                for b in out.drain(..) {
                    let first = opened.remove(&b.key).unwrap();
                    prop_assert!(first + timeout_ms <= *at, "flushed early");
                    prop_assert_eq!(b.reason, FlushReason::Timeout);
                }
                opened.entry(*key).or_insert(*at);
                buffer.push(*key, *at, 1, &0, now, &mut out);
            }
            // Every open batch is due exactly at its first record plus the timeout.
            let due = buffer.next_deadline();
            let expected = opened.values().min().map(|first| start + Duration::from_millis(first + timeout_ms));
            prop_assert_eq!(due, expected);
        }
    }
}
