//! Chaos soak (RELIABILITY row 22): for minutes, records keep arriving while members join
//! and leave at random and faults are injected at random (broker kills, leader moves,
//! refused commits and fetches, forced rebalances). Then the faults stop, the last member
//! catches up, and the checker judges everything processed: no loss, no reordering within
//! an ownership, re-reads only above the acknowledged commit, commits never backwards.
//! Injected request errors go to the broker that gets those requests (the group's
//! coordinator, a partition's leader), and the test asserts the members met them all.
//!
//! It is `#[ignore]`d (it runs for minutes). Run it with:
//!
//! ```sh
//! SOAK_SECONDS=300 cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! `SOAK_SEED` replays a run's random choices (printed at the start).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::member::wait_within;
use common::member::{check, Commits, Log, Member};
use common::{config, pending_errors, Random, TracedProducer};
use rdkafka::mocking::MockCoordinator;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use timely_kafka::testing::{unique_name, EmbeddedCluster};

const BROKERS: i32 = 3;
const PARTITIONS: i32 = 6;
/// At most this many members at once (one of them, `a`, stays throughout).
const MAX_MEMBERS: usize = 3;
/// The group's coordinator: it gets the members' commits and heartbeats.
const COORDINATOR: i32 = 1;

/// One random fault; returns its description. `leaders` is each partition's leader, kept
/// up to date.
fn inject(
    cluster: &EmbeddedCluster,
    topic: &str,
    leaders: &mut BTreeMap<i32, i32>,
    random: &mut Random,
) -> String {
    use RDKafkaRespErr::*;
    let broker = 1 + random.below(BROKERS as u64) as i32;
    match random.below(5) {
        0 => {
            // A broker dies for a moment and comes back.
            let down = random.millis(500, 2_500);
            cluster.mock().broker_down(broker).unwrap();
            thread::sleep(down);
            cluster.mock().broker_up(broker).unwrap();
            format!("broker {broker} down for {down:?}")
        }
        1 => {
            let partition = random.below(PARTITIONS as u64) as i32;
            cluster
                .mock()
                .partition_leader(topic, partition, Some(broker))
                .unwrap();
            leaders.insert(partition, broker);
            format!("partition {partition} leader moved to broker {broker}")
        }
        2 => {
            let errors = [
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            ];
            cluster
                .broker_request_errors(COORDINATOR, RDKafkaApiKey::OffsetCommit, &errors)
                .unwrap();
            "the coordinator refuses 3 OffsetCommits".to_owned()
        }
        3 => {
            let errors = [
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            ];
            let partition = random.below(PARTITIONS as u64) as i32;
            let leader = leaders[&partition];
            cluster
                .broker_request_errors(leader, RDKafkaApiKey::Fetch, &errors)
                .unwrap();
            format!("broker {leader}, leader of partition {partition}, refuses 2 Fetches")
        }
        _ => {
            cluster
                .broker_request_errors(
                    COORDINATOR,
                    RDKafkaApiKey::Heartbeat,
                    &[RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS],
                )
                .unwrap();
            "the coordinator forces a rebalance from a heartbeat".to_owned()
        }
    }
}

/// Everything the members processed, as one log: segment numbers made unique per member.
fn merged(logs: Vec<Log>) -> Log {
    let mut all = Log::default();
    for (member, log) in logs.into_iter().enumerate() {
        let base = member as u64 * 1_000_000;
        all.starts.extend(
            log.starts
                .into_iter()
                .map(|(segment, p, bound, at)| (base + segment, p, bound, at)),
        );
        all.observed.extend(
            log.observed
                .into_iter()
                .map(|(segment, p, o)| (base + segment, p, o)),
        );
        all.assigned += log.assigned;
        all.revoked += log.revoked;
    }
    all
}

#[test]
#[ignore = "runs for minutes: SOAK_SECONDS=300 cargo test --release --test soak -- --ignored --nocapture"]
fn chaos_soak_loses_nothing() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut random = Random::from_env("SOAK_SEED");
    let (topic, group) = (unique_name("soak"), unique_name("soak-group"));
    let cluster = Arc::new(EmbeddedCluster::new(BROKERS).unwrap());
    cluster.create_topic(&topic, PARTITIONS).unwrap();
    cluster
        .mock()
        .coordinator(MockCoordinator::Group(group.clone()), COORDINATOR)
        .unwrap();
    let mut leaders: BTreeMap<i32, i32> = (0..PARTITIONS).map(|p| (p, 1 + p % BROKERS)).collect();
    for (p, leader) in &leaders {
        cluster
            .mock()
            .partition_leader(&topic, *p, Some(*leader))
            .unwrap();
    }
    let bootstrap = cluster.bootstrap_servers();
    let member =
        |workers| Member::start(config(&bootstrap, &group, &topic), workers, Duration::ZERO);

    // ~2,000 records per second in all.
    let producer = TracedProducer::start(
        Arc::clone(&cluster),
        &topic,
        PARTITIONS,
        10,
        Duration::from_millis(30),
        false,
    );
    let a = member(2);
    let mut others: Vec<Member> = Vec::new();
    let mut logs: Vec<Log> = Vec::new();
    let mut commits = Commits::new(&cluster, &group, &topic, PARTITIONS);
    let (mut faults, mut joins, mut leaves, mut max_lag) = (0usize, 0usize, 0usize, 0i64);
    let started = Instant::now();
    let mut next_fault = Instant::now() + random.millis(1_000, 3_000);
    let mut next_churn = Instant::now() + random.millis(2_000, 5_000);
    while started.elapsed() < Duration::from_secs(seconds) {
        if Instant::now() >= next_fault {
            let fault = inject(&cluster, &topic, &mut leaders, &mut random);
            eprintln!("[{:>4}s] fault: {fault}", started.elapsed().as_secs());
            faults += 1;
            next_fault = Instant::now() + random.millis(1_000, 3_000);
        }
        if Instant::now() >= next_churn {
            if others.len() < MAX_MEMBERS - 1 && (others.is_empty() || random.below(2) == 0) {
                others.push(member(1));
                joins += 1;
                eprintln!("[{:>4}s] a member joins", started.elapsed().as_secs());
            } else if !others.is_empty() {
                let leaving = others.remove(random.below(others.len() as u64) as usize);
                logs.push(leaving.stop().0);
                leaves += 1;
                eprintln!("[{:>4}s] a member leaves", started.elapsed().as_secs());
            }
            next_churn = Instant::now() + random.millis(2_000, 5_000);
        }
        if commits.poll() {
            let ends = cluster.end_offsets(&topic).unwrap();
            let lag: i64 = ends
                .iter()
                .map(|(p, end)| end - commits.last[p].unwrap_or(0))
                .sum();
            max_lag = max_lag.max(lag);
        }
        thread::sleep(Duration::from_millis(200));
    }

    // Heal: no more faults or churn, no more input; everyone else leaves and `a` catches up.
    let per_partition = producer.finish();
    for leaving in others.drain(..) {
        logs.push(leaving.stop().0);
    }
    let ends = cluster.end_offsets(&topic).unwrap();
    let heal = Instant::now();
    while !commits.caught_up(&a, &ends) {
        assert!(
            heal.elapsed() < Duration::from_secs(60),
            "the group never caught up after the faults stopped: committed {:?}, ends {ends:?}",
            commits.last
        );
        thread::sleep(Duration::from_millis(100));
    }
    let caught_up_in = heal.elapsed();
    // Every injected error reached the member it was meant for (fetch errors: on brokers
    // still leading a partition, which the member keeps fetching from).
    let pending = || {
        let mut pending = pending_errors(&cluster, COORDINATOR, RDKafkaApiKey::OffsetCommit)
            + pending_errors(&cluster, COORDINATOR, RDKafkaApiKey::Heartbeat);
        for leader in leaders.values().collect::<std::collections::BTreeSet<_>>() {
            pending += pending_errors(&cluster, *leader, RDKafkaApiKey::Fetch);
        }
        pending
    };
    wait_within(
        "the member to meet every injected error",
        Duration::from_secs(30),
        || pending() == 0,
    );
    logs.push(a.stop().0);
    let all = merged(logs);
    commits.forget_positions();
    let report = check(&cluster, &topic, &all, &commits, &BTreeMap::new());
    eprintln!(
        "soak: {seconds} s, {} records ({per_partition} per partition), {faults} faults, \
         {joins} joins, {leaves} leaves, {} assignments, {} revocations; \
         max lag {max_lag} records; caught up {caught_up_in:?} after healing\n{report}",
        report.input(),
        all.assigned,
        all.revoked,
    );
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.lost(), 0);
}
