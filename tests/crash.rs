//! Crash tests (RELIABILITY rows 1 and 15): `timely-kafka pipe` runs in a child process and
//! is SIGKILLed at random points while input keeps arriving, then restarted, many times.
//! The checker ([`timely_kafka::testing::Checker`]) then holds the pipeline to I1–I4 and I6:
//! every input record is in the output, nothing below a commit went unwritten, commits
//! never go backwards, a restart re-writes only records at or above the commit it started
//! from, and within one run each input partition's records are written in order.
//!
//! Each run stamps its output with `pipe --header run=N`, so the checker knows which run (a
//! *segment*) wrote each output record. The second test kills one of
//! two members during the rebalance its start caused; two writers interleave there, so it
//! checks I1–I3 only.
//!
//! The random points come from a seed printed at the start; set `CRASH_SEED` to replay one.

mod common;

use std::process::Child;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use timely_kafka::testing::{unique_name, Checker, EmbeddedCluster, Trace};

const PARTITIONS: i32 = 4;

/// A cluster with an input and an output topic, and a producer writing to the input.
struct Setup {
    cluster: Arc<EmbeddedCluster>,
    bootstrap: String,
    input: String,
    output: String,
    group: String,
    producer: TracedProducer,
}

fn setup(prefix: &str) -> Setup {
    let (input, output, group) = (
        unique_name(&format!("{prefix}-in")),
        unique_name(&format!("{prefix}-out")),
        unique_name(&format!("{prefix}-group")),
    );
    let cluster = Arc::new(EmbeddedCluster::new(1).unwrap());
    cluster.create_topic(&input, PARTITIONS).unwrap();
    cluster.create_topic(&output, PARTITIONS).unwrap();
    let producer = TracedProducer::start(
        Arc::clone(&cluster),
        &input,
        PARTITIONS,
        20,
        Duration::from_millis(10),
        true,
    );
    Setup {
        bootstrap: cluster.bootstrap_servers(),
        cluster,
        input,
        output,
        group,
        producer,
    }
}

/// Kills `child` at once (SIGKILL) and reaps it.
fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Reads the input back into the checker, and the output as observations, each in the
/// segment its `run` header names (`pipe --header run=N`), in output order.
fn check_output(cluster: &EmbeddedCluster, input: &str, output: &str, checker: &mut Checker) {
    for r in read_topic(cluster, input) {
        checker
            .input_payload(r.partition, r.offset, r.payload.unwrap().as_bytes())
            .unwrap();
    }
    let mut written = read_topic(cluster, output);
    written.sort_by_key(|w| (w.partition, w.offset));
    for w in written {
        let segment = w
            .header("run")
            .and_then(|run| run.parse().ok())
            .expect("every output record names its run");
        checker.observe_payload(segment, w.payload.unwrap().as_bytes());
    }
}

/// RELIABILITY row 1 (crash mid-batch, restart) and row 15 (Kafka → Kafka, killed during
/// load): 12 SIGKILLs at random points while a producer keeps writing.
#[test]
fn a_pipe_killed_at_random_points_loses_nothing() {
    init_logging();
    const KILLS: usize = 12;
    let mut random = Random::from_env("CRASH_SEED");
    let Setup {
        cluster,
        bootstrap,
        input,
        output,
        group,
        producer,
    } = setup("crash");

    let mut checker = Checker::new();
    let written = |cluster: &EmbeddedCluster| cluster.end_offsets(&output).unwrap();
    for segment in 0..KILLS {
        let before: i64 = written(&cluster).values().sum();
        let run = segment.to_string();
        let child = pipe_process(
            &bootstrap,
            &group,
            &input,
            &output,
            &["-w", "2", "--header", &format!("run={run}")],
        );
        // Kill only once this run is writing, at a random point after that.
        wait_for("the restarted pipe to write", || {
            written(&cluster).values().sum::<i64>() > before
        });
        thread::sleep(random.millis(0, 1_500));
        kill(child);
        let commits = committed(&bootstrap, &group, &input, PARTITIONS);
        for (partition, offset) in &commits {
            if let Some(offset) = offset {
                checker.committed(*partition, *offset);
            }
        }
        checker.restart(segment as u64 + 1, commits);
    }
    let produced = producer.finish();

    // A last run drains the rest and exits on idle.
    let last_run = format!("run={KILLS}");
    let mut last = pipe_process(
        &bootstrap,
        &group,
        &input,
        &output,
        &["--idle-exit", "10", "--header", &last_run],
    );
    let status = last.wait().unwrap();
    assert!(status.success(), "the last run exits cleanly: {status:?}");
    let commits = committed(&bootstrap, &group, &input, PARTITIONS);
    for (partition, offset) in &commits {
        checker.committed(*partition, offset.expect("a commit after the last run"));
    }
    check_output(&cluster, &input, &output, &mut checker);
    let report = checker.report();
    eprintln!("{KILLS} kills, {produced} records per partition\n{report}");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.input(), produced as usize * PARTITIONS as usize);
    let ends = cluster.end_offsets(&input).unwrap();
    for (partition, end) in ends {
        assert_eq!(commits[&partition], Some(end), "partition {partition}");
    }
}

/// RELIABILITY row 15 (killed during a rebalance): member a runs; member b starts, and one
/// of the two is killed at a random point of the rebalance b's join caused, then
/// restarted. Eight times; then I1 (output ⊇ input), I2 and I3.
#[test]
fn a_pipe_killed_during_rebalances_loses_nothing() {
    init_logging();
    const KILLS: usize = 8;
    let mut random = Random::from_env("CRASH_SEED");
    let Setup {
        cluster,
        bootstrap,
        input,
        output,
        group,
        producer,
    } = setup("crash-rb");

    let mut checker = Checker::new();
    let start = |extra: &[&str]| pipe_process(&bootstrap, &group, &input, &output, extra);
    let mut a = start(&[]);
    for round in 0..KILLS {
        let b = start(&[]);
        // b's join rebalances the group; kill inside that window (the mock holds the
        // rebalance for up to session.timeout.ms = 2 s).
        thread::sleep(random.millis(100, 2_000));
        if round % 2 == 0 {
            kill(b);
        } else {
            kill(std::mem::replace(&mut a, b));
        }
        for (partition, offset) in committed(&bootstrap, &group, &input, PARTITIONS) {
            if let Some(offset) = offset {
                checker.committed(partition, offset);
            }
        }
    }
    let produced = producer.finish();
    kill(a);

    // Its idle exit must outlast the rebalance that waits out the killed members' sessions.
    let mut last = start(&["--idle-exit", "10"]);
    let started = Instant::now();
    let status = last.wait().unwrap();
    assert!(status.success(), "the last run exits cleanly: {status:?}");
    eprintln!("last run took {:?}", started.elapsed());
    let commits = committed(&bootstrap, &group, &input, PARTITIONS);
    for (partition, offset) in &commits {
        checker.committed(*partition, offset.expect("a commit after the last run"));
    }
    // Writers interleave: every output record is its own segment, so order and the
    // source of duplicates are not judged here; loss and commits are.
    for r in read_topic(&cluster, &input) {
        checker
            .input_payload(r.partition, r.offset, r.payload.unwrap().as_bytes())
            .unwrap();
    }
    for (segment, w) in read_topic(&cluster, &output).into_iter().enumerate() {
        let payload = w.payload.unwrap();
        let partition = Trace::parse(payload.as_bytes()).map_or(w.partition, |t| t.partition);
        checker.restart(segment as u64, [(partition, None)]);
        checker.observe_payload(segment as u64, payload.as_bytes());
    }
    let report = checker.report();
    eprintln!("{KILLS} kills during rebalances, {produced} records per partition\n{report}");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.input(), produced as usize * PARTITIONS as usize);
}
