//! The batch stage's cost per record, at batch size 100 on 1 worker.
//!
//! Run: `cargo bench --bench batch` (optionally `-- RECORDS`, default 5,000,000).
//!
//! Reports three figures, each the best of 5 runs:
//! * `buffer`: the batching logic alone (`BatchBuffer::push`), Kafka-shaped messages, 8 partitions;
//! * `dataflow baseline`: timely input → probe, the same messages;
//! * `dataflow with batch`: input → batch(by_partition, 100) → probe.
//!
//! The stage's cost is `with batch − baseline`; the target is under 50 ns per record.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely_kafka::batching::{by_partition, BatchOp};
use timely_kafka::process::Message;
use timely_kafka::{Position, TopicPartition};
use timely_kafka_operators::batch::{BatchBuffer, Flushed};

const PARTITIONS: i32 = 8;
const RUNS: usize = 5;

fn main() {
    let records: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let topic: Arc<str> = Arc::from("bench-topic");
    let message = |i: u64| Message {
        position: Position::new(
            Arc::clone(&topic),
            (i / 1000 % PARTITIONS as u64) as i32,
            i as i64,
        ),
        data: i,
    };

    let buffer = best(|| {
        let mut buffer: BatchBuffer<TopicPartition, Message<u64>, u64> =
            BatchBuffer::new(100, None, Duration::from_secs(1));
        let mut out: Vec<Flushed<_, _, u64>> = Vec::new();
        let now = Instant::now();
        let started = Instant::now();
        for i in 0..records {
            let m = message(i);
            buffer.push(m.position.topic_partition.clone(), m, 0, &0, now, &mut out);
            if out.len() > 64 {
                black_box(out.drain(..).count());
            }
        }
        started.elapsed()
    });
    let baseline = best(|| run_dataflow(records, false, Arc::clone(&topic)));
    let batched = best(|| run_dataflow(records, true, Arc::clone(&topic)));

    let per = |d: Duration| d.as_nanos() as f64 / records as f64;
    println!("records per run:        {records}");
    println!("buffer:                 {:6.1} ns/record", per(buffer));
    println!("dataflow baseline:      {:6.1} ns/record", per(baseline));
    println!("dataflow with batch:    {:6.1} ns/record", per(batched));
    println!(
        "batch stage (diff):     {:6.1} ns/record  (target < 50)",
        per(batched) - per(baseline)
    );
}

/// Feeds `records` messages through input → [batch →] probe, 1,000 per round.
fn run_dataflow(records: u64, with_batch: bool, topic: Arc<str>) -> Duration {
    let message = move |i: u64| Message {
        position: Position::new(
            Arc::clone(&topic),
            (i / 1000 % PARTITIONS as u64) as i32,
            i as i64,
        ),
        data: i,
    };
    timely::execute_directly(move |worker| {
        let mut input = InputHandle::<u64, _>::new();
        let probe = ProbeHandle::new();
        worker.dataflow(|scope| {
            let stream = scope
                .input_from(&mut input)
                .container::<Vec<Message<u64>>>();
            if with_batch {
                stream
                    .batch(
                        by_partition()
                            .max_size(100)
                            .timeout(Duration::from_secs(60)),
                    )
                    .probe_with(&probe);
            } else {
                stream.probe_with(&probe);
            }
        });
        let started = Instant::now();
        let mut round = 0u64;
        for i in 0..records {
            input.send(message(i));
            if i % 1000 == 999 {
                round += 1;
                input.advance_to(round);
                while probe.less_than(input.time()) {
                    worker.step();
                }
            }
        }
        drop(input);
        while !probe.done() {
            worker.step();
        }
        started.elapsed()
    })
}

fn best(mut f: impl FnMut() -> Duration) -> Duration {
    (0..RUNS).map(|_| f()).min().unwrap_or_default()
}
