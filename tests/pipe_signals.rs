//! `timely-kafka pipe` and signals, as users send them (README, "Kafka → Kafka"): the first
//! SIGINT or SIGTERM stops it gracefully (stop fetching, drain, final commit, exit 0); a
//! second one exits at once (status 130).
//!
//! The output topic is led by its own broker, which answers produce requests with retriable
//! errors, so the pipe has deliveries in flight when the signal arrives: the drain has
//! something to wait for, and the test knows the pipe has read records (the broker has met
//! a produce request) without guessing a delay.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;

use common::*;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};

const PARTITIONS: i32 = 4;
const PER_PARTITION: i64 = 200;
/// The broker leading the output topic (see [`split_cluster`]).
const OUTPUT_BROKER: i32 = 2;

/// A split cluster with `PER_PARTITION` records, payload `partition:seq`, in each input
/// partition, whose output broker answers the next `errors` produce requests with a
/// retriable error.
fn cluster(input: &str, output: &str, group: &str, errors: usize) -> EmbeddedCluster {
    let cluster = split_cluster(input, output, PARTITIONS, group);
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..PER_PARTITION).map(move |s| {
            TestRecord::new(format!("{p}:{s}"))
                .partition(p)
                .key(format!("key-{}", s % 7))
        })
    });
    cluster.load(input, records.collect::<Vec<_>>()).unwrap();
    cluster
        .broker_request_errors(
            OUTPUT_BROKER,
            RDKafkaApiKey::Produce,
            &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; errors],
        )
        .unwrap();
    cluster
}

/// Starts the pipe on two workers with `extra` flags; returns it once it has sent a
/// produce request (so it holds records in flight), with its stderr.
fn start_pipe(
    cluster: &EmbeddedCluster,
    (input, output, group): (&str, &str, &str),
    errors: usize,
    extra: &[&str],
) -> (Child, ChildLog) {
    let mut args = vec![
        "-w",
        "2",
        "--consumer-set",
        "session.timeout.ms=2000",
        "--consumer-set",
        "heartbeat.interval.ms=250",
    ];
    args.extend_from_slice(extra);
    let bootstrap = cluster.bootstrap_servers();
    let (mut pipe, log) = spawn_logged(&mut pipe_command(&bootstrap, group, input, output, &args));
    wait_for("the pipe's first produce request", || {
        assert!(pipe.try_wait().unwrap().is_none(), "the pipe exited early");
        pending_errors(cluster, OUTPUT_BROKER, RDKafkaApiKey::Produce) < errors
    });
    (pipe, log)
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    let result = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(result, 0, "kill({}, {signal})", child.id());
}

/// The input offsets, per partition, of the records in `output` (payload `partition:seq`,
/// and seq is the offset in a fresh topic).
fn written(cluster: &EmbeddedCluster, output: &str) -> BTreeMap<i32, BTreeSet<i64>> {
    let mut written: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for w in read_topic(cluster, output) {
        let payload = w.payload.expect("a payload");
        let (p, s) = payload.split_once(':').expect("`partition:seq`");
        written
            .entry(p.parse().unwrap())
            .or_default()
            .insert(s.parse().unwrap());
    }
    written
}

/// SIGINT while deliveries are in flight: the pipe waits for them, commits everything it
/// wrote (and nothing it did not), and exits 0. Commits run every hour here, so only the
/// final commit of the graceful stop can commit anything.
#[test]
fn sigint_drains_commits_what_was_written_and_exits_zero() {
    init_logging();
    let (input, output, group) = (unique_name("in"), unique_name("out"), unique_name("g"));
    let errors = 5;
    let cluster = cluster(&input, &output, &group, errors);
    let bootstrap = cluster.bootstrap_servers();
    let (mut pipe, log) = start_pipe(
        &cluster,
        (&input, &output, &group),
        errors,
        &["--commit-interval-ms", "3600000"],
    );
    signal(&pipe, libc::SIGINT);
    let status = exits_within(&mut pipe, "the pipe after SIGINT", DEADLINE);
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0: {status}");
    log.wait_closed();
    assert!(log.contains("SIGINT (again to exit at once): stopping gracefully"));

    let written = written(&cluster, &output);
    let committed = committed(&bootstrap, &group, &input, PARTITIONS);
    assert!(
        committed.values().any(|c| c.unwrap_or(0) > 0),
        "the final commit committed the drained records: {committed:?}"
    );
    for (partition, c) in committed {
        let c = c.unwrap_or(0);
        let got = written.get(&partition).cloned().unwrap_or_default();
        assert_eq!(
            got,
            (0..c).collect::<BTreeSet<i64>>(),
            "input partition {partition}: written (left) must be exactly what is committed \
             ({c}) after a drain"
        );
    }
}

/// A second signal during the drain exits at once with status 130, even though deliveries
/// are still in flight (the output broker refuses them for minutes), and commits nothing
/// that was not written.
#[test]
fn a_second_signal_exits_at_once() {
    init_logging();
    let (input, output, group) = (unique_name("in"), unique_name("out"), unique_name("g"));
    // Retried with a backoff of up to 1 s each: longer than the delivery timeout (120 s).
    let errors = 1_000;
    let cluster = cluster(&input, &output, &group, errors);
    let (mut pipe, log) = start_pipe(&cluster, (&input, &output, &group), errors, &[]);
    signal(&pipe, libc::SIGTERM);
    log.wait_for_line(
        &mut pipe,
        "SIGTERM (again to exit at once): stopping gracefully",
    );
    assert!(
        pipe.try_wait().unwrap().is_none(),
        "the drain cannot end while the output refuses every write"
    );
    signal(&pipe, libc::SIGINT);
    let status = exits_within(&mut pipe, "the pipe after a second signal", DEADLINE);
    assert_eq!(status.code(), Some(130), "{status}");
    log.wait_closed();
    assert!(log.contains("second signal (SIGINT): exiting now"));
    let committed = committed(&cluster.bootstrap_servers(), &group, &input, PARTITIONS);
    assert!(
        committed.values().all(Option::is_none),
        "nothing was written, so nothing may be committed: {committed:?}"
    );
}
