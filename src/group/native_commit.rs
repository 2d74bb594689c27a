//! Group calls rdkafka does not wrap (or wraps wrongly): asynchronous commits whose results
//! come back on a queue of their own, the group generation id, and commit metadata as raw
//! bytes.
//!
//! rdkafka's `commit(.., CommitMode::Async)` calls `rd_kafka_commit` with no reply queue,
//! so the result never reaches `ConsumerContext::commit_callback` (rust-rdkafka issue #856).
//! Commits here go through `rd_kafka_commit_queue` with a [`CommitQueue`] as the reply
//! queue, served by a thread of its own: a commit's result arrives even while the group
//! thread waits in a rebalance callback (for a revoked partition to drain, say), which is
//! exactly when a revoked partition's final commit needs it.

use std::ffi::CStr;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::TopicPartitionList;
use rdkafka_sys as rdsys;

use super::GroupContext;
use crate::position::Position;

/// A queue that receives the results of this membership's commits.
pub(crate) struct CommitQueue {
    queue: *mut rdsys::rd_kafka_queue_t,
}

// SAFETY: librdkafka queues are internally locked and documented thread-safe; the raw
// pointer is only passed to librdkafka functions.
unsafe impl Send for CommitQueue {}
// SAFETY: as above; `&self` methods only call thread-safe librdkafka functions.
unsafe impl Sync for CommitQueue {}

impl CommitQueue {
    /// A new queue of `consumer`'s client. It must be dropped before the client is.
    pub(crate) fn new(consumer: &BaseConsumer<GroupContext>) -> CommitQueue {
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk` is the live client of `consumer`; the new queue is ours to destroy.
        let queue = unsafe { rdsys::rd_kafka_queue_new(rk) };
        CommitQueue { queue }
    }

    /// Sends `offsets` for commit without waiting; the result arrives on this queue.
    pub(crate) fn commit_async(
        &self,
        consumer: &BaseConsumer<GroupContext>,
        offsets: &TopicPartitionList,
    ) -> KafkaResult<()> {
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk`, the offsets list and the queue are valid for the call; librdkafka
        // copies the list and takes its own reference to the queue for the reply
        // (`RD_KAFKA_REPLYQ`). A null callback with the event API makes the result an
        // offset-commit event.
        let err = unsafe {
            rdsys::rd_kafka_commit_queue(rk, offsets.ptr(), self.queue, None, std::ptr::null_mut())
        };
        to_result(err)
    }

    /// Waits up to `timeout` for one commit result and hands it to `handle`: the request's
    /// result and each partition's. Returns whether one arrived.
    pub(crate) fn serve(
        &self,
        timeout: Duration,
        handle: impl FnOnce(KafkaResult<()>, &[PartitionCommitResult]),
    ) -> bool {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: the queue is live; the returned event (or null) is ours to destroy.
        let event = unsafe { rdsys::rd_kafka_queue_poll(self.queue, ms) };
        if event.is_null() {
            return false;
        }
        // SAFETY: `event` is the valid, non-null event returned above.
        let kind = unsafe { rdsys::rd_kafka_event_type(event) };
        if kind == rdsys::RD_KAFKA_EVENT_OFFSET_COMMIT {
            // SAFETY: as above.
            let err = unsafe { rdsys::rd_kafka_event_error(event) };
            // SAFETY: the list (or null) is owned by the event, which outlives this read.
            let list = unsafe { rdsys::rd_kafka_event_topic_partition_list(event) };
            // SAFETY: a non-null list is valid, with `cnt` initialised elements.
            let partitions = unsafe { partition_results(list) };
            handle(to_result(err), &partitions);
        }
        // SAFETY: destroys the event returned above, once, after its last use.
        unsafe { rdsys::rd_kafka_event_destroy(event) };
        true
    }
}

/// One partition's part in a commit's result.
#[derive(Debug, Clone)]
pub(crate) struct PartitionCommitResult {
    /// The partition and the offset committed (negative for none).
    pub position: Position,
    pub result: KafkaResult<()>,
}

impl PartitionCommitResult {
    /// The partitions of a commit result that rdkafka handed over as a list.
    pub(crate) fn from_list(list: &TopicPartitionList) -> Vec<PartitionCommitResult> {
        // SAFETY: the list is live and owned by `list` for this call.
        unsafe { partition_results(list.ptr()) }
    }
}

fn to_result(err: rdsys::rd_kafka_resp_err_t) -> KafkaResult<()> {
    if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        Ok(())
    } else {
        Err(KafkaError::ConsumerCommit(err.into()))
    }
}

/// Copies the topic, partition, offset and error of every element of `list`.
///
/// # Safety
///
/// `list` must be null or a valid list with `cnt` initialised elements.
unsafe fn partition_results(
    list: *const rdsys::rd_kafka_topic_partition_list_t,
) -> Vec<PartitionCommitResult> {
    if list.is_null() {
        return Vec::new();
    }
    // SAFETY: non-null and valid, as the caller guarantees.
    let elems = unsafe { std::slice::from_raw_parts((*list).elems, (*list).cnt.max(0) as usize) };
    elems
        .iter()
        .map(|e| PartitionCommitResult {
            position: Position::new(
                // SAFETY: librdkafka keeps every element's topic NUL-terminated.
                unsafe { CStr::from_ptr(e.topic) }.to_string_lossy(),
                e.partition,
                e.offset,
            ),
            result: to_result(e.err),
        })
        .collect()
}

impl Drop for CommitQueue {
    fn drop(&mut self) {
        // SAFETY: releases our queue, once. Replies still on their way hold references of
        // their own and are discarded.
        unsafe { rdsys::rd_kafka_queue_destroy(self.queue) };
    }
}

/// The consumer group's current generation id, if the member has joined.
pub(crate) fn group_generation(consumer: &BaseConsumer<GroupContext>) -> Option<i32> {
    let rk = consumer.client().native_ptr();
    // SAFETY: `rk` is a live consumer client; the function returns a new metadata object
    // (or null), which we read once and destroy exactly once below.
    let metadata = unsafe { rdsys::rd_kafka_consumer_group_metadata(rk) };
    if metadata.is_null() {
        return None;
    }
    // SAFETY: `metadata` is the valid, non-null object returned above.
    let generation = unsafe { rdsys::rd_kafka_consumer_group_metadata_generation_id(metadata) };
    // SAFETY: destroys the object returned above, once, after its last use.
    unsafe { rdsys::rd_kafka_consumer_group_metadata_destroy(metadata) };
    (generation >= 0).then_some(generation)
}

/// The commit metadata of every element of `list`, in order, as raw bytes: rdkafka's
/// `metadata()` panics on metadata that is not UTF-8, which any other client may leave.
pub(crate) fn metadata_bytes(list: &TopicPartitionList) -> Vec<Vec<u8>> {
    let raw = list.ptr();
    // SAFETY: `raw` is the live list `list` owns, borrowed for this call; librdkafka keeps
    // `cnt` initialised elements at `elems`.
    let elems = unsafe { std::slice::from_raw_parts((*raw).elems, (*raw).cnt.max(0) as usize) };
    elems
        .iter()
        .map(|elem| {
            if elem.metadata.is_null() || elem.metadata_size == 0 {
                Vec::new()
            } else {
                // SAFETY: a non-null `metadata` points at `metadata_size` bytes owned by the
                // element, which outlives this copy.
                unsafe {
                    std::slice::from_raw_parts(elem.metadata as *const u8, elem.metadata_size)
                }
                .to_vec()
            }
        })
        .collect()
}
