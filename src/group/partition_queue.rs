//! A partition's own librdkafka queue, read in batches.
//!
//! rdkafka's `PartitionQueue::poll` returns one message per call, each wrapped in an event
//! and an `Arc`. On small records that wrapping costs more than the record itself, so the
//! source reads with `rd_kafka_consume_batch_queue` instead: one lock and one call per batch.
//! This and `native_commit.rs` are the only `unsafe` code in the library (besides the
//! test cluster's fault injection); each block says why it is sound.

use std::ffi::{c_void, CStr, CString};
use std::ptr;
use std::sync::Arc;

use rdkafka::consumer::BaseConsumer;
use rdkafka_sys as rdsys;

use super::GroupContext;
use crate::record::{KafkaRecord, RecordHeader, RecordTimestamp};

/// The most messages taken from librdkafka in one call.
const BATCH: usize = 256;

/// A callback that wakes the partition's reader.
type WakeFn = Box<dyn Fn() + Send + Sync>;

/// A record-level error read from a partition queue (for example an offset out of range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchError {
    pub offset: i64,
    pub code: rdkafka::error::RDKafkaErrorCode,
}

/// The queue of one assigned partition, split from the consumer's queue.
pub(crate) struct NativePartitionQueue {
    queue: *mut rdsys::rd_kafka_queue_t,
    /// The wake-up callback; boxed twice so librdkafka can hold a thin pointer to it.
    wake: Option<Box<WakeFn>>,
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
// pointer is only passed to librdkafka functions. The callback box is `Send + Sync`.
unsafe impl Send for NativePartitionQueue {}
// SAFETY: as above; `&self` methods only call thread-safe librdkafka functions.
unsafe impl Sync for NativePartitionQueue {}

impl NativePartitionQueue {
    /// Splits `topic`/`partition` off the consumer's queue, so its records arrive here.
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
        // consumer queue, so its messages stay here (what rdkafka's split does too).
        unsafe { rdsys::rd_kafka_queue_forward(queue, ptr::null_mut()) };
        Some(NativePartitionQueue {
            queue,
            wake: None,
            consumer: Arc::clone(consumer),
            topic,
            partition,
        })
    }

    /// Calls `wake` whenever the queue goes from empty to non-empty.
    pub(crate) fn on_nonempty(&mut self, wake: impl Fn() + Send + Sync + 'static) {
        unsafe extern "C" fn trampoline(_rk: *mut rdsys::rd_kafka_t, opaque: *mut c_void) {
            // SAFETY: `opaque` points at the `WakeFn` boxed in `self.wake`, which stays alive
            // until the callback is disabled (in a later `on_nonempty` or in `drop`).
            let wake = unsafe { &*(opaque as *const WakeFn) };
            wake();
        }
        let boxed: Box<WakeFn> = Box::new(Box::new(wake));
        let opaque = &*boxed as *const WakeFn as *mut c_void;
        // SAFETY: the queue is live; `opaque` points into `boxed`, which we store below and
        // keep until the callback is replaced or disabled. The previous box (if any) is
        // dropped only after librdkafka has switched to the new opaque pointer.
        unsafe { rdsys::rd_kafka_queue_cb_event_enable(self.queue, Some(trampoline), opaque) };
        self.wake = Some(boxed);
    }

    /// Moves up to `limit` records into `out` without blocking. Returns how many it added,
    /// and the first record-level error if one ended the read.
    pub(crate) fn read(&self, topic: &Arc<str>, limit: usize, out: &mut Vec<KafkaRecord>) -> Read {
        let mut messages: [*mut rdsys::rd_kafka_message_t; BATCH] = [ptr::null_mut(); BATCH];
        let mut read = Read::default();
        while read.added < limit {
            let want = BATCH.min(limit - read.added);
            // SAFETY: the queue is live and `messages` has room for `want` pointers.
            let got = unsafe {
                rdsys::rd_kafka_consume_batch_queue(self.queue, 0, messages.as_mut_ptr(), want)
            };
            if got <= 0 {
                break;
            }
            let got = got as usize;
            for &message in &messages[..got] {
                // SAFETY: librdkafka returned `got` valid message pointers, each owned by us
                // until `rd_kafka_message_destroy`; `to_record` copies everything it keeps.
                let converted = unsafe { to_record(message, topic) };
                // SAFETY: each message is destroyed exactly once, after its last use.
                unsafe { rdsys::rd_kafka_message_destroy(message) };
                match converted {
                    Ok(record) => {
                        out.push(record);
                        read.added += 1;
                    }
                    Err(e) => {
                        read.error.get_or_insert(e);
                    }
                }
            }
            if read.error.is_some() || got < want {
                break;
            }
        }
        read
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

/// What one [`NativePartitionQueue::read`] took from the queue.
#[derive(Debug, Default)]
pub(crate) struct Read {
    /// Records added to the output.
    pub added: usize,
    /// The first record-level error, which ended the read.
    pub error: Option<FetchError>,
}

impl Drop for NativePartitionQueue {
    fn drop(&mut self) {
        // SAFETY: disable the callback before its box is freed, then release our reference to
        // the queue (librdkafka keeps its own while the partition is assigned).
        unsafe {
            rdsys::rd_kafka_queue_cb_event_enable(self.queue, None, ptr::null_mut());
            rdsys::rd_kafka_queue_destroy(self.queue);
        }
    }
}

/// Copies a librdkafka message into an owned record.
///
/// # Safety
///
/// `message` must be a valid message returned by librdkafka and not yet destroyed.
unsafe fn to_record(
    message: *mut rdsys::rd_kafka_message_t,
    topic: &Arc<str>,
) -> Result<KafkaRecord, FetchError> {
    // SAFETY: the caller guarantees `message` is valid.
    let m = unsafe { &*message };
    if m.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(FetchError {
            offset: m.offset,
            code: m.err.into(),
        });
    }
    // SAFETY: payload and key point at `len`/`key_len` readable bytes owned by the message,
    // or are null; we copy before the message is destroyed.
    let payload = unsafe { bytes(m.payload, m.len) };
    let key = unsafe { bytes(m.key, m.key_len) };
    let mut ts_type = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    // SAFETY: valid message; `ts_type` is a valid out-pointer.
    let ts = unsafe { rdsys::rd_kafka_message_timestamp(message, &mut ts_type) };
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
        // SAFETY: valid message, as the caller guarantees.
        headers: unsafe { headers(message) },
    })
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
