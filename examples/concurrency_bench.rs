//! Throughput of `process_concurrent` with a handler that waits `--latency-ms` (a
//! `tokio::time::sleep`, standing in for an HTTP or database call), at several in-flight
//! bounds, against the ideal `bound × 1000 / latency` records per second.
//!
//! ```text
//! cargo run --release --example concurrency_bench
//! cargo run --release --example concurrency_bench -- --latency-ms 10 --bounds 1,16,256,4096 --ordering per-key
//! ```
//!
//! One timely worker; records come from a timely input (no broker), so the figures are the
//! stage's own. Each bound runs for about `--seconds` of ideal time (at least
//! `--min-records`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely_kafka::process::{ConcurrentConfig, ConcurrentExt, Ordering};
use timely_kafka::{KafkaRecord, RecordTimestamp};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderingArg {
    /// One call at a time per partition (the records are spread over `bound` partitions).
    PerPartition,
    /// One call at a time per key (the records are spread over `bound` keys).
    PerKey,
    /// No order.
    Unordered,
}

#[derive(Debug, Parser)]
struct Args {
    /// The handler's latency in milliseconds.
    #[arg(long, default_value_t = 10)]
    latency_ms: u64,
    /// In-flight bounds to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16, 256, 4096])]
    bounds: Vec<usize>,
    /// Which records may run together.
    #[arg(long, value_enum, default_value_t = OrderingArg::Unordered)]
    ordering: OrderingArg,
    /// Ideal run time per bound, in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// The least number of records per bound.
    #[arg(long, default_value_t = 200)]
    min_records: usize,
}

fn main() {
    let args = Args::parse();
    let latency = Duration::from_millis(args.latency_ms);
    println!(
        "{:>6} {:>10} {:>12} {:>12} {:>6}",
        "bound", "records", "records/s", "ideal/s", "ratio"
    );
    for &bound in &args.bounds {
        let ideal = bound as f64 * 1000.0 / args.latency_ms.max(1) as f64;
        let records = ((ideal * args.seconds) as usize).max(args.min_records);
        let ordering = match args.ordering {
            OrderingArg::PerPartition => Ordering::PerPartition,
            OrderingArg::PerKey => Ordering::PerKey,
            OrderingArg::Unordered => Ordering::Unordered,
        };
        let elapsed = run(bound, ordering, latency, records);
        let rate = records as f64 / elapsed.as_secs_f64();
        println!(
            "{bound:>6} {records:>10} {rate:>12.0} {ideal:>12.0} {:>6.3}",
            rate / ideal
        );
    }
}

/// Runs `records` records through the stage; returns the time from the first record in to
/// the last result out.
fn run(bound: usize, ordering: Ordering, latency: Duration, records: usize) -> Duration {
    timely::execute_directly(move |worker| {
        let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<KafkaRecord>>>::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<u64, _, _>(|scope| {
            let processed = scope.input_from(&mut input).process_concurrent(
                ConcurrentConfig::<String>::new(bound).ordering(ordering),
                move |record: Arc<KafkaRecord>| async move {
                    tokio::time::sleep(latency).await;
                    Ok::<_, String>(record.offset)
                },
            );
            processed.ok.probe_with(&probe);
            processed.failed.probe_with(&probe);
        });
        let topic: Arc<str> = "bench".into();
        let lanes = bound as i64;
        let started = Instant::now();
        for offset in 0..records as i64 {
            input.send(KafkaRecord {
                topic: Arc::clone(&topic),
                partition: (offset % lanes) as i32,
                offset,
                key: Some((offset % lanes).to_string().into_bytes()),
                payload: Some(vec![0; 100]),
                timestamp: RecordTimestamp::NotAvailable,
                headers: vec![],
            });
        }
        input.close();
        while !probe.done() {
            worker.step_or_park(None);
        }
        started.elapsed()
    })
}
