//! (c) Kafka→Kafka: source → sink (acks=all, idempotence on), commits on, timed from the
//! first record read to the last record acknowledged.
//!
//! Latency here is *acknowledged-at minus the record's timestamp*, where acknowledged-at is
//! when the sink's acknowledgement frontier passed the record's tick: the moment the
//! dataflow knows the output is durable and may commit the input. A tick closes only when
//! the source moves past it, so this includes up to one tick of waiting by design.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::sink::{KafkaSinkExt, SinkConfig, SinkRecord};
use timely_kafka::Position;
use timely_kafka::{KafkaRecord, KafkaSourceExt, SourceConfig};

use super::latency::{now_micros, Histogram};
use super::measure::RunOutput;
use super::pipeline::committed_now;
use super::signals::RunSignals;

/// Timestamps of records read but not yet known to be acknowledged, by tick.
type Pending = Rc<RefCell<BTreeMap<u64, Vec<i64>>>>;

/// Pipes `expected` records from the source's topic to the sink's default topic. Notes
/// the latency of every `latency_every`-th record.
pub fn pipe(
    source: SourceConfig,
    sink: SinkConfig,
    workers: usize,
    expected: u64,
    latency_every: u64,
    signals: &RunSignals,
    limit: Duration,
) -> Result<RunOutput, String> {
    let first = Arc::new(Mutex::new(None::<Instant>));
    let delivered = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let config = if workers > 1 {
        timely::Config::process(workers)
    } else {
        timely::Config::thread()
    };
    let (f, d, b) = (
        Arc::clone(&first),
        Arc::clone(&delivered),
        Arc::clone(&bytes),
    );
    let signals = signals.clone();
    let topic = source.topics().first().cloned().unwrap_or_default();
    let every = latency_every.max(1);
    let guards = timely::execute(config, move |worker| {
        let probe = ProbeHandle::new();
        let pending: Pending = Rc::default();
        let (f, b, p) = (Arc::clone(&f), Arc::clone(&b), Rc::clone(&pending));
        let mut read = 0u64;
        let built = worker.dataflow(|scope| -> Result<_, String> {
            let consumed = scope.kafka_source(&source).map_err(|e| e.to_string())?;
            let produced = consumed
                .records
                .inspect_core(move |event| {
                    if let Ok((tick, records)) = event {
                        f.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert_with(Instant::now);
                        let mut pending = p.borrow_mut();
                        let tick = tick.least().copied().unwrap_or(0);
                        let stamps = pending.entry(tick).or_default();
                        let mut n = 0;
                        for r in records.iter() {
                            n += r.payload.as_ref().map_or(0, Vec::len);
                            if read.is_multiple_of(every) {
                                stamps.push(r.timestamp.millis().unwrap_or(0));
                            }
                            read += 1;
                        }
                        b.fetch_add(n as u64, Ordering::Relaxed);
                    }
                })
                .map(into_sink_record)
                .kafka_sink(&sink)
                .map_err(|e| e.to_string())?;
            produced.acknowledged.probe_with(&probe);
            consumed.handle.commit_after(&probe);
            Ok((consumed.handle, produced.handle))
        });
        let (handle, sink_handle) = built?;
        let deadline = Instant::now() + limit;
        let mut latency = Histogram::default();
        let mut counted = 0;
        let mut ready = worker.index() != 0;
        while d.load(Ordering::Relaxed) < expected && !signals.failed() && Instant::now() < deadline
        {
            if !ready && !handle.progress().assigned.is_empty() {
                signals.set_ready();
                ready = true;
            }
            worker.step_or_park(Some(Duration::from_millis(20)));
            let now = sink_handle.delivered();
            d.fetch_add(now - counted, Ordering::Relaxed);
            counted = now;
            if let Some(e) = sink_handle.error() {
                signals.set_failed();
                return Err(e.to_string());
            }
            let frontier = probe.with_frontier(|f| f.iter().min().copied());
            acknowledge(&pending, frontier, &mut latency);
        }
        let done = Instant::now();
        // Everything is acknowledged now, whether or not the frontier has shown it yet.
        acknowledge(&pending, None, &mut latency);
        let committed = (worker.index() == 0).then(|| committed_now(&handle, &topic));
        handle.shutdown();
        Ok((done, latency, committed))
    })?;
    let mut output = RunOutput::default();
    for result in guards.join() {
        let (done, latency, committed) = result.map_err(|e| format!("worker failed: {e}"))??;
        let last = output.throughput.last.get_or_insert(done);
        *last = (*last).max(done);
        output.latency.merge(&latency);
        if committed.is_some() {
            output.committed_at_last = committed;
        }
    }
    let records = delivered.load(Ordering::Relaxed);
    if records < expected {
        return Err(format!(
            "the pipe delivered {records} of {expected} records (time limit {limit:?})"
        ));
    }
    output.throughput.records = records;
    output.throughput.bytes = bytes.load(Ordering::Relaxed);
    output.throughput.first = *first.lock().unwrap_or_else(|e| e.into_inner());
    Ok(output)
}

/// What `SinkRecord::from_record` makes, by moving key, payload and headers instead of
/// copying them (the record is not used again).
fn into_sink_record(record: KafkaRecord) -> SinkRecord {
    SinkRecord {
        topic: None,
        partition: None,
        timestamp_ms: record.timestamp.millis(),
        origin: Some(Position::new(record.topic, record.partition, record.offset)),
        key: record.key,
        payload: record.payload,
        headers: record.headers,
    }
}

/// Notes the latency of every pending record whose tick the frontier has passed (all of
/// them for an empty frontier).
fn acknowledge(pending: &Pending, frontier: Option<u64>, latency: &mut Histogram) {
    let mut pending = pending.borrow_mut();
    let keep = match frontier {
        Some(f) => pending.split_off(&f),
        None => BTreeMap::new(),
    };
    let passed = std::mem::replace(&mut *pending, keep);
    if passed.is_empty() {
        return;
    }
    let now = now_micros();
    for stamp in passed.into_values().flatten() {
        latency.record_since(stamp, now);
    }
}
