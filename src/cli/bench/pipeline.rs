//! (b) The pipeline: Kafka source → ordered map (`process`, upper-casing each payload) →
//! `batch(by_partition().max_size(100))` → probe, commits on, on `workers` timely workers.
//!
//! A record counts as processed when its batch comes out of the batcher: that is where
//! throughput and latency (processed-at minus the record's timestamp) are taken. A run whose
//! records per partition are not a multiple of 100 ends with partial batches that the
//! batcher flushes after `--batch-timeout-ms`: small runs (`--messages 50000`) feel that.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::batching::{by_partition, BatchOp};
use timely_kafka::process::ProcessExt;
use timely_kafka::{KafkaRecord, KafkaSourceExt, SourceConfig, SourceHandle};

use super::latency::now_micros;
use super::measure::RunOutput;
use super::signals::RunSignals;

/// Records per batch.
pub const BATCH_SIZE: usize = 100;

/// What the map makes of a record.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Event {
    timestamp_ms: i64,
    bytes: u32,
    payload: Vec<u8>,
}

/// The ordered map: a cheap payload transform that touches every byte.
fn transform(record: KafkaRecord) -> Result<Event, Infallible> {
    let key = record.key.as_ref().map_or(0, Vec::len);
    let mut payload = record.payload.unwrap_or_default();
    payload.make_ascii_uppercase();
    Ok(Event {
        timestamp_ms: record.timestamp.millis().unwrap_or(0),
        bytes: (key + payload.len()) as u32,
        payload,
    })
}

/// Runs the pipeline on `workers` threads until `expected` records have been processed,
/// then shuts down (final commit included) and returns the merged measurement.
pub fn consume(
    config: SourceConfig,
    workers: usize,
    expected: u64,
    batch_timeout: Duration,
    signals: &RunSignals,
    limit: Duration,
) -> Result<RunOutput, String> {
    let total = Arc::new(AtomicU64::new(0));
    let timely_config = if workers > 1 {
        timely::Config::process(workers)
    } else {
        timely::Config::thread()
    };
    let signals = signals.clone();
    let topic = config.topics().first().cloned().unwrap_or_default();
    let guards = timely::execute(timely_config, move |worker| {
        let probe = ProbeHandle::new();
        let seen = Rc::new(RefCell::new(RunOutput::default()));
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).map_err(|e| e.to_string())?;
            let (seen, total) = (Rc::clone(&seen), Arc::clone(&total));
            let processed = source.records.process(transform);
            processed.failed.probe_with(&probe);
            processed
                .ok
                .batch(by_partition().max_size(BATCH_SIZE).timeout(batch_timeout))
                .inspect_core(move |event| {
                    if let Ok((_, batches)) = event {
                        let now = now_micros();
                        let mut seen = seen.borrow_mut();
                        let (mut records, mut bytes) = (0u64, 0u64);
                        // Records sharing a millisecond are noted at once.
                        let mut same: Option<(i64, u64)> = None;
                        for batch in batches.iter() {
                            for message in &batch.records {
                                let stamp = message.data.timestamp_ms;
                                match &mut same {
                                    Some((ts, n)) if *ts == stamp => *n += 1,
                                    _ => {
                                        if let Some((ts, n)) = same.replace((stamp, 1)) {
                                            seen.latency.record_since_n(ts, now, n);
                                        }
                                    }
                                }
                                bytes += u64::from(message.data.bytes);
                            }
                            records += batch.records.len() as u64;
                        }
                        if let Some((ts, n)) = same {
                            seen.latency.record_since_n(ts, now, n);
                        }
                        seen.throughput.add(records, bytes);
                        total.fetch_add(records, Ordering::Relaxed);
                    }
                })
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            Ok::<_, String>(source.handle)
        })?;
        let deadline = Instant::now() + limit;
        let mut ready = worker.index() != 0;
        let mut assigned = None;
        while total.load(Ordering::Relaxed) < expected
            && !signals.failed()
            && Instant::now() < deadline
        {
            if assigned.is_none() && !handle.progress().assigned.is_empty() {
                assigned = Some(Instant::now());
                if !ready {
                    signals.set_ready();
                    ready = true;
                }
            }
            // Short parks until the assignment, so its time is seen within a millisecond or
            // so.
            let park = if assigned.is_none() { 1 } else { 100 };
            worker.step_or_park(Some(Duration::from_millis(park)));
        }
        if worker.index() == 0 && total.load(Ordering::Relaxed) < expected {
            warn_short(&handle.progress());
        }
        let committed = (worker.index() == 0).then(|| committed_now(&handle, &topic));
        let shutdown = Instant::now();
        handle.shutdown();
        // Step until this worker's dataflow is done: the drain, the final commit, leaving.
        // Bounded (the drain timeout, the final commit's, and a margin): a worker that
        // panicked never releases its capabilities, and the join must still report it.
        let give_up = Instant::now() + Duration::from_secs(45);
        while worker.step_or_park(Some(Duration::from_millis(1))) && Instant::now() < give_up {}
        let mut output = seen.borrow().clone();
        output.committed_at_last = committed;
        output.assigned = assigned;
        output.shutdown = Some(shutdown.elapsed());
        Ok::<_, String>(output)
    })?;
    let mut merged = RunOutput::default();
    for result in guards.join() {
        merged.merge(&result.map_err(|e| format!("worker failed: {e}"))??);
    }
    if merged.throughput.records < expected {
        return Err(format!(
            "the pipeline processed {} of {expected} records (time limit {limit:?})",
            merged.throughput.records,
        ));
    }
    Ok(merged)
}

/// Says which partitions a run that fell short had not processed anything from, so a stall
/// can be told from a slow run.
fn warn_short(progress: &timely_kafka::SourceProgress) {
    let processed: std::collections::HashSet<&timely_kafka::TopicPartition> = progress
        .partitions
        .iter()
        .filter(|p| p.processed.is_some())
        .map(|p| &p.topic_partition)
        .collect();
    let idle: Vec<String> = progress
        .assigned
        .iter()
        .filter(|tp| !processed.contains(tp))
        .map(ToString::to_string)
        .collect();
    tracing::warn!(
        "run fell short: {} assigned partition(s), {} with nothing processed{}{}; last error: {}",
        progress.assigned.len(),
        idle.len(),
        if idle.is_empty() { "" } else { ": " },
        idle.iter().take(20).cloned().collect::<Vec<_>>().join(", "),
        progress
            .last_error
            .as_ref()
            .map_or_else(|| "none".to_owned(), ToString::to_string)
    );
}

/// The offsets the broker has acknowledged as committed by this process, per partition of
/// `topic`.
pub fn committed_now(handle: &SourceHandle, topic: &str) -> BTreeMap<i32, i64> {
    handle
        .progress()
        .partitions
        .into_iter()
        .filter(|p| p.topic_partition.topic() == topic)
        .filter_map(|p| p.committed.map(|c| (p.topic_partition.partition, c)))
        .collect()
}
