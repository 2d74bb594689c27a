//! An assigned partition's own librdkafka queue: forwarded to its owner's worker queue, and
//! asked where the partition's application position and end stand.
//!
//! This, `worker_queue.rs` and `native_commit.rs` are the only `unsafe` code in the library
//! (besides the test cluster's fault injection); each block says why it is sound.

use std::ffi::CString;
use std::ptr;
use std::sync::Arc;

use rdkafka::consumer::BaseConsumer;
use rdkafka_sys as rdsys;

use super::worker_queue::WorkerQueue;
use super::GroupContext;

/// The queue of one assigned partition, split from the consumer's queue.
pub(crate) struct NativePartitionQueue {
    queue: *mut rdsys::rd_kafka_queue_t,
    /// Keeps the client alive for as long as the queue exists.
    consumer: Arc<BaseConsumer<GroupContext>>,
    topic: CString,
    partition: i32,
}

/// Where the application and the partition's end stood, as librdkafka last saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FetchedEnd {
    /// The offset after the last record or control record handed to the application in
    /// this assignment, if any.
    pub position: Option<i64>,
    /// The high watermark from the partition's last fetch response, if one has arrived.
    pub high_watermark: Option<i64>,
}

// SAFETY: librdkafka queues are internally locked and documented thread-safe; the raw
// pointer is only passed to librdkafka functions.
unsafe impl Send for NativePartitionQueue {}
// SAFETY: as above; `&self` methods only call thread-safe librdkafka functions.
unsafe impl Sync for NativePartitionQueue {}

impl NativePartitionQueue {
    /// Splits `topic`/`partition` off the consumer's queue: its records stay in its own queue
    /// until [`forward_to`](Self::forward_to) points it at a worker's.
    /// Returns `None` if librdkafka does not know the partition.
    pub(crate) fn split(
        consumer: &Arc<BaseConsumer<GroupContext>>,
        topic: &str,
        partition: i32,
    ) -> Option<Self> {
        use rdkafka::consumer::Consumer;
        let topic = CString::new(topic).ok()?;
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk` is a live client (we hold an `Arc` to its consumer) and `topic` is a
        // NUL-terminated string that outlives the call. A null result means "unknown".
        let queue = unsafe { rdsys::rd_kafka_queue_get_partition(rk, topic.as_ptr(), partition) };
        if queue.is_null() {
            return None;
        }
        // SAFETY: `queue` was just returned non-null; forwarding to null detaches it from the
        // consumer queue and marks the forward as the application's, so librdkafka no longer
        // points it at the consumer queue when a fetch starts (what rdkafka's split does too).
        unsafe { rdsys::rd_kafka_queue_forward(queue, ptr::null_mut()) };
        Some(NativePartitionQueue {
            queue,
            consumer: Arc::clone(consumer),
            topic,
            partition,
        })
    }

    /// Forwards the partition's records to `worker`'s queue: those already fetched move
    /// there, in order, and so does every later fetch. librdkafka clears the forward when it
    /// stops fetching the partition (a revoke), so each assignment forwards it again.
    pub(crate) fn forward_to(&self, worker: &WorkerQueue) {
        // SAFETY: both queues are live (we hold the partition queue, and the worker queue is
        // borrowed for the call); librdkafka takes its own reference to the destination.
        unsafe { rdsys::rd_kafka_queue_forward(self.queue, worker.native()) };
    }
}

impl NativePartitionQueue {
    /// The application's position and the high watermark, from librdkafka's cache: no
    /// request is sent. The position covers control records (transaction markers), which
    /// are never handed over as records, so it reaches the end of a transactional partition.
    pub(crate) fn fetched_end(&self) -> FetchedEnd {
        use rdkafka::consumer::Consumer;
        let rk = self.consumer.client().native_ptr();
        let (mut low, mut high) = (-1i64, -1i64);
        // SAFETY: `rk` is a live client (we hold its consumer), `topic` is NUL-terminated and
        // outlives the call, and both out-pointers are valid. librdkafka only reads its cache.
        let err = unsafe {
            rdsys::rd_kafka_get_watermark_offsets(
                rk,
                self.topic.as_ptr(),
                self.partition,
                &mut low,
                &mut high,
            )
        };
        let high_watermark = (err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            && high >= 0)
            .then_some(high);
        let mut list = rdkafka::TopicPartitionList::with_capacity(1);
        list.add_partition(&self.topic.to_string_lossy(), self.partition);
        // SAFETY: `rk` is live and `list` is a valid list owned by us for the call; librdkafka
        // writes each element's offset in place.
        let err = unsafe { rdsys::rd_kafka_position(rk, list.ptr()) };
        let position = if err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            list.elements()
                .first()
                .and_then(|e| e.offset().to_raw())
                .filter(|o| *o >= 0)
        } else {
            None
        };
        FetchedEnd {
            position,
            high_watermark,
        }
    }
}

impl Drop for NativePartitionQueue {
    fn drop(&mut self) {
        // SAFETY: release our reference to the queue (librdkafka keeps its own while the
        // partition is assigned).
        unsafe { rdsys::rd_kafka_queue_destroy(self.queue) };
    }
}
