//! The batch stage's cost per record, at batch size 100 on 1 worker (divan).
//!
//! Run: `cargo bench --bench batch`.
//!
//! * `buffer`: the batching logic alone (`BatchBuffer::push`), Kafka-shaped messages, 8
//!   partitions, per record;
//! * `dataflow`: one round of 1,000 such messages through timely input → probe
//!   (`with_batch = false`, the baseline) and input → batch(by_partition, 100) → probe
//!   (`with_batch = true`); the worker and dataflow are built once, outside the timing.
//!
//! The stage's cost per record is (`with_batch = true` − `false`) / 1,000; the target is
//! under 50 ns per record. Divan prints time per iteration and, for `dataflow`, records/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use divan::counter::ItemsCount;
use divan::{black_box, Bencher};
use timely::communication::allocator::thread::Thread;
use timely::communication::Allocator;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;
use timely::WorkerConfig;
use timely_kafka::batching::{by_partition, BatchOp};
use timely_kafka::process::Message;
use timely_kafka::{Position, TopicPartition};
use timely_kafka_operators::batch::{BatchBuffer, Flushed};

const PARTITIONS: i32 = 8;
/// Records per dataflow round (per timely timestamp).
const ROUND: u64 = 1_000;

fn main() {
    divan::main();
}

/// Record `i`: runs of 1,000 records per partition, as fetches deliver them.
fn message(topic: &Arc<str>, i: u64) -> Message<u64> {
    Message {
        position: Position::new(
            Arc::clone(topic),
            (i / 1000 % PARTITIONS as u64) as i32,
            i as i64,
        ),
        data: i,
    }
}

/// `BatchBuffer::push`, per record (full batches drained every 64). 1,000 pushes per
/// sample: one push is below the timer's precision.
#[divan::bench(sample_size = 1000)]
fn buffer(bencher: Bencher) {
    let topic: Arc<str> = Arc::from("bench-topic");
    let mut buffer: BatchBuffer<TopicPartition, Message<u64>, u64> =
        BatchBuffer::new(100, None, Duration::from_secs(1));
    let mut out: Vec<Flushed<_, _, u64>> = Vec::new();
    let now = Instant::now();
    let mut i = 0u64;
    bencher.bench_local(|| {
        let m = message(&topic, i);
        i += 1;
        buffer.push(m.position.topic_partition.clone(), m, 0, &0, now, &mut out);
        if out.len() > 64 {
            black_box(out.drain(..).count());
        }
    });
}

/// One round of 1,000 records through input → [batch →] probe.
#[divan::bench(args = [false, true], sample_count = 1000)]
fn dataflow(bencher: Bencher, with_batch: bool) {
    let topic: Arc<str> = Arc::from("bench-topic");
    let mut worker = Worker::new(
        WorkerConfig::default(),
        Allocator::Thread(Thread::default()),
        Some(Instant::now()),
    );
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
    let (mut i, mut round) = (0u64, 0u64);
    bencher.counter(ItemsCount::new(ROUND)).bench_local(|| {
        for _ in 0..ROUND {
            input.send(message(&topic, i));
            i += 1;
        }
        round += 1;
        input.advance_to(round);
        while probe.less_than(input.time()) {
            worker.step();
        }
    });
    drop(input);
    while worker.has_dataflows() {
        worker.step();
    }
}
