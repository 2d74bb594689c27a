//! The source across pauses, revocations and shutdowns: a paused partition handed back is
//! read again, a revoked partition is committed where its drained records end (also when
//! the revoke comes during a shutdown), a source without a commit frontier keeps reading and
//! never commits, and one config builds one source per worker.

mod common;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::valve::*;
use common::*;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::{unique_name, EmbeddedCluster};
use timely_kafka::{KafkaSourceExt, SourceConfig};

/// A worker at the in-flight bound stops reading with its partitions read to their end; more
/// records arrive and wait in its queue; an eager rebalance revokes the partitions meanwhile
/// (librdkafka drops what they had fetched and stops forwarding them), the in-flight records
/// drain during the revoke, and a partition comes back under a new assignment: it must be
/// forwarded and read again, to its new end. (Written when the worker paused such
/// partitions, which librdkafka kept paused across the unassign and assign.)
#[test]
fn a_partition_paused_at_the_bound_and_handed_back_is_read_again() {
    const BOUND: u64 = 100;
    const PER_PARTITION: usize = 1_000;
    let topic = unique_name("paused");
    let group = unique_name("paused-group");
    // Both partitions read to their end exactly at the bound.
    let cluster = loaded_cluster(&topic, 2, BOUND as usize / 2);
    let bootstrap = cluster.bootstrap_servers();
    let a = ValvedMember::start(
        config(&bootstrap, &group, &topic)
            .tick(Duration::from_millis(TICK_MS))
            .max_in_flight_records(BOUND)
            .max_records_per_activation(16),
        HOLD_ALL,
    );
    // Stalled at the bound with both partitions at their end: both are paused.
    wait_for("a to read up to its bound", || {
        a.read.load(Ordering::SeqCst) >= BOUND as usize && a.control.progress().assigned.len() == 2
    });
    load(&cluster, &topic, 2, BOUND as usize / 2..PER_PARTITION);
    let before = a.control.progress().generation;
    let seen: Processed = Arc::default();
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = spawn_member(
        "b",
        config(&bootstrap, &group, &topic).build().unwrap(),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop_b),
    );
    // b's join revokes both partitions from a (eager): while they drain, the dataflow
    // finishes its records, so a's in-flight count drops to zero during the revoke.
    wait_for("the revoke to begin", || {
        a.control.progress().generation != before
    });
    a.release_upto(RELEASE_ALL);
    let started = Instant::now();
    loop {
        let committed = committed(&bootstrap, &group, &topic, 2);
        if committed.values().all(|c| *c == Some(PER_PARTITION as i64)) {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "a partition handed back after a pause was never read to its end: committed {committed:?}, \
             a holds {:?}",
            a.control.progress().assigned
        );
        thread::sleep(Duration::from_millis(100));
    }
    stop_b.store(true, Ordering::SeqCst);
    b.join().unwrap();
    a.stop();
}

/// A revoked partition's drain outlasts a periodic commit: that commit is sent (and
/// answered by the broker) while the group thread waits for the drain. When the drain
/// ends, the partition is committed where its records end, so its next owner reads none of
/// them again. Cooperative, so the revoke comes while the group is stable and the broker
/// accepts commits (as Kafka does during an eager rebalance too; librdkafka's mock refuses
/// them while it waits for members to rejoin).
#[test]
fn a_revoked_partition_is_committed_where_its_drained_records_end() {
    let topic = unique_name("drain-commit");
    let group = unique_name("drain-commit-group");
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 2).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    load(&cluster, &topic, 2, 0..100);
    let a = ValvedMember::start(cooperative(config(&bootstrap, &group, &topic)), HOLD_ALL);
    wait_for("a to read the first records", || {
        a.read.load(Ordering::SeqCst) == 200
    });
    let first = a.latest_tick();
    load_after_tick(&cluster, &topic, first, 100..200);
    wait_for("a to read the rest", || {
        a.read.load(Ordering::SeqCst) == 400
    });
    let before = a.control.progress().generation;
    let (b, seen, stop_b) = second_member(&bootstrap, &group, &topic);
    wait_for("the revoke to begin", || {
        a.control.progress().generation != before
    });
    // Half of every partition is done during the drain: a periodic commit sends it.
    a.release_upto(first);
    wait_for("a periodic commit of the first half", || {
        (0..2).all(|p| a.processed(p) == Some(100))
    });
    // The rest is done: the drain ends.
    a.release_upto(RELEASE_ALL);
    wait_for("a to release a partition", || {
        !a.revoked.lock().unwrap().is_empty()
    });
    let revoked = a.revoked.lock().unwrap()[0];
    // One more record each, to see where b starts reading the partition it took.
    load(&cluster, &topic, 2, 200..201);
    let reread = reread_after_handoff(&seen, revoked, 200, 200);
    stop_b.store(true, Ordering::SeqCst);
    b.join().unwrap();
    a.stop();
    assert!(
        reread.is_empty(),
        "partition {revoked}: its next owner read again {} records the first owner processed \
         and drained (from offset {:?})",
        reread.len(),
        reread.first()
    );
}

/// A partition revoked while the member shuts down (and waits for its in-flight records)
/// is committed up to what is processed before it is released.
#[test]
fn a_partition_revoked_during_a_shutdown_is_committed_before_release() {
    let topic = unique_name("shutdown-revoke");
    let group = unique_name("shutdown-revoke-group");
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 2).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    load(&cluster, &topic, 2, 0..100);
    // Commits only at the end: what is processed is committed by the revoke or not at all.
    let a = ValvedMember::start(
        cooperative(config(&bootstrap, &group, &topic))
            .commit_interval(Duration::from_secs(3600))
            .revoke_drain_timeout(Duration::from_secs(2)),
        HOLD_ALL,
    );
    wait_for("a to read the first records", || {
        a.read.load(Ordering::SeqCst) == 200
    });
    let first = a.latest_tick();
    load_after_tick(&cluster, &topic, first, 100..200);
    wait_for("a to read the rest", || {
        a.read.load(Ordering::SeqCst) == 400
    });
    // The first half is processed; the second stays in flight.
    a.release_upto(first);
    wait_for("the first half to pass", || {
        a.passed.lock().unwrap().len() == 200
    });
    a.control.shutdown();
    let (b, seen, stop_b) = second_member(&bootstrap, &group, &topic);
    wait_for("a to release a partition", || {
        !a.revoked.lock().unwrap().is_empty()
    });
    let revoked = a.revoked.lock().unwrap()[0];
    let reread = reread_after_handoff(&seen, revoked, 199, 100);
    stop_b.store(true, Ordering::SeqCst);
    b.join().unwrap();
    a.stop();
    assert!(
        reread.is_empty(),
        "partition {revoked}: its next owner read again {} records processed before the \
         revoke (from offset {:?})",
        reread.len(),
        reread.first()
    );
}

/// Runs a source without `commit_after` until it has read `expected` records (or the
/// deadline); returns how many it read.
fn read_without_commit_frontier(config: SourceConfig, expected: usize) -> usize {
    let read = timely::execute_directly(move |worker| {
        let read = Rc::new(AtomicUsize::new(0));
        let counter = Rc::clone(&read);
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).unwrap();
            source.records.inspect(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            source.handle
        });
        let started = Instant::now();
        while read.load(Ordering::SeqCst) < expected && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        handle.shutdown();
        while !handle.control().is_closed() {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        read.load(Ordering::SeqCst)
    });
    read
}

/// Without a commit frontier the source reads everything, whatever its in-flight bounds,
/// and commits nothing.
#[test]
fn a_source_without_a_commit_frontier_keeps_reading_and_never_commits() {
    init_logging();
    const PER_PARTITION: usize = 1_000;
    let topic = unique_name("no-frontier");
    let cluster = loaded_cluster(&topic, 2, PER_PARTITION);
    let bootstrap = cluster.bootstrap_servers();
    for bound in ["max_in_flight_records", "max_in_flight_bytes"] {
        let group = unique_name("no-frontier-group");
        let builder = config(&bootstrap, &group, &topic);
        let builder = match bound {
            "max_in_flight_records" => builder.max_in_flight_records(100),
            _ => builder.max_in_flight_bytes(1_000),
        };
        let config = builder.max_records_per_activation(16).build().unwrap();
        let read = read_without_commit_frontier(config, 2 * PER_PARTITION);
        assert_eq!(read, 2 * PER_PARTITION, "with {bound}: read everything");
        let committed = committed(&bootstrap, &group, &topic, 2);
        assert!(
            committed.values().all(Option::is_none),
            "with {bound}: nothing committed: {committed:?}"
        );
    }
}

/// Two sources from one config on one worker would read the same partition queues: the
/// second is refused with an error that says so, and the first reads on.
#[test]
fn one_config_builds_one_source_per_worker() {
    init_logging();
    let topic = unique_name("twice");
    let group = unique_name("twice-group");
    let cluster = loaded_cluster(&topic, 2, 10);
    let config = config(&cluster.bootstrap_servers(), &group, &topic)
        .build()
        .unwrap();
    let (refused, read) = timely::execute_directly(move |worker| {
        let read = Rc::new(AtomicUsize::new(0));
        let probe = ProbeHandle::new();
        let counter = Rc::clone(&read);
        let (handle, refused) = worker.dataflow(|scope| {
            let first = scope.kafka_source(&config).expect("the first source");
            // A clone shares the membership, so it counts as the same config.
            let refused = scope.kafka_source(&config.clone()).err();
            first
                .records
                .inspect(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                })
                .probe_with(&probe);
            first.handle.commit_after(&probe);
            (first.handle, refused)
        });
        let started = Instant::now();
        while read.load(Ordering::SeqCst) < 20 && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        handle.shutdown();
        (refused, read.load(Ordering::SeqCst))
    });
    let error = refused.expect("a second source from one config on one worker is refused");
    let message = error.to_string();
    assert!(
        message.contains(&group) && message.contains("worker 0"),
        "the error names the group and the worker: {message}"
    );
    assert_eq!(read, 20, "the first source reads every record");
}
