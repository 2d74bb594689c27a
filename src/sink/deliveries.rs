//! Delivery bookkeeping shared by the sink operator and its producer's callback thread.
//!
//! For every tick the sink counts records handed to librdkafka and not yet acknowledged. A
//! successful delivery report decrements its tick; the report that brings a tick to zero
//! wakes the operator, which then releases that tick's capability. A failed delivery never
//! decrements: its tick stays held, so nothing downstream of the sink (and no commit that
//! follows it) ever passes the failed record.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use timely::scheduling::SyncActivator;

use crate::error::SinkError;
use crate::metrics::SinkRecorder;
use crate::position::Position;
use crate::source::SourceControl;

/// What travels with each record through librdkafka.
pub(crate) struct DeliveryTag {
    pub tick: u64,
    pub origin: Option<Position>,
}

#[derive(Default)]
pub(crate) struct Ledger {
    /// Records in flight per tick.
    pub outstanding: BTreeMap<u64, u64>,
    /// When each tick in flight had its first record sent (for the delivery latency metric).
    pub first_sent: BTreeMap<u64, Instant>,
    /// The first fatal error; once set, the sink sends nothing more.
    pub failure: Option<SinkError>,
}

/// Shared between the operator, the producer callback and [`SinkHandle`](super::SinkHandle)s.
pub(crate) struct Deliveries {
    ledger: Mutex<Ledger>,
    /// Set while the operator waits for room in librdkafka's queue.
    waiting_for_room: AtomicBool,
    room: Condvar,
    delivered: AtomicU64,
    activator: Mutex<Option<SyncActivator>>,
    /// Sources whose immediate shutdown ends a wait for room.
    stop_with: Mutex<Vec<SourceControl>>,
    /// The sink's counters (see [`crate::metrics`]).
    pub metrics: SinkRecorder,
}

impl Deliveries {
    pub(crate) fn new() -> Self {
        Deliveries {
            ledger: Mutex::new(Ledger::default()),
            waiting_for_room: AtomicBool::new(false),
            room: Condvar::new(),
            delivered: AtomicU64::new(0),
            activator: Mutex::new(None),
            stop_with: Mutex::new(Vec::new()),
            metrics: SinkRecorder::new(),
        }
    }

    pub(crate) fn set_activator(&self, activator: SyncActivator) {
        *self.activator.lock().unwrap_or_else(|e| e.into_inner()) = Some(activator);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        if let Some(activator) = self
            .activator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = activator.activate();
        }
    }

    /// Ends waits for room once `control` is shut down now.
    pub(crate) fn stop_with(&self, control: SourceControl) {
        self.stop_with
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(control);
    }

    /// Whether a source this sink follows was shut down now.
    pub(crate) fn stopping_now(&self) -> bool {
        self.stop_with
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(SourceControl::stopping_now)
    }

    /// Records a fatal error (the first one wins) and wakes the operator. Counts the record
    /// it names as failed.
    pub(crate) fn fail(&self, error: SinkError) {
        self.metrics.failed(&failure_kind(&error));
        {
            let mut ledger = self.lock();
            if ledger.failure.is_none() {
                if matches!(error, SinkError::Stopped { .. }) {
                    tracing::warn!("{error}");
                } else {
                    tracing::error!("{error}");
                }
                ledger.failure = Some(error);
            }
        }
        self.wake();
        self.room.notify_all();
    }

    /// Blocks until a delivery report frees room in librdkafka's queue, or `timeout`.
    pub(crate) fn wait_for_room(&self, timeout: Duration) {
        let ledger = self.lock();
        self.waiting_for_room.store(true, Ordering::Release);
        let _ = self.room.wait_timeout(ledger, timeout);
        self.waiting_for_room.store(false, Ordering::Release);
    }

    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    pub(crate) fn failure(&self) -> Option<SinkError> {
        self.lock().failure.clone()
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.lock().outstanding.values().sum()
    }

    /// A snapshot of the sink's figures.
    pub(crate) fn snapshot(&self) -> crate::metrics::SinkMetrics {
        self.metrics.snapshot(self.delivered(), self.in_flight())
    }
}

/// A bounded label value for a sink failure: librdkafka's error code name, or the sink's
/// own reason.
fn failure_kind(error: &SinkError) -> String {
    match error {
        SinkError::Delivery { source, .. } | SinkError::Enqueue { source, .. } => {
            crate::metrics::error_kind(source)
        }
        other => {
            let debug = format!("{other:?}");
            debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("Unknown")
                .to_owned()
        }
    }
}

/// The producer's context: turns delivery reports into ledger updates.
pub(crate) struct SinkContext {
    pub deliveries: std::sync::Arc<Deliveries>,
}

impl ClientContext for SinkContext {
    crate::oauth_token_refresh!();

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        use rdkafka::config::RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error => {
                tracing::error!(target: "librdkafka", fac, "{message}")
            }
            L::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            L::Notice | L::Info => tracing::info!(target: "librdkafka", fac, "{message}"),
            L::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", "producer: {error}: {reason}");
    }

    /// librdkafka's statistics (with `statistics.interval.ms`): a few fields become
    /// metrics (see [`crate::metrics`]).
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(statistics) = crate::metrics::Statistics::parse(statistics) {
            self.deliveries.metrics.statistics(&statistics);
        }
    }
}

impl ProducerContext for SinkContext {
    type DeliveryOpaque = Box<DeliveryTag>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<DeliveryTag>) {
        let d = &self.deliveries;
        match result {
            Ok(_) => {
                d.delivered.fetch_add(1, Ordering::Relaxed);
                let tick_done = {
                    let mut ledger = d.lock();
                    let done = match ledger.outstanding.get_mut(&tag.tick) {
                        Some(n) if *n > 1 => {
                            *n -= 1;
                            false
                        }
                        Some(_) => {
                            ledger.outstanding.remove(&tag.tick);
                            if let Some(sent) = ledger.first_sent.remove(&tag.tick) {
                                // Once per tick, not per record.
                                d.metrics.tick_delivered(sent.elapsed());
                            }
                            true
                        }
                        None => false,
                    };
                    // Under the lock the waiter sets its flag with: no wake-up is lost.
                    if d.waiting_for_room.load(Ordering::Acquire) {
                        d.room.notify_one();
                    }
                    done
                };
                if tick_done {
                    d.wake();
                }
            }
            Err((error, message)) => {
                d.fail(SinkError::Delivery {
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    key: message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned()),
                    origin: tag.origin.clone(),
                    source: Box::new(error.clone()),
                });
            }
        }
    }
}
