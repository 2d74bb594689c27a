//! `examples/enrich.rs` run as a user runs it, at its default settings, against an embedded
//! cluster given with `--brokers`: every order ends up exactly once in the enriched topic or
//! the dead-letter topic; the dead-lettered orders are exactly those the example's service
//! fails for good (computed here from the service's rules, as the example's docs state
//! them); dead letters carry the original record and the `x-dead-letter-*` headers; the
//! service saw exactly the requests the retry policy makes; the group's commits reach the
//! end of the input.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use timely_kafka::testing::{unique_name, EmbeddedCluster};

// The example's defaults.
const INPUT: &str = "orders";
const OUTPUT: &str = "orders.enriched";
const DEAD_LETTER: &str = "orders.dlq";
const GROUP: &str = "enrich";
const RECORDS: usize = 5000;
const ATTEMPTS: u32 = 4;
const SEED: u64 = 17;
const FAILURE_RATE: f64 = 0.1;
const PERMANENT_FAILURE_RATE: f64 = 0.02;

/// The service's dice, as `examples/enrich.rs` documents them: FNV-1a over the seed's
/// little-endian bytes and the text, splitmix64's mixer, the top 53 bits in `[0, 1)`.
fn chance(seed: u64, text: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(text.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// What the service's rules make of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Enriched after this many requests.
    Enriched(u32),
    /// Dead-lettered after every attempt failed, the last with this status.
    DeadLettered(u16),
}

/// The fate of the order at `partition`/`offset` of customer `key`: every request for a
/// customer below the permanent rate is answered 500; any other request `n` of a record is
/// answered 503 when its dice fall below the failure rate.
fn fate(partition: i32, offset: i64, key: &str) -> Fate {
    if chance(SEED, key) < PERMANENT_FAILURE_RATE {
        return Fate::DeadLettered(500);
    }
    (1..=ATTEMPTS)
        .find(|n| chance(SEED, &format!("{INPUT}/{partition}@{offset}#{n}")) >= FAILURE_RATE)
        .map_or(Fate::DeadLettered(503), Fate::Enriched)
}

#[test]
fn enrich_example_enriches_retries_and_dead_letters_every_order_once() {
    init_logging();
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(INPUT, 3).unwrap();
    cluster.create_topic(OUTPUT, 3).unwrap();
    cluster.create_topic(DEAD_LETTER, 1).unwrap();

    let mut child = Command::new(example_path("enrich"))
        .args(["--brokers", &cluster.bootstrap_servers()])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    forward_lines(child.id(), child.stderr.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    let printed = std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        for line in &lines {
            eprintln!("[enrich] {line}");
        }
        lines
    });
    let status = exits_within(&mut child, "the enrich example", Duration::from_secs(180));
    let printed = printed.join().unwrap();
    assert!(status.success(), "{status}");

    // The input, as the example loaded it: order id → (partition, offset, key, payload).
    let input = read_topic(&cluster, INPUT);
    assert_eq!(input.len(), RECORDS, "the example loads its default count");
    let mut orders = BTreeMap::new();
    let mut by_position = BTreeMap::new();
    let mut expected = BTreeMap::new();
    for w in &input {
        let key = w.key.clone().expect("orders are keyed by customer");
        let payload: serde_json::Value =
            serde_json::from_str(w.payload.as_deref().unwrap()).unwrap();
        let id = payload["order"].as_u64().unwrap();
        expected.insert(id, fate(w.partition, w.offset, &key));
        by_position.insert((w.partition, w.offset), id);
        assert!(
            orders.insert(id, (w, payload)).is_none(),
            "order {id} twice"
        );
    }
    let dead_ids: BTreeSet<u64> = expected
        .iter()
        .filter(|(_, fate)| matches!(fate, Fate::DeadLettered(_)))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !dead_ids.is_empty() && dead_ids.len() < RECORDS,
        "the defaults dead-letter some orders and enrich the others"
    );

    // Enriched: the order with the profile of its customer, each once.
    let mut enriched = BTreeSet::new();
    for w in read_topic(&cluster, OUTPUT) {
        let mut payload: serde_json::Value =
            serde_json::from_str(w.payload.as_deref().unwrap()).unwrap();
        let profile = payload
            .as_object_mut()
            .unwrap()
            .remove("profile")
            .expect("a profile");
        let id = payload["order"].as_u64().unwrap();
        let (original, order) = &orders[&id];
        assert_eq!(
            &payload, order,
            "order {id}: the original fields, unchanged"
        );
        assert_eq!(w.key, original.key, "order {id}: the original key");
        assert_eq!(
            profile["customer"].as_str(),
            original.key.as_deref(),
            "order {id}: its customer's profile"
        );
        assert!(enriched.insert(id), "order {id} enriched twice");
    }

    // Dead-lettered: the original record, with headers saying why and where from.
    let mut dead = BTreeSet::new();
    for w in read_topic(&cluster, DEAD_LETTER) {
        let partition: i32 = w
            .header("x-dead-letter-partition")
            .unwrap()
            .parse()
            .unwrap();
        let offset: i64 = w.header("x-dead-letter-offset").unwrap().parse().unwrap();
        let id = *by_position
            .get(&(partition, offset))
            .unwrap_or_else(|| panic!("a dead letter for {partition}@{offset}, not an input"));
        let (original, _) = &orders[&id];
        assert_eq!(
            (&w.key, &w.payload),
            (&original.key, &original.payload),
            "order {id}: the original key and payload"
        );
        let Fate::DeadLettered(status) = expected[&id] else {
            panic!("order {id} ({partition}@{offset}) dead-lettered; the service answers it");
        };
        assert_eq!(w.header("x-dead-letter-topic"), Some(INPUT));
        assert_eq!(w.header("x-dead-letter-error-kind"), Some("handler"));
        let error = w.header("x-dead-letter-error").unwrap();
        assert!(
            error.starts_with(&format!("HTTP {status}")),
            "order {id}: {error:?}, expected HTTP {status}"
        );
        assert_eq!(
            w.header("x-dead-letter-attempts"),
            Some(ATTEMPTS.to_string().as_str()),
            "order {id}: retried to the limit"
        );
        assert!(
            w.header("x-dead-letter-time")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                > 0
        );
        assert!(dead.insert(id), "order {id} dead-lettered twice");
    }
    assert_eq!(
        dead, dead_ids,
        "exactly the orders the service fails for good"
    );
    assert!(enriched.is_disjoint(&dead));
    assert_eq!(
        enriched.len() + dead.len(),
        RECORDS,
        "every order enriched or dead-lettered"
    );

    // The service saw every attempt the retry policy made, and no other.
    let requests: u32 = expected
        .values()
        .map(|fate| match fate {
            Fate::Enriched(n) => *n,
            Fate::DeadLettered(_) => ATTEMPTS,
        })
        .sum();
    let summary = format!(
        "{RECORDS} records in, {} enriched out, {} dead-lettered,",
        enriched.len(),
        dead.len()
    );
    assert!(
        printed.iter().any(|line| line.starts_with(&summary)),
        "a summary starting {summary:?}"
    );
    let service = format!(
        "service: {requests} requests ({} retries),",
        requests as usize - RECORDS
    );
    assert!(
        printed.iter().any(|line| line.starts_with(&service)),
        "a line starting {service:?}"
    );

    let ends = cluster.end_offsets(INPUT).unwrap();
    let committed = committed(&cluster.bootstrap_servers(), GROUP, INPUT, 3);
    for (partition, end) in ends {
        assert_eq!(
            committed[&partition],
            Some(end),
            "partition {partition} committed to its end"
        );
    }
}

/// The example started as a user starts it, with `extra` arguments, its output forwarded.
fn enrich_process(bootstrap: &str, extra: &[&str]) -> std::process::Child {
    let mut child = Command::new(example_path("enrich"))
        .args(["--brokers", bootstrap])
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    forward_lines(child.id(), child.stderr.take().unwrap());
    forward_lines(child.id(), child.stdout.take().unwrap());
    child
}

/// Input positions, (partition, offset).
type Positions = BTreeSet<(i32, i64)>;

/// The input positions the output and the dead-letter topic hold a record for: enriched
/// orders by their order id, dead letters by their `x-dead-letter-*` position.
fn handled_positions(
    cluster: &EmbeddedCluster,
    by_order: &BTreeMap<u64, (i32, i64)>,
) -> (Positions, Positions) {
    let enriched = read_topic(cluster, OUTPUT)
        .iter()
        .map(|w| {
            let payload: serde_json::Value =
                serde_json::from_str(w.payload.as_deref().unwrap()).unwrap();
            by_order[&payload["order"].as_u64().unwrap()]
        })
        .collect();
    let dead = read_topic(cluster, DEAD_LETTER)
        .iter()
        .map(|w| {
            let partition = w
                .header("x-dead-letter-partition")
                .unwrap()
                .parse()
                .unwrap();
            let offset = w.header("x-dead-letter-offset").unwrap().parse().unwrap();
            (partition, offset)
        })
        .collect();
    (enriched, dead)
}

/// Issue 17's crash test: the example SIGKILLed at random points while records are in
/// flight and under retry (10 % of calls answered 503 and retried with backoff, 2 % of
/// customers failed for good and retried four times), then restarted in the same group,
/// four times; a last run drains the rest. After every kill, nothing below the group's
/// commit is missing from the output and the dead-letter topic (a commit never passed a
/// record still in flight or under retry); at the end every order is in one of them, each
/// in the one its fate says, and the commits are at the end of the input.
#[test]
fn enrich_example_killed_with_records_in_flight_and_under_retry_loses_nothing() {
    init_logging();
    const KILLS: usize = 4;
    let mut random = Random::from_env("CRASH_SEED");
    // A killed member's partitions move on after its session: 6 s (Kafka's least) instead
    // of the default 45 s, for the test's run time only; what is checked does not depend
    // on it.
    let session = std::env::temp_dir().join(format!("{}.properties", unique_name("session")));
    std::fs::write(
        &session,
        "session.timeout.ms=6000\nheartbeat.interval.ms=500\n",
    )
    .unwrap();
    let session = session.display().to_string();
    // Every run: the shortened session, calls of 500 ms, `records` new orders.
    let run_args = |records: &'static str| {
        vec![
            "--config",
            session.as_str(),
            "--latency-ms",
            "500",
            "--records",
            records,
        ]
    };
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(INPUT, 3).unwrap();
    cluster.create_topic(OUTPUT, 3).unwrap();
    cluster.create_topic(DEAD_LETTER, 1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let handled = |cluster: &EmbeddedCluster| {
        cluster.end_offsets(OUTPUT).unwrap().values().sum::<i64>()
            + cluster
                .end_offsets(DEAD_LETTER)
                .unwrap()
                .values()
                .sum::<i64>()
    };
    for run in 0..KILLS {
        let before = handled(&cluster);
        // The first run loads the orders (enough that no run before the last can finish
        // them); the others only read, as a restarted consumer does.
        // Calls of 500 ms: at any moment dozens of records are in flight, many behind a
        // periodic commit, so a commit that passed a record still in flight would show.
        let records = if run == 0 { "2000" } else { "0" };
        let child = enrich_process(&bootstrap, &run_args(records));
        wait_for("the run to write", || handled(&cluster) > before);
        // Late enough for periodic commits (every second) to have happened in this run.
        std::thread::sleep(random.millis(1_000, 3_500));
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();

        // Nothing the group committed is missing from the outputs.
        let input = read_topic(&cluster, INPUT);
        let by_order: BTreeMap<u64, (i32, i64)> = input
            .iter()
            .map(|w| {
                let payload: serde_json::Value =
                    serde_json::from_str(w.payload.as_deref().unwrap()).unwrap();
                (payload["order"].as_u64().unwrap(), (w.partition, w.offset))
            })
            .collect();
        let (enriched, dead) = handled_positions(&cluster, &by_order);
        let commits = committed(&bootstrap, GROUP, INPUT, 3);
        for w in &input {
            let below = commits[&w.partition].is_some_and(|c| w.offset < c);
            let position = (w.partition, w.offset);
            assert!(
                !below || enriched.contains(&position) || dead.contains(&position),
                "after kill {run}: {}@{} is below the commit {:?} but in neither output",
                w.partition,
                w.offset,
                commits[&w.partition]
            );
        }
    }

    // A last run drains the rest and exits once idle.
    let mut last_args = run_args("0");
    last_args.extend(["--idle-exit", "3"]);
    let mut last = enrich_process(&bootstrap, &last_args);
    let status = exits_within(&mut last, "the last run", Duration::from_secs(180));
    assert!(status.success(), "{status}");

    let input = read_topic(&cluster, INPUT);
    assert!(!input.is_empty(), "the first run loaded orders");
    let mut by_order = BTreeMap::new();
    let mut fates = BTreeMap::new();
    for w in &input {
        let payload: serde_json::Value =
            serde_json::from_str(w.payload.as_deref().unwrap()).unwrap();
        by_order.insert(payload["order"].as_u64().unwrap(), (w.partition, w.offset));
        let fate = fate(w.partition, w.offset, w.key.as_deref().unwrap());
        fates.insert((w.partition, w.offset), fate);
    }
    let (enriched, dead) = handled_positions(&cluster, &by_order);
    for (position, fate) in &fates {
        match fate {
            Fate::Enriched(_) => assert!(
                enriched.contains(position) && !dead.contains(position),
                "{position:?} must be enriched (and never dead-lettered)"
            ),
            Fate::DeadLettered(_) => assert!(
                dead.contains(position) && !enriched.contains(position),
                "{position:?} must be dead-lettered (and never enriched)"
            ),
        }
    }
    let ends = cluster.end_offsets(INPUT).unwrap();
    let commits = committed(&bootstrap, GROUP, INPUT, 3);
    for (partition, end) in ends {
        assert_eq!(commits[&partition], Some(end), "partition {partition}");
    }
}
