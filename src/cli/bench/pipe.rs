//! (c) Kafka→Kafka: source → sink (acks=all, idempotence on), commits on, timed from the
//! first record read to the last record acknowledged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::sink::{KafkaSinkExt, SinkConfig, SinkRecord};
use timely_kafka::{KafkaSourceExt, SourceConfig};

use super::measure::Measurement;

/// Pipes `expected` records from the source's topic to the sink's default topic.
pub fn pipe(
    source: SourceConfig,
    sink: SinkConfig,
    workers: usize,
    expected: u64,
) -> Result<Measurement, String> {
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
    let guards = timely::execute(config, move |worker| {
        let probe = ProbeHandle::new();
        let (f, b) = (Arc::clone(&f), Arc::clone(&b));
        let built = worker.dataflow(|scope| -> Result<_, String> {
            let consumed = scope.kafka_source(&source).map_err(|e| e.to_string())?;
            let produced = consumed
                .records
                .inspect_core(move |event| {
                    if let Ok((_, records)) = event {
                        f.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert_with(Instant::now);
                        let n: usize = records
                            .iter()
                            .map(|r| r.payload.as_ref().map_or(0, Vec::len))
                            .sum();
                        b.fetch_add(n as u64, Ordering::Relaxed);
                    }
                })
                .map(|r| SinkRecord::from_record(&r))
                .kafka_sink(&sink)
                .map_err(|e| e.to_string())?;
            produced.acknowledged.probe_with(&probe);
            consumed.handle.commit_after(&probe);
            Ok((consumed.handle, produced.handle))
        });
        let (handle, sink_handle) = built?;
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut counted = 0;
        while d.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            worker.step_or_park(Some(Duration::from_millis(20)));
            let now = sink_handle.delivered();
            d.fetch_add(now - counted, Ordering::Relaxed);
            counted = now;
            if let Some(e) = sink_handle.error() {
                return Err(e.to_string());
            }
        }
        let done = Instant::now();
        handle.shutdown();
        Ok(done)
    })?;
    let mut last = None;
    for result in guards.join() {
        let done = result.map_err(|e| format!("worker failed: {e}"))??;
        last = Some(last.map_or(done, |l: Instant| l.max(done)));
    }
    let records = delivered.load(Ordering::Relaxed);
    if records < expected {
        return Err(format!(
            "the pipe delivered {records} of {expected} records in 300 s"
        ));
    }
    let first = *first.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Measurement {
        records,
        bytes: bytes.load(Ordering::Relaxed),
        first,
        last,
    })
}
