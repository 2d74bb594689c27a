//! Kafka → Kafka on the mock cluster: every input record reaches the output with per-key
//! order kept, commits follow acknowledgements, retriable errors lose nothing, and a fatal
//! error stops the pipe without committing past the failed record.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely_kafka::sink::{murmur2_partition, KafkaSinkExt, SinkConfig, SinkRecord};
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::KafkaSourceExt;

const PARTITIONS: i32 = 4;
const PER_PARTITION: usize = 200;

/// Input: 4 partitions; in each, keys `p{p}-key{s % 5}` so every key has many records.
fn input_cluster(input: &str, output: &str) -> EmbeddedCluster {
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(input, PARTITIONS).unwrap();
    cluster.create_topic(output, 3).unwrap();
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..PER_PARTITION).map(move |s| {
            TestRecord::new(format!("value {p}:{s}"))
                .partition(p)
                .key(format!("p{p}-key{}", s % 5))
                .header("seq", s.to_string())
        })
    });
    cluster.load(input, records.collect::<Vec<_>>()).unwrap();
    cluster
}

/// Runs source → uppercase → sink in-process until every record is acknowledged.
fn run_pipe_in_process(
    cluster: &EmbeddedCluster,
    input: &str,
    output: &str,
    group: &str,
    workers: usize,
) {
    let bootstrap = cluster.bootstrap_servers();
    let source = config(&bootstrap, group, input).build().unwrap();
    let sink = SinkConfig::builder()
        .brokers(&bootstrap)
        .default_topic(output)
        .linger(Duration::from_millis(1))
        .build()
        .unwrap();
    let total = PARTITIONS as usize * PER_PARTITION;
    let delivered = Arc::new(AtomicUsize::new(0));
    timely::execute(timely::Config::process(workers), move |worker| {
        let probe = ProbeHandle::new();
        let delivered = Arc::clone(&delivered);
        let (handle, sink_handle) = worker.dataflow(|scope| {
            let consumed = scope.kafka_source(&source).unwrap();
            let produced = consumed
                .records
                .map(|r| {
                    let mut out = SinkRecord::from_record(&r);
                    out.payload.as_mut().unwrap().make_ascii_uppercase();
                    out
                })
                .kafka_sink(&sink)
                .unwrap();
            produced.acknowledged.probe_with(&probe);
            consumed.handle.commit_after(&probe);
            (consumed.handle, produced.handle)
        });
        let started = Instant::now();
        let mut counted = 0;
        loop {
            worker.step_or_park(Some(Duration::from_millis(20)));
            let now = sink_handle.delivered() as usize;
            delivered.fetch_add(now - counted, Ordering::SeqCst);
            counted = now;
            if delivered.load(Ordering::SeqCst) >= total || started.elapsed() > DEADLINE {
                break;
            }
            assert!(sink_handle.error().is_none(), "{:?}", sink_handle.error());
        }
        handle.shutdown();
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
}

/// The output holds every input record once (by payload), uppercased, each key in the
/// partition the Java client would pick, and each key's records in input order.
fn every_record_once_in_key_order(written: &[Written]) {
    let distinct: std::collections::BTreeSet<_> = written.iter().map(|w| &w.payload).collect();
    assert_eq!(distinct.len(), written.len(), "no record written twice");
    assert_eq!(
        written.len(),
        PARTITIONS as usize * PER_PARTITION,
        "every record, once"
    );
    let mut by_key: BTreeMap<String, Vec<(i32, i64, String)>> = BTreeMap::new();
    for w in written {
        let key = w.key.clone().unwrap();
        by_key
            .entry(key)
            .or_default()
            .push((w.partition, w.offset, w.payload.clone().unwrap()));
    }
    for (key, records) in &mut by_key {
        // Murmur2, Java-compatible: every record of a key in the partition Java would pick.
        let expected_partition = murmur2_partition(key.as_bytes(), 3);
        assert!(
            records.iter().all(|(p, _, _)| *p == expected_partition),
            "{key} spread over partitions"
        );
        records.sort_by_key(|(_, offset, _)| *offset);
        // Per-key order: sequence numbers increase along the output partition.
        let seqs: Vec<usize> = records
            .iter()
            .map(|(_, _, payload)| payload.rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{key} out of order: {seqs:?}"
        );
        assert!(
            records
                .iter()
                .all(|(_, _, payload)| payload.starts_with("VALUE ")),
            "transformed"
        );
    }
}

/// The output holds every input record once (by key and payload), per-key order is kept,
/// keys land where the Java client would put them, and committed input == end offsets.
fn kafka_to_kafka(workers: usize) {
    init_logging();
    let (input, output, group) = (
        unique_name("in"),
        unique_name("out"),
        unique_name("pipe-group"),
    );
    let cluster = input_cluster(&input, &output);
    run_pipe_in_process(&cluster, &input, &output, &group, workers);

    every_record_once_in_key_order(&read_topic(&cluster, &output));
    let committed = committed(&cluster.bootstrap_servers(), &group, &input, PARTITIONS);
    assert!(
        committed.values().all(|c| *c == Some(PER_PARTITION as i64)),
        "{committed:?}"
    );
}

#[test]
fn kafka_to_kafka_1w() {
    kafka_to_kafka(1);
}

#[test]
fn kafka_to_kafka_2w() {
    kafka_to_kafka(2);
}

/// Injected retriable produce errors (leader moved, timeouts, too few replicas) are met and
/// retried within the delivery timeout: nothing is lost, nothing duplicated, and each
/// key's records stay in order.
#[test]
fn retriable_produce_errors_lose_nothing() {
    for workers in [1, 2] {
        init_logging();
        let (input, output, group) = (
            unique_name("in"),
            unique_name("out"),
            unique_name("retry-group"),
        );
        let cluster = input_cluster(&input, &output);
        // On the only broker, after the input is loaded: only the pipe produces now. Twelve
        // in a row, so a record is retried several times.
        cluster
            .broker_request_errors(
                1,
                RDKafkaApiKey::Produce,
                &[
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                    RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                ]
                .repeat(3),
            )
            .unwrap();
        run_pipe_in_process(&cluster, &input, &output, &group, workers);
        assert_eq!(
            pending_errors(&cluster, 1, RDKafkaApiKey::Produce),
            0,
            "the pipe met every injected error"
        );
        every_record_once_in_key_order(&read_topic(&cluster, &output));
    }
}

/// A fatal produce error: the `pipe` command exits non-zero, and no committed input offset
/// passes a record whose output was not written (I2). The first half of the input is piped
/// and committed; then every produce request fails permanently and the second half arrives.
#[test]
fn fatal_produce_error_exits_nonzero_without_committing_past_it() {
    init_logging();
    let (input, output, group) = (
        unique_name("in"),
        unique_name("out"),
        unique_name("fatal-group"),
    );
    // Two brokers: broker 1 leads the input, broker 2 the output, so failing broker 2's
    // produce requests fails only the pipe's writes.
    let cluster = EmbeddedCluster::new(2).unwrap();
    cluster.create_topic(&input, PARTITIONS).unwrap();
    cluster.create_topic(&output, 3).unwrap();
    for p in 0..PARTITIONS {
        cluster.mock().partition_leader(&input, p, Some(1)).unwrap();
    }
    for p in 0..3 {
        cluster
            .mock()
            .partition_leader(&output, p, Some(2))
            .unwrap();
    }
    load(&cluster, &input, PARTITIONS, 0..PER_PARTITION);
    let bootstrap = cluster.bootstrap_servers();
    let mut child = pipe_at_defaults(
        &bootstrap,
        &group,
        &input,
        &output,
        &[
            "--idle-exit",
            "30",
            "-w",
            "2",
            "--commit-interval-ms",
            "50",
            "--consumer-set",
            "session.timeout.ms=2000",
            "--consumer-set",
            "heartbeat.interval.ms=250",
        ],
    );
    let started = Instant::now();
    while committed(&bootstrap, &group, &input, PARTITIONS)
        .values()
        .any(|c| *c != Some(PER_PARTITION as i64))
    {
        assert!(
            started.elapsed() < DEADLINE,
            "the first half was never committed"
        );
        assert!(child.try_wait().unwrap().is_none(), "the pipe exited early");
        std::thread::yield_now();
    }
    cluster
        .broker_request_errors(
            2,
            RDKafkaApiKey::Produce,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; 100],
        )
        .unwrap();
    let more = (0..PARTITIONS).flat_map(|p| {
        (PER_PARTITION..PER_PARTITION + 50).map(move |s| {
            TestRecord::new(format!("value {p}:{s}"))
                .partition(p)
                .key(format!("p{p}-key{}", s % 5))
        })
    });
    cluster.load(&input, more.collect::<Vec<_>>()).unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("the pipe did not exit after its sink failed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "the pipe must fail: {status:?}");

    let written = read_topic(&cluster, &output);
    let committed = committed(&bootstrap, &group, &input, PARTITIONS);
    assert!(
        written.len() < PARTITIONS as usize * (PER_PARTITION + 50),
        "some records were not written"
    );
    for (partition, c) in committed {
        let c = c.unwrap_or(0);
        assert!(
            c >= PER_PARTITION as i64,
            "partition {partition}: the first half stays committed ({c})"
        );
        for offset in 0..c {
            let (first_half, second_half) = (
                format!("{partition}:{offset}"),
                format!("value {partition}:{offset}"),
            );
            assert!(
                written
                    .iter()
                    .any(|w| w.payload.as_deref() == Some(&first_half)
                        || w.payload.as_deref() == Some(&second_half)),
                "input {partition}@{offset} is committed ({c}) but was never written"
            );
        }
    }
}

/// `pipe` on a healthy cluster: exits 0 on `--idle-exit`, output complete with `--header`s
/// added, commits at end; on stderr, one "stopping gracefully" line for its two workers
/// and a summary of what it read, wrote, held and committed, with no librdkafka warnings
/// (consumer keys go to the consumer only) and no colour codes (stderr is not a terminal).
#[test]
fn pipe_command_copies_and_exits_cleanly_when_idle() {
    init_logging();
    let (input, output, group) = (
        unique_name("in"),
        unique_name("out"),
        unique_name("cli-group"),
    );
    let cluster = input_cluster(&input, &output);
    let run = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args([
            "pipe",
            "--brokers",
            &cluster.bootstrap_servers(),
            "--group",
            &group,
        ])
        .args([
            "--input",
            &input,
            "--output",
            &output,
            "--idle-exit",
            "2",
            "--transform",
            "uppercase",
            "--header",
            "written-by=pipe-test",
            "-w",
            "2",
        ])
        .args([
            "--consumer-set",
            "session.timeout.ms=2000",
            "--consumer-set",
            "heartbeat.interval.ms=250",
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("run the pipe");
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stderr}");
    assert!(run.status.success(), "{:?}", run.status);
    let total = PARTITIONS as usize * PER_PARTITION;
    let lines: Vec<&str> = stderr.lines().collect();
    let partitions =
        |f: &dyn Fn(i32) -> String| (0..PARTITIONS).map(f).collect::<Vec<_>>().join(", ");
    let read_written = format!(
        "pipe: read {total} records from `{input}`, wrote {total} to `{output}` (acknowledged), in "
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&read_written)),
        "the summary says what was read and written"
    );
    let held = partitions(&|p| format!("{input}/{p}"));
    let committed_at = partitions(&|p| format!("{input}/{p}@{PER_PARTITION}"));
    assert!(
        lines.contains(&format!("pipe: held {held}; committed {committed_at}").as_str()),
        "the summary says what was held and committed"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("stopping gracefully"))
            .count(),
        1,
        "one stop line per process, not per worker"
    );
    assert!(
        !stderr.contains("CONFWARN"),
        "a setting reached the wrong client"
    );
    assert!(
        !stderr.contains('\x1b'),
        "colour codes in a log that is not a terminal"
    );
    let written = read_topic(&cluster, &output);
    assert_eq!(written.len(), PARTITIONS as usize * PER_PARTITION);
    assert!(written
        .iter()
        .all(|w| w.payload.as_deref().unwrap().starts_with("VALUE ")));
    for w in &written {
        // Input headers kept, then the --header ones.
        assert!(w.header("seq").is_some(), "{w:?}");
        assert_eq!(w.header("written-by"), Some("pipe-test"), "{w:?}");
        assert_eq!(w.headers.last().unwrap().0, "written-by", "{w:?}");
    }
    let committed = committed(&cluster.bootstrap_servers(), &group, &input, PARTITIONS);
    assert!(
        committed.values().all(|c| *c == Some(PER_PARTITION as i64)),
        "{committed:?}"
    );
}
