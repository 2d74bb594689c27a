//! The start offset of each newly assigned partition, and the log line that explains it.
//!
//! With [`StartPolicy::Committed`] the group's committed offset wins; a partition without one
//! starts where the reset policy says. With [`StartPolicy::Reset`] committed offsets are
//! ignored. Every choice is logged, so "why did it start there?" always has an answer. If the
//! committed offsets cannot be fetched, the partitions are assigned at librdkafka's stored
//! position, which applies the same rule (committed, else `auto.offset.reset`) once the
//! coordinator answers.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::settings::GroupSettings;
use super::start_policy::{OffsetReset, StartPolicy};
use crate::position::{describe, TopicPartition};

/// Where newly assigned partitions start.
pub(crate) struct StartPositions {
    /// The assignment list, with a start offset for every partition.
    pub list: TopicPartitionList,
    /// The group's committed offset of each partition, where one was read.
    pub committed: BTreeMap<TopicPartition, Option<i64>>,
    /// Where each partition starts and where its log ended at assignment, as offsets, where
    /// the broker answered: the source is not caught up with a partition before reaching that
    /// end (see [`log_bounds`]).
    pub bounds: BTreeMap<TopicPartition, LogBounds>,
}

/// A newly assigned partition's start offset and the end of its log at assignment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LogBounds {
    /// The first offset to be read, if it could be resolved.
    pub start: Option<i64>,
    /// The log end offset (the last stable offset under `read_committed`) at assignment.
    pub end: Option<i64>,
}

/// Builds the assignment list with an explicit start offset for every partition.
pub(crate) fn start_positions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    settings: &GroupSettings,
    partitions: &[TopicPartition],
) -> StartPositions {
    let mut committed_at_start = BTreeMap::new();
    let list = resolve(consumer, settings, partitions, &mut committed_at_start);
    let bounds = log_bounds(consumer, &list, settings.connect_timeout);
    StartPositions {
        list,
        committed: committed_at_start,
        bounds,
    }
}

/// Resolves each partition's start to an offset and reads where its log ends, with one
/// `ListOffsets` request per leader for the ends and one for the starts that are "earliest"
/// (librdkafka's cache cannot say either: its high watermark is from the partition's last
/// fetch, which may predate this assignment). Partitions the broker does not answer for get
/// no bounds; the source then waits for records before it counts them caught up.
fn log_bounds<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    list: &TopicPartitionList,
    timeout: Duration,
) -> BTreeMap<TopicPartition, LogBounds> {
    let query = |partitions: &[&rdkafka::topic_partition_list::TopicPartitionListElem<'_>],
                 which: Offset| {
        let mut query = TopicPartitionList::with_capacity(partitions.len());
        for elem in partitions {
            // offsets_for_times takes the timestamp in the offset field: -1 asks for the end,
            // -2 for the start.
            let _ = query.add_partition_offset(elem.topic(), elem.partition(), which);
        }
        if query.count() == 0 {
            return BTreeMap::new();
        }
        match consumer.offsets_for_times(query, timeout) {
            Ok(found) => found
                .elements()
                .iter()
                .filter(|e| e.error().is_ok())
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some((TopicPartition::new(e.topic(), e.partition()), o)),
                    _ => None,
                })
                .collect(),
            Err(err) => {
                tracing::warn!(
                    "reading log offsets at assignment failed: {err}; until records arrive, \
                     those partitions do not count as caught up (idle)"
                );
                BTreeMap::new()
            }
        }
    };
    let elements = list.elements();
    let all: Vec<_> = elements.iter().collect();
    let earliest: Vec<_> = elements
        .iter()
        .filter(|e| e.offset() == Offset::Beginning)
        .collect();
    let ends = query(&all, Offset::End);
    let starts = query(&earliest, Offset::Beginning);
    elements
        .iter()
        .map(|e| {
            let tp = TopicPartition::new(e.topic(), e.partition());
            let end = ends.get(&tp).copied();
            let start = match e.offset() {
                Offset::Offset(o) => Some(o),
                Offset::Beginning => starts.get(&tp).copied(),
                Offset::End => end,
                _ => None,
            };
            (tp, LogBounds { start, end })
        })
        .collect()
}

fn resolve<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    settings: &GroupSettings,
    partitions: &[TopicPartition],
    committed_at_start: &mut BTreeMap<TopicPartition, Option<i64>>,
) -> TopicPartitionList {
    let group = &settings.group_id;
    let timeout = settings.connect_timeout;
    let mut positions = TopicPartitionList::with_capacity(partitions.len());
    for tp in partitions {
        positions.add_partition(&tp.topic, tp.partition);
    }
    let reset = settings.start.reset();
    let committed = match settings.start {
        StartPolicy::Reset(_) => {
            tracing::info!(%group, "ignoring committed offsets: starting {} at {reset}", describe(partitions));
            None
        }
        StartPolicy::Committed { .. } => {
            match consumer.committed_offsets(positions.clone(), timeout) {
                Ok(list) => {
                    // A partition whose lookup failed resumes at librdkafka's stored position
                    // (committed, else the reset policy), never silently at the reset policy.
                    let mut map = std::collections::HashMap::new();
                    for elem in list.elements() {
                        let tp = TopicPartition::new(elem.topic(), elem.partition());
                        match elem.error() {
                            Ok(()) => {
                                if let Offset::Offset(o) = elem.offset() {
                                    committed_at_start.insert(tp.clone(), Some(o));
                                }
                                map.insert(tp, elem.offset());
                            }
                            Err(err) => {
                                tracing::warn!(
                                    %group,
                                    "{tp}: could not read its committed offset ({err}); librdkafka will resume it"
                                );
                                map.insert(tp, Offset::Stored);
                            }
                        }
                    }
                    Some(map)
                }
                Err(err) => {
                    tracing::warn!(
                        %group,
                        "could not fetch committed offsets for {}: {err}; librdkafka will resume them \
                         from the committed offset, or from `{}` where there is none",
                        describe(partitions),
                        reset.auto_offset_reset()
                    );
                    let _ = positions.set_all_offsets(Offset::Stored);
                    return positions;
                }
            }
        }
    };
    let mut needs_reset = Vec::new();
    for tp in partitions {
        match committed.as_ref().and_then(|map| map.get(tp)) {
            Some(Offset::Offset(offset)) => {
                tracing::info!(%group, "{tp}: resuming at committed offset {offset}");
                set(&mut positions, tp, Offset::Offset(*offset));
            }
            Some(Offset::Stored) => set(&mut positions, tp, Offset::Stored),
            _ => needs_reset.push(tp.clone()),
        }
    }
    if needs_reset.is_empty() {
        return positions;
    }
    if committed.is_some() {
        tracing::info!(%group, "no committed offset for {}: starting at {reset} (reset policy)", describe(&needs_reset));
    }
    match reset {
        OffsetReset::Earliest => needs_reset
            .iter()
            .for_each(|tp| set(&mut positions, tp, Offset::Beginning)),
        OffsetReset::Latest => needs_reset
            .iter()
            .for_each(|tp| set(&mut positions, tp, Offset::End)),
        OffsetReset::Timestamp(ms) => {
            by_timestamp(consumer, group, &mut positions, &needs_reset, ms, timeout)
        }
    }
    positions
}

/// Resolves a timestamp to the first offset at or after it, per partition.
fn by_timestamp<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    group: &str,
    positions: &mut TopicPartitionList,
    partitions: &[TopicPartition],
    ms: i64,
    timeout: Duration,
) {
    let mut query = TopicPartitionList::with_capacity(partitions.len());
    for tp in partitions {
        // offsets_for_times takes the timestamp in the offset field.
        let _ = query.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(ms));
    }
    match consumer.offsets_for_times(query, timeout) {
        Ok(found) => {
            let found = found.to_topic_map();
            for tp in partitions {
                let offset = match found.get(&(tp.topic.to_string(), tp.partition)) {
                    Some(Offset::Offset(o)) => Offset::Offset(*o),
                    // No record at or after the timestamp: start at the end.
                    _ => Offset::End,
                };
                tracing::info!(%group, "{tp}: timestamp {ms} ms resolves to {offset:?}");
                set(positions, tp, offset);
            }
        }
        Err(err) => {
            tracing::warn!(
                %group,
                "could not resolve timestamp {ms} ms for {}: {err}; starting at the earliest offset instead",
                describe(partitions)
            );
            partitions
                .iter()
                .for_each(|tp| set(positions, tp, Offset::Beginning));
        }
    }
}

fn set(positions: &mut TopicPartitionList, tp: &TopicPartition, offset: Offset) {
    // The partition was added above, so this cannot fail.
    let _ = positions.set_partition_offset(&tp.topic, tp.partition, offset);
}
