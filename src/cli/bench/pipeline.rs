//! (b) The pipeline: Kafka source → probe, commits on, on `workers` timely workers.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::{KafkaSourceExt, SourceConfig};

use super::measure::Measurement;

/// Runs the source on `workers` threads until `expected` records have passed the end of the
/// dataflow, then shuts down (final commit included) and returns the merged measurement.
pub fn consume(config: SourceConfig, workers: usize, expected: u64) -> Result<Measurement, String> {
    let total = Arc::new(AtomicU64::new(0));
    let timely_config = if workers > 1 {
        timely::Config::process(workers)
    } else {
        timely::Config::thread()
    };
    let guards = timely::execute(timely_config, move |worker| {
        let probe = ProbeHandle::new();
        let seen = Rc::new(RefCell::new(Measurement::default()));
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).map_err(|e| e.to_string())?;
            let (seen, total) = (Rc::clone(&seen), Arc::clone(&total));
            source
                .records
                .inspect_core(move |event| {
                    if let Ok((_, records)) = event {
                        let bytes: usize = records
                            .iter()
                            .map(|r| {
                                r.payload.as_ref().map_or(0, Vec::len)
                                    + r.key.as_ref().map_or(0, Vec::len)
                            })
                            .sum();
                        seen.borrow_mut().add(records.len() as u64, bytes as u64);
                        total.fetch_add(records.len() as u64, Ordering::Relaxed);
                    }
                })
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            Ok::<_, String>(source.handle)
        })?;
        let deadline = Instant::now() + Duration::from_secs(300);
        while total.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            worker.step_or_park(Some(Duration::from_millis(100)));
        }
        handle.shutdown();
        let measurement = seen.borrow().clone();
        Ok::<_, String>(measurement)
    })?;
    let mut merged = Measurement::default();
    for result in guards.join() {
        merged.merge(&result.map_err(|e| format!("worker failed: {e}"))??);
    }
    if merged.records < expected {
        return Err(format!(
            "the pipeline read {} of {expected} records in 300 s",
            merged.records
        ));
    }
    Ok(merged)
}
