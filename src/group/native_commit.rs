//! Group calls rdkafka does not wrap (or wraps wrongly): asynchronous commits whose results
//! come back as events on the consumer queue, the group generation id, and commit metadata
//! as raw bytes.
//!
//! rdkafka's `commit(.., CommitMode::Async)` calls `rd_kafka_commit` with no reply queue,
//! so the result never reaches `ConsumerContext::commit_callback` (rust-rdkafka issue #856).
//! Commits here go through `rd_kafka_commit_queue` with the consumer queue as the reply
//! queue: the group thread's `poll` then serves the result as an offset-commit event, and
//! `commit_callback` sees every success and failure.

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::TopicPartitionList;
use rdkafka_sys as rdsys;

use super::GroupContext;

/// Sends `offsets` for commit without waiting; the result arrives at `commit_callback`.
pub(crate) fn commit_async(
    consumer: &BaseConsumer<GroupContext>,
    offsets: &TopicPartitionList,
) -> KafkaResult<()> {
    let rk = consumer.client().native_ptr();
    // SAFETY: `rk` is the live client of `consumer`, borrowed for this call. The function
    // returns a new reference to the consumer queue, or null if there is none.
    let queue = unsafe { rdsys::rd_kafka_queue_get_consumer(rk) };
    if queue.is_null() {
        return Err(KafkaError::ConsumerCommit(
            rdsys::RDKafkaErrorCode::UnknownGroup,
        ));
    }
    // SAFETY: `rk`, the offsets list and `queue` are valid for the call; librdkafka copies
    // the list and takes its own reference to the queue for the reply (`RD_KAFKA_REPLYQ`).
    // A null callback with the event API makes the result an offset-commit event.
    let err = unsafe {
        rdsys::rd_kafka_commit_queue(rk, offsets.ptr(), queue, None, std::ptr::null_mut())
    };
    // SAFETY: releases the reference taken above, exactly once; librdkafka keeps its own.
    unsafe { rdsys::rd_kafka_queue_destroy(queue) };
    if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        Ok(())
    } else {
        Err(KafkaError::ConsumerCommit(err.into()))
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
