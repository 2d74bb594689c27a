//! `--rate`: a producer thread that writes a run's records at a steady rate while the run
//! reads them, so that *processed-at minus record timestamp* is a real end-to-end latency.
//!
//! Records get no explicit timestamp, so librdkafka stamps each with its produce time
//! (`CreateTime`). The producer starts only once the consumer has its partitions
//! ([`RunSignals::set_ready`]), and follows a fixed schedule (record `i` is due `i / rate`
//! seconds after the start): it sends what is due, then sleeps until the next record is due.
//! Settings match the loader where the mock cluster needs them (lz4, as it keeps only
//! ~5 MiB per partition) and otherwise librdkafka's defaults (linger 5 ms, acks=all).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::data::{partition, Payloads};
use super::produce::send_waiting;
use super::signals::RunSignals;

/// What to produce.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    pub messages: u64,
    pub size: usize,
    /// Records per second.
    pub rate: u64,
}

/// What the feed did.
#[derive(Debug, Clone, Copy)]
pub struct FeedReport {
    pub sent: u64,
    /// From the first send to the last (before the final flush).
    pub elapsed: Duration,
}

/// How long the feed waits for its consumer to be ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts the producer thread; it waits for `signals` to be ready, and flags a failure
/// on `signals` if it fails.
pub fn start(
    spec: FeedSpec,
    signals: RunSignals,
) -> Result<JoinHandle<Result<FeedReport, String>>, String> {
    std::thread::Builder::new()
        .name("bench-rate-feed".into())
        .spawn(move || {
            let result = feed(&spec, &signals);
            if result.is_err() {
                signals.set_failed();
            }
            result
        })
        .map_err(|e| format!("starting the rate producer thread: {e}"))
}

struct Acks {
    failed: Arc<AtomicU64>,
}

impl ClientContext for Acks {
    timely_kafka::oauth_token_refresh!();
}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn feed(spec: &FeedSpec, signals: &RunSignals) -> Result<FeedReport, String> {
    let failed = Arc::new(AtomicU64::new(0));
    let mut config = super::connection::client_config(&spec.bootstrap);
    config
        .set("client.id", "timely-kafka-bench-rate")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("acks", "all");
    let acks = Acks {
        failed: Arc::clone(&failed),
    };
    let producer: ThreadedProducer<Acks> =
        timely_kafka::client::create(&config, acks).map_err(|e| format!("rate producer: {e}"))?;
    if !signals.wait_ready(READY_TIMEOUT) {
        return Err(if signals.failed() {
            "rate producer: the consumer failed before it was ready".into()
        } else {
            format!("rate producer: the consumer was not ready in {READY_TIMEOUT:?}")
        });
    }
    let rate = spec.rate.max(1) as f64;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut payloads = Payloads::new(spec.size);
    while sent < spec.messages {
        if signals.failed() {
            return Err("rate producer: stopped, the consumer failed".into());
        }
        let due = ((started.elapsed().as_secs_f64() * rate) as u64 + 1).min(spec.messages);
        while sent < due {
            let record = BaseRecord::<(), [u8]>::to(&spec.topic)
                .payload(payloads.get(sent))
                .partition(partition(sent, spec.partitions));
            send_waiting(&producer, record, "rate producer")?;
            sent += 1;
        }
        if sent < spec.messages {
            let next = started + Duration::from_secs_f64(sent as f64 / rate);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
    let elapsed = started.elapsed();
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| format!("rate producer flush: {e}"))?;
    match failed.load(Ordering::Relaxed) {
        0 => Ok(FeedReport { sent, elapsed }),
        n => Err(format!(
            "rate producer: {n} of {sent} records were not delivered"
        )),
    }
}
