//! How long the source waits for records it has read but the dataflow has not finished, and
//! what it commits when it stops waiting: a lost assignment does not wait (the partitions
//! are someone else's already), a revoke waits at most `revoke_drain_timeout`, a shutdown at
//! most `drain_timeout`, `shutdown_now` not at all. Whenever it stops waiting, it commits
//! only what is processed: the rest is read again. Each member holds its records at a valve
//! that stays shut, so only the timeouts can end the waits.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::valve::*;
use common::*;
use rdkafka::mocking::MockCoordinator;
use timely_kafka::testing::{unique_name, EmbeddedCluster};

/// Loads 100 records into each of the 2 partitions of a new topic, in two halves read at
/// different ticks; starts `a` with `builder`'s settings and lets the first half through
/// its valve. Returns the cluster, the topic and group, and `a`, with 400 records read and
/// 200 processed.
fn half_processed(
    name: &str,
    builder: impl FnOnce(&str, &str, &str) -> timely_kafka::SourceConfigBuilder,
) -> (EmbeddedCluster, String, String, ValvedMember) {
    let topic = unique_name(name);
    let group = unique_name(&format!("{name}-group"));
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 2).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    load(&cluster, &topic, 2, 0..100);
    let a = ValvedMember::start(builder(&bootstrap, &group, &topic), HOLD_ALL);
    wait_for("a to read the first half", || {
        a.read.load(Ordering::SeqCst) == 200
    });
    let first = a.latest_tick();
    load_after_tick(&cluster, &topic, first, 100..200);
    wait_for("a to read the second half", || {
        a.read.load(Ordering::SeqCst) == 400
    });
    a.release_upto(first);
    wait_for("the first half to pass the valve", || {
        a.passed.lock().unwrap().len() == 200
    });
    (cluster, topic, group, a)
}

/// `a`'s shutdown (started by the caller) ends while the second half is still held at its
/// valve, and commits exactly the processed first half.
fn closes_with_the_first_half_committed(
    cluster: &EmbeddedCluster,
    topic: &str,
    group: &str,
    a: ValvedMember,
    why: &str,
) {
    wait_for(why, || a.control.is_closed());
    assert_eq!(
        a.passed.lock().unwrap().len(),
        200,
        "the second half was never processed"
    );
    let committed = committed(&cluster.bootstrap_servers(), group, topic, 2);
    assert_eq!(
        committed,
        (0..2).map(|p| (p, Some(100))).collect(),
        "committed where the processed records end, not where reading did"
    );
    a.stop();
}

/// A shutdown waits for in-flight records at most `drain_timeout`, then commits what is
/// processed and leaves.
#[test]
fn a_shutdown_stops_waiting_at_its_drain_timeout() {
    let (cluster, topic, group, a) = half_processed("drain-timeout", |b, g, t| {
        config(b, g, t)
            .tick(Duration::from_millis(TICK_MS))
            .drain_timeout(Duration::from_secs(1))
    });
    a.control.shutdown();
    closes_with_the_first_half_committed(
        &cluster,
        &topic,
        &group,
        a,
        "the source to close once its 1 s drain timeout passed",
    );
}

/// `shutdown_now` does not wait for in-flight records: with a drain timeout longer than
/// this test's deadline, the source still closes, having committed what is processed.
#[test]
fn shutdown_now_does_not_wait_for_in_flight_records() {
    let (cluster, topic, group, a) = half_processed("shutdown-now", |b, g, t| {
        config(b, g, t)
            .tick(Duration::from_millis(TICK_MS))
            .drain_timeout(Duration::from_secs(3600))
    });
    a.control.shutdown_now();
    closes_with_the_first_half_committed(
        &cluster,
        &topic,
        &group,
        a,
        "the source to close at once on shutdown_now",
    );
}

/// A revoked partition whose records do not finish within `revoke_drain_timeout` is
/// released anyway, committed only where its processed records end: its next owner reads
/// the unfinished records again.
#[test]
fn a_revoke_past_its_drain_timeout_releases_the_partition_uncommitted() {
    let (cluster, topic, group, a) = half_processed("revoke-timeout", |b, g, t| {
        cooperative(config(b, g, t)).revoke_drain_timeout(Duration::from_secs(1))
    });
    wait_for("the first half to be committed", || {
        committed(&cluster.bootstrap_servers(), &group, &topic, 2)
            .values()
            .all(|c| *c == Some(100))
    });
    let (b, seen, stop_b) = second_member(&cluster.bootstrap_servers(), &group, &topic);
    wait_for(
        "a to release a partition once its 1 s revoke drain timeout passed",
        || !a.revoked.lock().unwrap().is_empty(),
    );
    let revoked = a.revoked.lock().unwrap()[0];
    // One more record each, to see where b starts reading the partition it took.
    load(&cluster, &topic, 2, 200..201);
    let reread = reread_after_handoff(&seen, revoked, 200, 200);
    stop_b.store(true, std::sync::atomic::Ordering::SeqCst);
    b.join().unwrap();
    assert_eq!(
        a.passed.lock().unwrap().len(),
        200,
        "a processed nothing past the first half"
    );
    a.stop();
    assert_eq!(
        reread,
        (100..200).collect::<Vec<i64>>(),
        "partition {revoked}: the next owner reads exactly the records a read but never \
         finished"
    );
}

/// A lost assignment (the coordinator unreachable past the session timeout) belongs to
/// another member already: it is released at once, without waiting for its in-flight
/// records (here, a revoke drain timeout longer than the test's deadline), and nothing is
/// committed for it.
#[test]
fn a_lost_assignment_is_released_without_waiting_for_its_records() {
    const COORDINATOR: i32 = 3;
    let topic = unique_name("lost-drain");
    let group = unique_name("lost-drain-group");
    let cluster = EmbeddedCluster::new(3).unwrap();
    cluster.create_topic(&topic, 2).unwrap();
    {
        let mock = cluster.mock();
        for p in 0..2 {
            mock.partition_leader(&topic, p, Some(1)).unwrap();
        }
        mock.coordinator(MockCoordinator::Group(group.clone()), COORDINATOR)
            .unwrap();
    }
    load(&cluster, &topic, 2, 0..50);
    let a = ValvedMember::start(
        config(&cluster.bootstrap_servers(), &group, &topic)
            .tick(Duration::from_millis(TICK_MS))
            .revoke_drain_timeout(Duration::from_secs(120)),
        HOLD_ALL,
    );
    wait_for("a to read everything", || {
        a.read.load(Ordering::SeqCst) == 100
    });
    cluster.mock().broker_down(COORDINATOR).unwrap();
    wait_for(
        "the lost partitions to be released with their records still in flight",
        || a.revoked.lock().unwrap().len() == 2,
    );
    assert!(a.control.progress().assigned.is_empty());
    cluster.mock().broker_up(COORDINATOR).unwrap();
    assert_eq!(
        committed(&cluster.bootstrap_servers(), &group, &topic, 2),
        (0..2).map(|p| (p, None)).collect(),
        "nothing was processed, so nothing is committed"
    );
    a.stop();
}
