//! Throughput of `process_concurrent` with a handler that waits `--latency-ms` (standing in
//! for an HTTP or database call), at several in-flight bounds, against the ideal
//! `bound × 1000 / latency` records per second.
//!
//! The wait is a delay line by default: one thread that wakes each call at its deadline,
//! about 0.1 ms late. `--timer tokio` uses `tokio::time::sleep` instead, whose timer
//! rounds each deadline up to its next millisecond tick, so a 10 ms call takes about 11 ms
//! and the best ratio is about 0.9 before the stage costs anything. The `latency` column is
//! the mean wait the handler measured, and `vs latency` the ratio against the ideal at that
//! latency: what the stage itself delivers.
//!
//! ```text
//! cargo run --release --example concurrency_bench
//! cargo run --release --example concurrency_bench -- --latency-ms 10 --bounds 1,16,256,4096 --ordering per-key
//! ```
//!
//! One timely worker; records come from a timely input (no broker), so the figures are the
//! stage's own. Each bound runs for about `--seconds` of ideal time (at least
//! `--min-records`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely_kafka::process::{ConcurrentConfig, ConcurrentExt, Ordering};
use timely_kafka::{KafkaRecord, RecordTimestamp};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderingArg {
    /// One call at a time per partition (the records are spread over `bound` partitions).
    PerPartition,
    /// One call at a time per key (the records are spread over `bound` keys).
    PerKey,
    /// Any record runs with any other; a partition's results leave in offset order (the
    /// records are spread over `bound` partitions).
    OrderedResults,
    /// No order.
    Unordered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Timer {
    /// A thread that wakes each call at its deadline.
    DelayLine,
    /// `tokio::time::sleep` (rounds up to the next millisecond).
    Tokio,
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
    /// What makes the handler wait.
    #[arg(long, value_enum, default_value_t = Timer::DelayLine)]
    timer: Timer,
}

fn main() {
    let args = Args::parse();
    let latency = Duration::from_millis(args.latency_ms);
    println!(
        "{:>6} {:>10} {:>12} {:>12} {:>6} {:>10} {:>10}",
        "bound", "records", "records/s", "ideal/s", "ratio", "latency", "vs latency"
    );
    let delay_line = Arc::new(DelayLine::start());
    for &bound in &args.bounds {
        let ideal = bound as f64 * 1000.0 / args.latency_ms.max(1) as f64;
        let records = ((ideal * args.seconds) as usize).max(args.min_records);
        let ordering = match args.ordering {
            OrderingArg::PerPartition => Ordering::PerPartition,
            OrderingArg::PerKey => Ordering::PerKey,
            OrderingArg::OrderedResults => Ordering::OrderedResults,
            OrderingArg::Unordered => Ordering::Unordered,
        };
        let wait = match args.timer {
            Timer::DelayLine => Wait::DelayLine(Arc::clone(&delay_line)),
            Timer::Tokio => Wait::Tokio,
        };
        let (elapsed, mean_wait) = run(bound, ordering, latency, records, wait);
        let rate = records as f64 / elapsed.as_secs_f64();
        let at_latency = bound as f64 / mean_wait.as_secs_f64();
        println!(
            "{bound:>6} {records:>10} {rate:>12.0} {ideal:>12.0} {:>6.3} {:>8.2}ms {:>10.3}",
            rate / ideal,
            mean_wait.as_secs_f64() * 1000.0,
            rate / at_latency
        );
    }
}

/// How a call waits.
#[derive(Clone)]
enum Wait {
    DelayLine(Arc<DelayLine>),
    Tokio,
}

impl Wait {
    async fn wait(&self, latency: Duration) {
        match self {
            Wait::DelayLine(line) => line.wait(latency).await,
            Wait::Tokio => tokio::time::sleep(latency).await,
        }
    }
}

/// One thread waking each waiter at its deadline.
struct DelayLine {
    requests: Mutex<mpsc::Sender<(Instant, oneshot::Sender<()>)>>,
}

impl DelayLine {
    fn start() -> DelayLine {
        let (requests, incoming) = mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            let mut due: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
            let mut waiters: HashMap<u64, oneshot::Sender<()>> = HashMap::new();
            let mut next_id = 0u64;
            loop {
                let now = Instant::now();
                while let Some(Reverse((deadline, id))) = due.peek().copied() {
                    if deadline > now {
                        break;
                    }
                    due.pop();
                    if let Some(waiter) = waiters.remove(&id) {
                        let _ = waiter.send(());
                    }
                }
                let request = match due.peek() {
                    Some(Reverse((deadline, _))) => {
                        match incoming.recv_timeout(deadline.saturating_duration_since(now)) {
                            Ok(request) => Some(request),
                            Err(mpsc::RecvTimeoutError::Timeout) => None,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    None => match incoming.recv() {
                        Ok(request) => Some(request),
                        Err(_) => return,
                    },
                };
                if let Some((deadline, waiter)) = request {
                    due.push(Reverse((deadline, next_id)));
                    waiters.insert(next_id, waiter);
                    next_id += 1;
                }
            }
        });
        DelayLine {
            requests: Mutex::new(requests),
        }
    }

    async fn wait(&self, latency: Duration) {
        let (done, wake) = oneshot::channel();
        let sent = self
            .requests
            .lock()
            .unwrap()
            .send((Instant::now() + latency, done));
        if sent.is_ok() {
            let _ = wake.await;
        }
    }
}

/// Runs `records` records through the stage; returns the time from the first record in to
/// the last result out, and the mean wait the handler measured.
fn run(
    bound: usize,
    ordering: Ordering,
    latency: Duration,
    records: usize,
    wait: Wait,
) -> (Duration, Duration) {
    let waited_ns = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let (waited_in, calls_in) = (Arc::clone(&waited_ns), Arc::clone(&calls));
    let elapsed = timely::execute_directly(move |worker| {
        let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<KafkaRecord>>>::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<u64, _, _>(|scope| {
            let processed = scope.input_from(&mut input).process_concurrent(
                ConcurrentConfig::<String>::new(bound).ordering(ordering),
                move |record: Arc<KafkaRecord>| {
                    let (wait, waited, calls) =
                        (wait.clone(), Arc::clone(&waited_in), Arc::clone(&calls_in));
                    async move {
                        let started = Instant::now();
                        wait.wait(latency).await;
                        waited.fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
                        calls.fetch_add(1, Relaxed);
                        Ok::<_, String>(record.offset)
                    }
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
    });
    let mean = Duration::from_nanos(waited_ns.load(Relaxed) / calls.load(Relaxed).max(1));
    (elapsed, mean)
}
