//! The broker under test: its address, topics, loads, reads to the end offsets, committed
//! offsets watched over time, and `timely-kafka pipe` pointed at it.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use crate::common::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use timely_kafka::testing::{Checker, Trace};

/// Partitions of the topics most tests use.
pub const PARTITIONS: i32 = 4;
/// Records each load writes to each partition.
pub const PER_PARTITION: u64 = 500;

/// The broker under test.
pub fn brokers() -> String {
    std::env::var("KAFKA_BROKERS")
        .expect("KAFKA_BROKERS is not set: run scripts/real-broker-tests.sh, or set it to a broker")
}

/// The consumer group protocol a test runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The classic protocol (librdkafka's default assignors, eager), with a 6 s session: Kafka's
    /// default `group.min.session.timeout.ms`, so a SIGKILLed member's partitions move on
    /// after 6 s rather than the default 45 s.
    Classic,
    /// [`Protocol::Classic`] with the `cooperative-sticky` assignor: incremental rebalances.
    Cooperative,
    /// KIP-848's `consumer` protocol; its session is the broker's
    /// `group.consumer.session.timeout.ms` (6 s on the broker `real-broker-tests.sh` starts).
    Consumer,
}

impl Protocol {
    /// `pipe` arguments selecting this protocol.
    pub fn pipe_args(self) -> &'static [&'static str] {
        match self {
            Protocol::Classic => &[
                "--consumer-set",
                "session.timeout.ms=6000",
                "--consumer-set",
                "heartbeat.interval.ms=500",
            ],
            Protocol::Cooperative => &[
                "--assignor",
                "cooperative-sticky",
                "--consumer-set",
                "session.timeout.ms=6000",
                "--consumer-set",
                "heartbeat.interval.ms=500",
            ],
            Protocol::Consumer => &["--group-protocol", "consumer"],
        }
    }
}

/// `timely-kafka pipe` against the broker under test: exchange on, 50 ms commits, the
/// `protocol`'s session, then `extra`.
pub fn pipe(protocol: Protocol, group: &str, input: &str, output: &str, extra: &[&str]) -> Child {
    let mut args = vec!["--exchange", "--commit-interval-ms", "50"];
    args.extend_from_slice(protocol.pipe_args());
    args.extend_from_slice(extra);
    pipe_at_defaults(&brokers(), group, input, output, &args)
}

/// Waits for a pipe to exit and asserts it exited cleanly.
pub fn assert_exits_cleanly(name: &str, child: &mut Child) {
    let status = child.wait().unwrap();
    assert!(status.success(), "{name} exits cleanly: {status:?}");
}

/// Runs a future to completion on this thread (rdkafka's admin futures need no runtime).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        thread::park();
    }
}

fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("admin client")
}

pub fn create_topic(name: &str, partitions: i32) {
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let results =
        block_on(admin().create_topics([&topic], &AdminOptions::new())).expect("create topics");
    for result in results {
        result.unwrap_or_else(|(topic, error)| panic!("create topic {topic}: {error}"));
    }
}

/// Grows `topic` to `partitions` partitions.
pub fn add_partitions(topic: &str, partitions: i32) {
    let grow = NewPartitions::new(topic, partitions as usize);
    let results = block_on(admin().create_partitions([&grow], &AdminOptions::new()))
        .expect("create partitions");
    for result in results {
        result.unwrap_or_else(|(topic, error)| panic!("add partitions to {topic}: {error}"));
    }
}

fn producer() -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer")
}

/// Sends `record`, serving delivery reports while the producer's queue is full.
fn send(producer: &BaseProducer, mut record: BaseRecord<'_, String, String>) {
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(10));
            }
        }
    }
}

/// Writes traced records `seqs` of `run` to `partitions` of `topic`, keyed by partition so a
/// pipe keeps each input partition in one output partition, with create times from
/// `timestamp(seq)` when given, and waits for every acknowledgement.
pub fn produce_to(
    topic: &str,
    partitions: std::ops::Range<i32>,
    run: u32,
    seqs: std::ops::Range<u64>,
    timestamp: Option<&dyn Fn(u64) -> i64>,
) {
    let producer = producer();
    for seq in seqs {
        for partition in partitions.clone() {
            let payload = Trace {
                run,
                partition,
                seq,
            }
            .payload();
            let key = format!("input-{partition}");
            let mut record = BaseRecord::to(topic)
                .partition(partition)
                .key(&key)
                .payload(&payload);
            if let Some(timestamp) = timestamp {
                record = record.timestamp(timestamp(seq));
            }
            send(&producer, record);
        }
    }
    producer.flush(DEADLINE).expect("every record acknowledged");
}

/// [`produce_to`] to partitions `0..PARTITIONS`, without timestamps.
pub fn produce(topic: &str, run: u32, seqs: std::ops::Range<u64>) {
    produce_to(topic, 0..PARTITIONS, run, seqs, None);
}

/// The end offset (high watermark) of every partition of `topic`, from the partition
/// leaders.
pub fn end_offsets(topic: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("watermark reader");
    timely_kafka::offsets::end_offsets(consumer.client(), topic, DEADLINE)
        .unwrap_or_else(|e| panic!("end offsets of {topic}: {e}"))
        .into_iter()
        .map(|(tp, high)| (tp.partition, high))
        .collect()
}

/// How many offsets `topic` holds in all (records, and markers in transactional topics).
pub fn total_end(topic: &str) -> i64 {
    end_offsets(topic).values().sum()
}

/// Every record of `topic`, from the beginning to the end offsets it has now (a topic
/// without transactions: its last record is at its end offset - 1).
pub fn read_to_end(topic: &str) -> Vec<Written> {
    let ends = end_offsets(topic);
    let mut next: BTreeMap<i32, i64> = ends.keys().map(|&p| (p, 0)).collect();
    let mut seen = 0;
    let records = read_from_start(&brokers(), topic, ends.keys().copied(), |read| {
        for w in &read[seen..] {
            next.insert(w.partition, w.offset + 1);
        }
        seen = read.len();
        ends.iter().all(|(p, end)| next[p] >= *end)
    });
    for (p, end) in &ends {
        let reached = records
            .iter()
            .filter(|w| w.partition == *p)
            .map(|w| w.offset + 1)
            .max()
            .unwrap_or(0);
        assert!(
            reached >= *end,
            "{topic}/{p}: read up to {reached}, its end offset is {end}"
        );
    }
    records
}

/// Adds the input to the checker, as its truth.
pub fn add_input(checker: &mut Checker, topic: &str, expected: usize) {
    let input = read_to_end(topic);
    assert_eq!(
        input.len(),
        expected,
        "the input topic holds what was loaded"
    );
    for r in input {
        checker
            .input_payload(r.partition, r.offset, r.payload.unwrap().as_bytes())
            .unwrap();
    }
}

/// A checker holding the input.
pub fn checker_with_input(topic: &str, expected: usize) -> Checker {
    let mut checker = Checker::new();
    add_input(&mut checker, topic, expected);
    checker
}

/// Adds the group's committed offsets to the checker and returns them.
pub fn record_commits(
    checker: &mut Checker,
    group: &str,
    topic: &str,
) -> BTreeMap<i32, Option<i64>> {
    let commits = committed(&brokers(), group, topic, PARTITIONS);
    for (partition, offset) in &commits {
        if let Some(offset) = offset {
            checker.committed(*partition, *offset);
        }
    }
    commits
}

pub fn assert_committed_to_end(commits: &BTreeMap<i32, Option<i64>>, per_partition: u64) {
    for (partition, offset) in commits {
        assert_eq!(
            *offset,
            Some(per_partition as i64),
            "partition {partition} committed to its end"
        );
    }
}

/// One reading of a group's committed offsets, by partition.
type Commits = BTreeMap<i32, Option<i64>>;

/// Reads a group's committed offsets every 100 ms on its own thread while a test runs, so
/// monotonicity (I3) is checked over many readings, not one.
pub struct CommitWatch {
    stop: Arc<AtomicBool>,
    readings: Arc<Mutex<Vec<Commits>>>,
    thread: thread::JoinHandle<()>,
}

impl CommitWatch {
    pub fn start(group: &str, topic: &str, partitions: i32) -> CommitWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let readings: Arc<Mutex<Vec<_>>> = Arc::default();
        let thread = thread::spawn({
            let (stop, readings) = (Arc::clone(&stop), Arc::clone(&readings));
            let (group, topic, brokers) = (group.to_owned(), topic.to_owned(), brokers());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    // A failed reading is skipped: it says nothing about the commits.
                    if let Ok(reading) = try_committed(&brokers, &group, &topic, partitions) {
                        readings.lock().unwrap().push(reading);
                    }
                    thread::sleep(Duration::from_millis(100));
                }
            }
        });
        CommitWatch {
            stop,
            readings,
            thread,
        }
    }

    /// Stops watching and gives every reading to the checker, in the order taken; returns
    /// how many readings there were.
    pub fn finish(self, checker: &mut Checker) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        let readings = self.readings.lock().unwrap();
        for reading in readings.iter() {
            for (partition, offset) in reading {
                if let Some(offset) = offset {
                    checker.committed(*partition, *offset);
                }
            }
        }
        readings.len()
    }
}
