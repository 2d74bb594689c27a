//! `timely-kafka pipe --reject PATTERN --dead-letter-topic T`, run as a user runs it: the
//! binary as a child process against the embedded cluster. The good records reach the
//! output, the rejected ones the dead-letter topic (original key, payload and headers, and
//! headers naming the error and where the record came from), and the group's commits reach
//! the end of the input.

mod common;

use std::collections::BTreeSet;

use common::*;
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};

const PARTITIONS: i32 = 3;
const PER_PARTITION: usize = 50;

#[test]
fn pipe_routes_rejected_records_to_the_dead_letter_topic() {
    init_logging();
    let (input, output, dlq, group) = (
        unique_name("in"),
        unique_name("out"),
        unique_name("dlq"),
        unique_name("g"),
    );
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&input, PARTITIONS).unwrap();
    cluster.create_topic(&output, 2).unwrap();
    cluster.create_topic(&dlq, 1).unwrap();
    let bad = |s: usize| s % 5 == 3;
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..PER_PARTITION).map(move |s| {
            let word = if bad(s) { "bad" } else { "good" };
            TestRecord::new(format!("{word} {p}:{s}"))
                .partition(p)
                .key(format!("key{s}"))
                .header("seq", s.to_string())
        })
    });
    cluster.load(&input, records.collect::<Vec<_>>()).unwrap();
    // The defaults a user gets (session, heartbeat, commit interval), as the README runs it.
    let run = pipe_command(
        &cluster.bootstrap_servers(),
        &group,
        &input,
        &output,
        &[
            "--idle-exit",
            "2",
            "-w",
            "2",
            "--reject",
            "bad",
            "--dead-letter-topic",
            &dlq,
        ],
    )
    .env_remove("RUST_LOG")
    .output()
    .expect("run the pipe");
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stderr}");
    assert!(run.status.success(), "{:?}", run.status);

    let expected = |want_bad: bool| -> BTreeSet<String> {
        (0..PARTITIONS)
            .flat_map(|p| {
                (0..PER_PARTITION)
                    .filter(move |s| bad(*s) == want_bad)
                    .map(move |s| format!("{} {p}:{s}", if want_bad { "bad" } else { "good" }))
            })
            .collect()
    };
    let written = read_topic(&cluster, &output);
    let good: BTreeSet<String> = written.iter().map(|w| w.payload.clone().unwrap()).collect();
    assert_eq!(good.len(), written.len(), "no good record written twice");
    assert_eq!(
        good,
        expected(false),
        "every good record, and only those, in the output"
    );

    let dead = read_topic(&cluster, &dlq);
    let rejected: BTreeSet<String> = dead.iter().map(|w| w.payload.clone().unwrap()).collect();
    assert_eq!(rejected.len(), dead.len(), "no dead letter written twice");
    assert_eq!(
        rejected,
        expected(true),
        "every rejected record in the dead-letter topic"
    );
    for w in &dead {
        let payload = w.payload.as_deref().unwrap();
        let (p, s) = payload["bad ".len()..].split_once(':').unwrap();
        assert_eq!(
            w.key.as_deref(),
            Some(format!("key{s}").as_str()),
            "original key"
        );
        assert_eq!(w.header("seq"), Some(s), "original headers kept");
        assert_eq!(
            w.header("x-dead-letter-error"),
            Some("payload contains \"bad\"")
        );
        assert_eq!(w.header("x-dead-letter-error-kind"), Some("error"));
        assert_eq!(w.header("x-dead-letter-topic"), Some(input.as_str()));
        assert_eq!(w.header("x-dead-letter-partition"), Some(p));
        assert_eq!(
            w.header("x-dead-letter-offset"),
            Some(s),
            "offset = seq in this input"
        );
        assert_eq!(w.header("x-dead-letter-attempts"), Some("1"));
        assert!(
            w.header("x-dead-letter-time")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
    }

    let committed = committed(&cluster.bootstrap_servers(), &group, &input, PARTITIONS);
    for p in 0..PARTITIONS {
        assert_eq!(
            committed[&p],
            Some(PER_PARTITION as i64),
            "partition {p} committed to its end"
        );
    }
}
