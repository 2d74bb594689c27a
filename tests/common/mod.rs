//! Helpers shared by the integration tests: run a source on N workers until a condition
//! holds, and read committed offsets the way any other Kafka client would.
#![allow(dead_code)]

pub mod hooks;
pub mod member;
pub mod valve;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::{EmbeddedCluster, TestRecord};
use timely_kafka::{KafkaRecord, KafkaSourceExt, SourceConfig, SourceConfigBuilder};

/// How long a test waits for records before giving up (and failing its assertions).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A record seen at the end of the dataflow, and the worker that emitted it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub worker: usize,
    pub record: KafkaRecord,
}

/// A cluster with one topic of `partitions` partitions holding `per_partition` records in
/// each, payload `"{partition}:{seq}"`.
pub fn loaded_cluster(topic: &str, partitions: i32, per_partition: usize) -> EmbeddedCluster {
    let cluster = EmbeddedCluster::new(1).expect("start the embedded cluster");
    cluster
        .create_topic(topic, partitions)
        .expect("create topic");
    load(&cluster, topic, partitions, 0..per_partition);
    cluster
}

/// Loads records `seqs` into every partition.
pub fn load(cluster: &EmbeddedCluster, topic: &str, partitions: i32, seqs: std::ops::Range<usize>) {
    let records = (0..partitions).flat_map(move |p| {
        seqs.clone().map(move |s| {
            TestRecord::new(format!("{p}:{s}"))
                .partition(p)
                .key(format!("k{s}"))
        })
    });
    cluster.load(topic, records).expect("load records");
}

/// A source config for tests: short ticks, fast commits.
///
/// The short session timeout is for the mock cluster's sake: after a member leaves, the mock
/// holds the next join for `session.timeout.ms - 1 s` (45 s by default), which would make
/// every restart test wait that long.
pub fn config(bootstrap: &str, group: &str, topic: &str) -> SourceConfigBuilder {
    SourceConfig::builder()
        .brokers(bootstrap)
        .group_id(group)
        .topic(topic)
        .tick(Duration::from_millis(10))
        .commit_interval(Duration::from_millis(50))
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "250")
}

/// Runs the source on `workers` threads until `expected` records have passed the probe (or
/// the deadline passes), then shuts down gracefully and returns what was seen.
pub fn consume(config: SourceConfig, workers: usize, expected: usize) -> Vec<Seen> {
    consume_with_progress(config, workers, expected).0
}

/// [`consume`], also returning the source's progress report after shutdown.
pub fn consume_with_progress(
    config: SourceConfig,
    workers: usize,
    expected: usize,
) -> (Vec<Seen>, timely_kafka::SourceProgress) {
    run_source(config, workers, move |count| count >= expected)
}

/// Runs the source on `workers` threads until `done()` holds (or the deadline passes), then
/// shuts down gracefully and returns what was seen.
pub fn consume_until(
    config: SourceConfig,
    workers: usize,
    done: impl Fn() -> bool + Send + Sync + 'static,
) -> Vec<Seen> {
    run_source(config, workers, move |_| done()).0
}

/// Runs the source on `workers` threads until `done(records seen)` holds (or the deadline
/// passes), then shuts down gracefully and returns what was seen. `done` runs on the worker
/// threads, between steps.
pub fn consume_until_count(
    config: SourceConfig,
    workers: usize,
    done: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> Vec<Seen> {
    run_source(config, workers, done).0
}

/// Runs the source on `workers` threads until `done(records seen)` holds (or the deadline
/// passes), then shuts down gracefully; returns what was seen and the progress report.
fn run_source(
    config: SourceConfig,
    workers: usize,
    done: impl Fn(usize) -> bool + Send + Sync + 'static,
) -> (Vec<Seen>, timely_kafka::SourceProgress) {
    init_logging();
    let done = Arc::new(done);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&seen);
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        let index = worker.index();
        let probe = ProbeHandle::new();
        let (sink, counter, done) = (Arc::clone(&sink), Arc::clone(&count), Arc::clone(&done));
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).expect("build the source");
            source
                .records
                .inspect(move |record| {
                    sink.lock().unwrap().push(Seen {
                        worker: index,
                        record: record.clone(),
                    });
                    counter.fetch_add(1, Ordering::SeqCst);
                })
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            source.handle
        });
        let started = Instant::now();
        while !done(count.load(Ordering::SeqCst)) && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(50)));
        }
        handle.shutdown();
        handle.control()
    })
    .expect("start timely");
    let mut controls = Vec::new();
    for result in guards.join() {
        controls.push(result.expect("worker panicked"));
    }
    let progress = controls[0].progress();
    (
        Arc::try_unwrap(seen).unwrap().into_inner().unwrap(),
        progress,
    )
}

/// Committed offsets of `group` on `topic`, read by a separate client. A reading the broker
/// refuses for now (`NOT_COORDINATOR` while a group's coordinator is set up) is taken again,
/// until the [`DEADLINE`].
pub fn committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, Option<i64>> {
    let started = Instant::now();
    loop {
        match try_committed(bootstrap, group, topic, partitions) {
            Ok(committed) => return committed,
            Err(e) if started.elapsed() < DEADLINE => {
                eprintln!("reading {group}'s commits on {topic} failed, again: {e}");
                thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("read {group}'s committed offsets on {topic}: {e}"),
        }
    }
}

/// [`committed`], or the error of the reading (a real broker answers `NOT_COORDINATOR`
/// now and then, while a new group's coordinator is being set up): the library's
/// [`timely_kafka::testing::committed_offsets`], which reads through
/// [`timely_kafka::offsets`].
pub fn try_committed(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, Option<i64>>, timely_kafka::testing::ClusterError> {
    timely_kafka::testing::committed_offsets(bootstrap, group, topic, partitions)
}

/// Groups seen records by partition, in the order they were seen.
pub fn by_partition(seen: &[Seen]) -> BTreeMap<i32, Vec<&Seen>> {
    let mut map: BTreeMap<i32, Vec<&Seen>> = BTreeMap::new();
    for s in seen {
        map.entry(s.record.partition).or_default().push(s);
    }
    map
}

/// Sends the library's logs to the test's captured output (shown for failing tests).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_test_writer()
        .try_init();
}

/// A record read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub payload: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The record's timestamp in milliseconds, if it has one.
    pub timestamp_ms: Option<i64>,
}

impl Written {
    /// The value of header `name`, if the record has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The final state of every key in a changelog topic: the last record of each key (keys
/// stay in one partition), a tombstone removing it.
pub fn changelog_state(records: &[Written]) -> BTreeMap<String, String> {
    let mut sorted: Vec<&Written> = records.iter().collect();
    sorted.sort_by_key(|w| (w.partition, w.offset));
    let mut state = BTreeMap::new();
    for w in sorted {
        let key = w.key.clone().expect("changelog records have keys");
        match &w.payload {
            Some(value) => state.insert(key, value.clone()),
            None => state.remove(&key),
        };
    }
    state
}

/// Reads every record of `topic` (all partitions, from the beginning to the current end).
pub fn read_topic(cluster: &EmbeddedCluster, topic: &str) -> Vec<Written> {
    let ends = cluster.end_offsets(topic).expect("end offsets");
    let total = ends.values().sum::<i64>() as usize;
    read_from_start(
        &cluster.bootstrap_servers(),
        topic,
        ends.keys().copied(),
        |read| read.len() >= total,
    )
}

/// Reads `partitions` of `topic` from the beginning, polling until `done(records so far)`
/// (checked after every poll, so also when nothing arrived) or the [`DEADLINE`].
pub fn read_from_start(
    bootstrap: &str,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    mut done: impl FnMut(&[Written]) -> bool,
) -> Vec<Written> {
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let started = Instant::now();
    while !done(&out) && started.elapsed() < DEADLINE {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            out.push(Written {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                payload: m.payload().map(|p| String::from_utf8_lossy(p).into_owned()),
                timestamp_ms: m.timestamp().to_millis(),
                headers: m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                                (h.key.to_owned(), value.into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    drop(tpl);
    out
}

/// The key a configuration error names, whatever its kind.
pub fn config_error_key(err: &timely_kafka::ConfigError) -> &str {
    use timely_kafka::ConfigError;
    match err {
        ConfigError::Missing { key, .. }
        | ConfigError::Invalid { key, .. }
        | ConfigError::Forced { key, .. }
        | ConfigError::Managed { key, .. }
        | ConfigError::Refused { key, .. }
        | ConfigError::Rejected { key, .. } => key,
        other => panic!("unexpected error kind: {other:?}"),
    }
}

/// `(member, partition, offset)` of every record processed, in order.
pub type Processed = Arc<Mutex<Vec<(&'static str, i32, i64)>>>;

/// One member: a timely execution with `workers` workers on its own thread, recording
/// `(member, partition, offset)` for every record processed, until `stop` is set.
pub fn spawn_member(
    name: &'static str,
    config: SourceConfig,
    workers: usize,
    seen: Processed,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        timely::execute(timely::Config::process(workers), move |worker| {
            let probe = ProbeHandle::new();
            let seen = Arc::clone(&seen);
            let handle = worker.dataflow(|scope| {
                let source = scope.kafka_source(&config).unwrap();
                source
                    .records
                    .inspect(move |r| seen.lock().unwrap().push((name, r.partition, r.offset)))
                    .probe_with(&probe);
                source.handle.commit_after(&probe);
                source.handle
            });
            while !stop.load(Ordering::SeqCst) {
                worker.step_or_park(Some(Duration::from_millis(20)));
            }
            handle.shutdown();
        })
        .unwrap()
        .join()
        .into_iter()
        .for_each(|r| r.unwrap());
    })
}

/// Spawns `command` with its stdout and stderr forwarded, line by line, to this test's
/// captured output: shown when the test fails (or with `--nocapture`), not on a green run.
/// (Threads spawned by a test inherit its output capture; a child's inherited file
/// descriptors would not.)
pub fn spawn_captured(command: &mut Command) -> Child {
    spawn_logged(command).0
}

/// The lines a child wrote to stderr so far.
#[derive(Clone, Default)]
pub struct ChildLog {
    lines: Arc<Mutex<Vec<String>>>,
    /// Set once the child's stderr is closed: every line is in.
    closed: Arc<AtomicBool>,
}

impl ChildLog {
    /// Whether some line so far contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| l.contains(text))
    }

    /// The first line so far that contains `text`.
    pub fn line_with(&self, text: &str) -> Option<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(text))
            .cloned()
    }

    /// Waits until the child has closed its stderr (it exited): every line is in.
    pub fn wait_closed(&self) {
        wait_for("the child's stderr to close", || {
            self.closed.load(Ordering::SeqCst)
        });
    }

    /// Waits until a line contains `text` while `child` runs; fails the test if it exits
    /// without writing one.
    pub fn wait_for_line(&self, child: &mut Child, text: &str) {
        wait_for(&format!("a line saying {text:?}"), || {
            if self.contains(text) {
                return true;
            }
            if let Some(status) = child.try_wait().unwrap() {
                self.wait_closed();
                assert!(
                    self.contains(text),
                    "the child exited ({status}) without saying {text:?}"
                );
                return true;
            }
            false
        });
    }
}

/// [`spawn_captured`], also keeping the child's stderr lines for the test to read.
pub fn spawn_logged(command: &mut Command) -> (Child, ChildLog) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a child process");
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let log = ChildLog::default();
    forward_lines(pid, stdout);
    let lines = log.clone();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[child {pid}] {line}");
            lines.lines.lock().unwrap().push(line);
        }
        lines.closed.store(true, Ordering::SeqCst);
    });
    (child, log)
}

/// Forwards a child's output, line by line, to this test's captured output.
pub fn forward_lines(pid: u32, from: impl std::io::Read + Send + 'static) {
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            eprintln!("[child {pid}] {line}");
        }
    });
}

/// The path of example `name`, built next to the test binaries: `cargo test` builds the
/// examples, `cargo test --test NAME` does not (`cargo build --example NAME` does). Fails
/// the test, saying so, if it is missing.
pub fn example_path(name: &str) -> PathBuf {
    let path = std::env::current_exe()
        .expect("the test binary's path")
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .expect("the test binary lies in <profile>/deps");
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples (or run `cargo build --example {name}`)",
        path.display()
    );
    path
}

/// The `timely-kafka pipe` command from `input` to `output` with nothing but the required
/// flags and `extra`: the defaults a user gets.
pub fn pipe_command(
    bootstrap: &str,
    group: &str,
    input: &str,
    output: &str,
    extra: &[&str],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timely-kafka"));
    command
        .args(["pipe", "--brokers", bootstrap, "--group", group])
        .args(["--input", input, "--output", output])
        .args(extra);
    command
}

/// Starts `timely-kafka pipe` from `input` to `output` in a child process with nothing but
/// the required flags and `extra`: the defaults a user gets. Its output goes to the test's
/// captured output ([`spawn_captured`]).
pub fn pipe_at_defaults(
    bootstrap: &str,
    group: &str,
    input: &str,
    output: &str,
    extra: &[&str],
) -> Child {
    spawn_captured(&mut pipe_command(bootstrap, group, input, output, extra))
}

/// [`pipe_at_defaults`] with the test settings (exchange, 50 ms commits, 2 s session) before
/// `extra`.
pub fn pipe_process(
    bootstrap: &str,
    group: &str,
    input: &str,
    output: &str,
    extra: &[&str],
) -> Child {
    let mut args = vec![
        "--exchange",
        "--commit-interval-ms",
        "50",
        "--consumer-set",
        "session.timeout.ms=2000",
        "--consumer-set",
        "heartbeat.interval.ms=250",
    ];
    args.extend_from_slice(extra);
    pipe_at_defaults(bootstrap, group, input, output, &args)
}

/// Sends SIGTERM to `child`, as a supervisor stopping it would.
pub fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {}", child.id());
}

/// Waits for `child` to exit by itself within `limit`; kills it and fails the test
/// otherwise.
pub fn exits_within(child: &mut Child, what: &str, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            eprintln!("{what}: exited {status} after {:.1?}", started.elapsed());
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Errors still queued on broker `broker` for requests of kind `api` (injected with
/// [`EmbeddedCluster::broker_request_errors`]): 0 once clients have met them all.
pub fn pending_errors(
    cluster: &EmbeddedCluster,
    broker: i32,
    api: rdkafka::types::RDKafkaApiKey,
) -> usize {
    let mut count = 0usize;
    // SAFETY: the mock pointer is valid while `cluster` lives; the function only reads a
    // count under the mock's lock and writes it to `count`, a valid `size_t`.
    let result = unsafe {
        rdkafka_sys::rd_kafka_mock_broker_error_stack_cnt(
            cluster.mock_ptr(),
            broker,
            api as i16,
            &mut count,
        )
    };
    assert_eq!(
        result,
        rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR
    );
    count
}

/// A two-broker cluster whose topic `input` (`partitions` partitions) is led by broker 1
/// and `output` (as many partitions) by broker 2, so faults injected into broker 2 reach
/// only the writes to `output`. Broker 1 coordinates `group`.
pub fn split_cluster(input: &str, output: &str, partitions: i32, group: &str) -> EmbeddedCluster {
    let cluster = EmbeddedCluster::new(2).expect("start the embedded cluster");
    cluster
        .mock()
        .coordinator(
            rdkafka::mocking::MockCoordinator::Group(group.to_owned()),
            1,
        )
        .expect("set the group's coordinator");
    cluster
        .create_topic(input, partitions)
        .expect("create input");
    cluster
        .create_topic(output, partitions)
        .expect("create output");
    for p in 0..partitions {
        cluster.mock().partition_leader(input, p, Some(1)).unwrap();
        cluster.mock().partition_leader(output, p, Some(2)).unwrap();
    }
    cluster
}

/// Polls `cond` every 20 ms until it holds, failing the test with `what` after [`DEADLINE`].
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A small xorshift generator for random test points, reproducible from the printed seed.
pub struct Random(u64);

impl Random {
    /// Seeded from the environment variable `var`, else the clock; prints `var=seed`.
    pub fn from_env(var: &str) -> Self {
        let seed = std::env::var(var)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            | 1;
        eprintln!("{var}={seed}");
        Random(seed)
    }

    /// A duration in `[low, high)` milliseconds.
    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(low + self.0 % (high - low))
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.millis(0, n).as_millis() as u64
    }
}

/// A thread writing [`Trace`](timely_kafka::testing::Trace) records of run 0 to every
/// partition, `per_batch` per partition every `pause`, until [`finish`](Self::finish).
pub struct TracedProducer {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<u64>,
}

impl TracedProducer {
    /// Starts writing. `key_by_partition` keys every record of partition `p` `input-{p}` (so
    /// a pipe keeps each input partition in one output partition); otherwise `key-{seq}`.
    pub fn start(
        cluster: Arc<EmbeddedCluster>,
        topic: &str,
        partitions: i32,
        per_batch: u64,
        pause: Duration,
        key_by_partition: bool,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (topic, stopped) = (topic.to_owned(), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            let mut seq = 0;
            while !stopped.load(Ordering::SeqCst) {
                let batch =
                    timely_kafka::testing::Trace::records(0, partitions, seq..seq + per_batch).map(
                        |record| {
                            let partition = record.partition.unwrap_or_default();
                            if key_by_partition {
                                record.key(format!("input-{partition}"))
                            } else {
                                record
                            }
                        },
                    );
                cluster.load(&topic, batch.collect::<Vec<_>>()).unwrap();
                seq += per_batch;
                thread::sleep(pause);
            }
            seq
        });
        TracedProducer { stop, thread }
    }

    /// Stops writing; returns how many records each partition got.
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Writes `records` through a Kafka sink on one worker and waits until all are
/// acknowledged (or the [`DEADLINE`]); returns the sink's error, if any.
pub fn write_through_sink(
    config: timely_kafka::sink::SinkConfig,
    records: Vec<timely_kafka::sink::SinkRecord>,
) -> Option<timely_kafka::SinkError> {
    use timely::dataflow::operators::ToStream;
    use timely_kafka::sink::KafkaSinkExt;
    timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let handle = worker.dataflow::<u64, _, _>(|scope| {
            let sink = records
                .to_stream(scope)
                .container::<Vec<_>>()
                .kafka_sink(&config)
                .unwrap();
            sink.acknowledged.probe_with(&probe);
            sink.handle
        });
        let started = Instant::now();
        while !probe.done() && handle.error().is_none() && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        let error = handle.error();
        if error.is_some() {
            // The sink holds its frontier after a failure; drop the dataflow to finish.
            worker.drop_dataflow(0);
        }
        error
    })
}
