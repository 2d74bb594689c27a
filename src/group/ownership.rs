//! Which local worker reads which assigned partition.
//!
//! The partitions assigned to a process are sorted by `(topic, partition)` and dealt out to
//! the process's workers in turn, like cards. With `P` partitions and `W` workers each worker
//! gets `⌊P/W⌋` or `⌈P/W⌉` of them, every worker computes the same answer from the same
//! assignment, and the rule does not depend on any hash function (a plain hash put 6 of 8
//! partitions on one of 2 workers in a test here).

use std::collections::BTreeMap;

use crate::position::TopicPartition;

/// The local worker (`0..workers`) that owns `partition` within `assignment`, or `None` if the
/// partition is not in the assignment.
///
/// `assignment` need not be sorted; duplicates count once.
///
/// ```
/// use timely_kafka::source::ownership::owner;
/// use timely_kafka::TopicPartition;
///
/// let assignment: Vec<TopicPartition> = (0..8).map(|p| TopicPartition::new("t", p)).collect();
/// let owners: Vec<_> =
///     (0..8).map(|p| owner(&assignment, &TopicPartition::new("t", p), 3).unwrap()).collect();
/// assert_eq!(owners, [0, 1, 2, 0, 1, 2, 0, 1]);
/// ```
pub fn owner(
    assignment: &[TopicPartition],
    partition: &TopicPartition,
    workers: usize,
) -> Option<usize> {
    let sorted = sorted_unique(assignment);
    sorted
        .iter()
        .position(|p| p == partition)
        .map(|i| i % workers.max(1))
}

/// The partitions of `assignment` owned by local worker `worker` of `workers`, in
/// `(topic, partition)` order.
///
/// ```
/// use timely_kafka::source::ownership::owned_by;
/// use timely_kafka::TopicPartition;
///
/// let t = |p: i32| TopicPartition::new("t", p);
/// let assignment: Vec<TopicPartition> = (0..5).map(t).collect();
/// assert_eq!(owned_by(&assignment, 0, 2), [t(0), t(2), t(4)]);
/// assert_eq!(owned_by(&assignment, 1, 2), [t(1), t(3)]);
/// ```
pub fn owned_by(
    assignment: &[TopicPartition],
    worker: usize,
    workers: usize,
) -> Vec<TopicPartition> {
    let workers = workers.max(1);
    sorted_unique(assignment)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % workers == worker)
        .map(|(_, p)| p)
        .collect()
}

/// Deals partitions to `workers` local workers, keeping the owner of every partition that
/// already has one (so no partition moves while it is being read) and giving each new
/// partition, in `(topic, partition)` order, to the worker with the fewest, the lowest rank on
/// a tie. With no existing owners this is exactly [`owned_by`]'s balanced deal.
///
/// ```
/// use std::collections::BTreeMap;
/// use timely_kafka::source::ownership::deal;
/// use timely_kafka::TopicPartition;
///
/// let t = |p: i32| TopicPartition::new("t", p);
/// // Partitions 0 and 1 are already read by workers 1 and 1; 2, 3 and 4 are new.
/// let current = BTreeMap::from([(t(0), Some(1)), (t(1), Some(1)), (t(2), None), (t(3), None), (t(4), None)]);
/// let owners = deal(&current, 2);
/// assert_eq!(owners[&t(0)], 1);
/// assert_eq!(owners[&t(1)], 1);
/// assert_eq!((owners[&t(2)], owners[&t(3)], owners[&t(4)]), (0, 0, 0)); // 3 and 2 now
/// ```
pub fn deal(
    current: &BTreeMap<TopicPartition, Option<usize>>,
    workers: usize,
) -> BTreeMap<TopicPartition, usize> {
    let workers = workers.max(1);
    let mut load = vec![0usize; workers];
    let mut owners = BTreeMap::new();
    for (tp, owner) in current {
        if let Some(w) = owner.filter(|w| *w < workers) {
            load[w] += 1;
            owners.insert(tp.clone(), w);
        }
    }
    for tp in current.keys() {
        if owners.contains_key(tp) {
            continue;
        }
        let (w, _) = load
            .iter()
            .enumerate()
            .min_by_key(|(w, n)| (**n, *w))
            .expect("at least one worker");
        load[w] += 1;
        owners.insert(tp.clone(), w);
    }
    owners
}

fn sorted_unique(assignment: &[TopicPartition]) -> Vec<TopicPartition> {
    let mut sorted = assignment.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_partition_has_exactly_one_owner_and_shares_are_balanced(
            partitions in proptest::collection::btree_set(("[a-c]", 0i32..16), 0..40),
            workers in 1usize..9,
        ) {
            let assignment: Vec<TopicPartition> =
                partitions.iter().map(|(t, p)| TopicPartition::new(t.as_str(), *p)).collect();
            let shares: Vec<Vec<TopicPartition>> =
                (0..workers).map(|w| owned_by(&assignment, w, workers)).collect();
            let total: usize = shares.iter().map(Vec::len).sum();
            prop_assert_eq!(total, assignment.len());
            let (lo, hi) = (assignment.len() / workers, assignment.len().div_ceil(workers));
            for (w, share) in shares.iter().enumerate() {
                prop_assert!(share.len() == lo || share.len() == hi);
                for p in share {
                    prop_assert_eq!(owner(&assignment, p, workers), Some(w));
                }
            }
        }

        #[test]
        fn dealing_keeps_owners_and_fills_the_least_loaded(
            partitions in proptest::collection::btree_set(0i32..30, 0..30),
            kept in proptest::collection::vec(0usize..4, 30),
            workers in 1usize..5,
        ) {
            let tp = |p: i32| TopicPartition::new("t", p);
            // A fresh deal is the balanced one.
            let fresh: BTreeMap<TopicPartition, Option<usize>> = partitions.iter().map(|p| (tp(*p), None)).collect();
            let owners = deal(&fresh, workers);
            let assignment: Vec<TopicPartition> = fresh.keys().cloned().collect();
            for (t, w) in &owners {
                prop_assert_eq!(owner(&assignment, t, workers), Some(*w));
            }
            // Existing owners are kept.
            let current: BTreeMap<TopicPartition, Option<usize>> = partitions
                .iter()
                .map(|p| (tp(*p), if p % 2 == 0 { Some(kept[*p as usize] % workers) } else { None }))
                .collect();
            let owners = deal(&current, workers);
            prop_assert_eq!(owners.len(), current.len());
            for (t, existing) in &current {
                if let Some(w) = existing {
                    prop_assert_eq!(owners[t], *w);
                }
            }
        }
    }
}
