//! One librdkafka queue per local worker, fed by the partitions that worker owns.
//!
//! Every assigned partition's own queue is forwarded to its owner's worker queue, so
//! librdkafka's prefetch limits (`queued.max.messages.kbytes`, `queued.min.messages`), which
//! it checks against a partition's queue *after following the forward*
//! (`rd_kafka_q_size`/`rd_kafka_q_len` in `rdkafka_queue.h`), bound what a worker's
//! partitions hold **together**, whatever their number. A worker reads its queue in
//! batches with `rd_kafka_consume_batch_queue`: one lock and one call per batch, and
//! librdkafka drops records of a partition that was revoked or paused since they were fetched
//! (their op version is outdated).
//!
//! This, `partition_queue.rs` and `native_commit.rs` are the only `unsafe` code in the library
//! (besides the test cluster's fault injection); each block says why it is sound.

use std::ffi::{c_void, CStr};
use std::ptr;
use std::sync::Arc;

use rdkafka::consumer::BaseConsumer;
use rdkafka_sys as rdsys;

use super::GroupContext;
use crate::record::{KafkaRecord, RecordHeader, RecordTimestamp};

/// The most messages taken from librdkafka in one call.
pub(crate) const BATCH: usize = 256;

/// A callback that wakes the queue's worker.
type WakeFn = Box<dyn Fn() + Send + Sync>;

/// A record-level error read from a partition (for example an offset out of range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchError {
    pub offset: i64,
    pub code: rdkafka::error::RDKafkaErrorCode,
}

/// A worker's queue: the partitions it owns are forwarded here.
pub(crate) struct WorkerQueue {
    queue: *mut rdsys::rd_kafka_queue_t,
    /// The wake-up callback; boxed twice so librdkafka can hold a thin pointer to it.
    _wake: Box<WakeFn>,
    /// Keeps the client alive for as long as the queue exists.
    _consumer: Arc<BaseConsumer<GroupContext>>,
}

// SAFETY: librdkafka queues are internally locked and documented thread-safe; the raw
// pointer is only passed to librdkafka functions. The callback box is `Send + Sync`.
unsafe impl Send for WorkerQueue {}
// SAFETY: as above; `&self` methods only call thread-safe librdkafka functions.
unsafe impl Sync for WorkerQueue {}

impl WorkerQueue {
    /// A new queue of `consumer`'s client that calls `wake` whenever librdkafka adds to it.
    pub(crate) fn new(
        consumer: &Arc<BaseConsumer<GroupContext>>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        use rdkafka::consumer::Consumer;
        unsafe extern "C" fn trampoline(_rk: *mut rdsys::rd_kafka_t, opaque: *mut c_void) {
            // SAFETY: `opaque` points at the `WakeFn` boxed in `_wake`, which stays alive
            // until `drop` has disabled the callback.
            let wake = unsafe { &*(opaque as *const WakeFn) };
            wake();
        }
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk` is a live client (we hold an `Arc` to its consumer); a new queue is
        // never null (librdkafka aborts on allocation failure).
        let queue = unsafe { rdsys::rd_kafka_queue_new(rk) };
        let wake: Box<WakeFn> = Box::new(Box::new(wake));
        let opaque = &*wake as *const WakeFn as *mut c_void;
        // SAFETY: the queue is live; `opaque` points into `wake`, which we keep in the
        // struct until `drop` disables the callback.
        unsafe { rdsys::rd_kafka_queue_cb_event_enable(queue, Some(trampoline), opaque) };
        WorkerQueue {
            queue,
            _wake: wake,
            _consumer: Arc::clone(consumer),
        }
    }

    /// The raw queue, for forwarding a partition's queue to it.
    pub(crate) fn native(&self) -> *mut rdsys::rd_kafka_queue_t {
        self.queue
    }

    /// How many messages (and other events) wait in the queue.
    pub(crate) fn len(&self) -> u64 {
        // SAFETY: the queue is live; librdkafka reads its length under the queue's lock.
        unsafe { rdsys::rd_kafka_queue_length(self.queue) as u64 }
    }

    /// Moves up to `want` (at most [`BATCH`]) messages into `out` without blocking; returns
    /// how many.
    pub(crate) fn pop(&self, want: usize, out: &mut Vec<Message>) -> usize {
        let mut messages: [*mut rdsys::rd_kafka_message_t; BATCH] = [ptr::null_mut(); BATCH];
        let want = want.min(BATCH);
        // SAFETY: the queue is live and `messages` has room for `want` pointers.
        let got = unsafe {
            rdsys::rd_kafka_consume_batch_queue(self.queue, 0, messages.as_mut_ptr(), want)
        };
        if got <= 0 {
            return 0;
        }
        let got = got as usize;
        out.extend(messages[..got].iter().map(|&m| Message(m)));
        got
    }
}

impl Drop for WorkerQueue {
    fn drop(&mut self) {
        // SAFETY: disable the callback before its box is freed, then release our reference to
        // the queue (partition queues forwarded here keep their own until unforwarded).
        unsafe {
            rdsys::rd_kafka_queue_cb_event_enable(self.queue, None, ptr::null_mut());
            rdsys::rd_kafka_queue_destroy(self.queue);
        }
    }
}

/// A message taken from a worker queue, destroyed when dropped.
pub(crate) struct Message(*mut rdsys::rd_kafka_message_t);

// SAFETY: a taken message is owned by us alone until destroyed; librdkafka allows
// destroying it from any thread.
unsafe impl Send for Message {}

impl Message {
    fn raw(&self) -> &rdsys::rd_kafka_message_t {
        // SAFETY: the pointer came from `rd_kafka_consume_batch_queue` and is destroyed only
        // in `drop`, so it is valid for as long as `self` is.
        unsafe { &*self.0 }
    }

    /// Its partition.
    pub(crate) fn partition(&self) -> i32 {
        self.raw().partition
    }

    /// Its topic handle, for telling runs of one partition apart cheaply.
    pub(crate) fn topic_handle(&self) -> usize {
        self.raw().rkt as usize
    }

    /// Its topic's name, if it has one (an error not tied to a topic has none).
    pub(crate) fn topic(&self) -> Option<&CStr> {
        let rkt = self.raw().rkt;
        if rkt.is_null() {
            return None;
        }
        // SAFETY: `rkt` is the message's live topic handle; librdkafka keeps its name
        // NUL-terminated for the handle's lifetime, which the message holds a reference to.
        Some(unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(rkt)) })
    }

    /// Its offset.
    pub(crate) fn offset(&self) -> i64 {
        self.raw().offset
    }

    /// Copies it into an owned record, or returns the error it carries.
    pub(crate) fn to_record(&self, topic: &Arc<str>) -> Result<KafkaRecord, FetchError> {
        let m = self.raw();
        if m.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(FetchError {
                offset: m.offset,
                code: m.err.into(),
            });
        }
        // SAFETY: payload and key point at `len`/`key_len` readable bytes owned by the
        // message, or are null; we copy before the message is destroyed.
        let payload = unsafe { bytes(m.payload, m.len) };
        let key = unsafe { bytes(m.key, m.key_len) };
        let mut ts_type = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: valid message; `ts_type` is a valid out-pointer.
        let ts = unsafe { rdsys::rd_kafka_message_timestamp(self.0, &mut ts_type) };
        let timestamp = match ts_type {
            rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_CREATE_TIME => {
                RecordTimestamp::CreateTime(ts)
            }
            rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME => {
                RecordTimestamp::LogAppendTime(ts)
            }
            _ => RecordTimestamp::NotAvailable,
        };
        Ok(KafkaRecord {
            topic: Arc::clone(topic),
            partition: m.partition,
            offset: m.offset,
            key,
            payload,
            timestamp,
            // SAFETY: valid message, owned by `self`.
            headers: unsafe { headers(self.0) },
        })
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: each message is destroyed exactly once, here, after its last use.
        unsafe { rdsys::rd_kafka_message_destroy(self.0) };
    }
}

/// Copies `len` bytes at `ptr`, or `None` for a null pointer (Kafka's null).
///
/// # Safety
///
/// `ptr` must be null or point at `len` readable bytes.
unsafe fn bytes(ptr: *const c_void, len: usize) -> Option<Vec<u8>> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: non-null and `len` bytes readable, as the caller guarantees.
        Some(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }.to_vec())
    }
}

/// Copies a message's headers, in order.
///
/// # Safety
///
/// `message` must be a valid message returned by librdkafka and not yet destroyed.
unsafe fn headers(message: *mut rdsys::rd_kafka_message_t) -> Vec<RecordHeader> {
    let mut hdrs: *mut rdsys::rd_kafka_headers_t = ptr::null_mut();
    // SAFETY: valid message; `hdrs` is a valid out-pointer. The headers stay owned by the
    // message, which outlives this function.
    let err = unsafe { rdsys::rd_kafka_message_headers(message, &mut hdrs) };
    if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || hdrs.is_null() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for idx in 0.. {
        let (mut name, mut value, mut size) = (ptr::null(), ptr::null(), 0usize);
        // SAFETY: `hdrs` is valid; the out-pointers are valid; an error means no such index.
        let err =
            unsafe { rdsys::rd_kafka_header_get_all(hdrs, idx, &mut name, &mut value, &mut size) };
        if err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            break;
        }
        out.push(RecordHeader {
            // SAFETY: librdkafka stores header names NUL-terminated.
            key: unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned(),
            // SAFETY: `value` is null or points at `size` readable bytes.
            value: unsafe { bytes(value, size) },
        });
    }
    out
}
