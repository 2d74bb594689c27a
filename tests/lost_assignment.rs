//! Lost assignment (RELIABILITY row 5): the group coordinator is unreachable for longer than
//! the session timeout while the partition leader keeps serving records. The member loses its
//! assignment; the commits it attempts meanwhile fail and are not reported as done; once the
//! coordinator returns it rejoins and resumes from what the broker really holds, so nothing
//! is lost. (Row 5's other half, a sink slower than the poll interval, is
//! `backpressure.rs`.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use rdkafka::mocking::MockCoordinator;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::{unique_name, EmbeddedCluster};
use timely_kafka::{KafkaSourceExt, SourceControl, SourceProgress};

const PARTITIONS: i32 = 2;
/// Leads every partition; stays up.
const LEADER: i32 = 1;
/// Coordinates the group; goes down.
const COORDINATOR: i32 = 3;

/// The broker-acknowledged commit per partition, as the source reports it.
fn reported_commits(progress: &SourceProgress) -> BTreeMap<i32, Option<i64>> {
    progress
        .partitions
        .iter()
        .map(|p| (p.topic_partition.partition, p.committed))
        .collect()
}

#[test]
fn a_lost_assignment_counts_no_failed_commit_and_resumes_from_the_broker() {
    init_logging();
    let topic = unique_name("lost");
    let group = unique_name("lost-group");
    let cluster = EmbeddedCluster::new(3).unwrap();
    cluster.create_topic(&topic, PARTITIONS).unwrap();
    {
        let mock = cluster.mock();
        for p in 0..PARTITIONS {
            mock.partition_leader(&topic, p, Some(LEADER)).unwrap();
        }
        mock.coordinator(MockCoordinator::Group(group.clone()), COORDINATOR)
            .unwrap();
    }
    load(&cluster, &topic, PARTITIONS, 0..100);

    let assigned = Arc::new(AtomicUsize::new(0));
    let revoked = Arc::new(AtomicUsize::new(0));
    let config = {
        let (assigned, revoked) = (Arc::clone(&assigned), Arc::clone(&revoked));
        config(&cluster.bootstrap_servers(), &group, &topic)
            // Long enough to process the second load before the session expires.
            .set("session.timeout.ms", "4000")
            .on_assigned(move |_| {
                assigned.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .on_revoked(move |_| {
                revoked.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .build()
            .unwrap()
    };

    // The member: one worker on its own thread, recording (partition, offset) in order.
    let seen: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (control_tx, control_rx) = mpsc::channel::<SourceControl>();
    let member = {
        let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
        thread::spawn(move || {
            timely::execute(timely::Config::thread(), move |worker| {
                let probe = ProbeHandle::new();
                let seen = Arc::clone(&seen);
                let handle = worker.dataflow(|scope| {
                    let source = scope.kafka_source(&config).unwrap();
                    source
                        .records
                        .inspect(move |r| seen.lock().unwrap().push((r.partition, r.offset)))
                        .probe_with(&probe);
                    source.handle.commit_after(&probe);
                    source.handle
                });
                control_tx.send(handle.control()).unwrap();
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
    };
    let control = control_rx.recv().unwrap();
    let commits_at = |offset: i64| {
        let control = control.clone();
        move || {
            reported_commits(&control.progress())
                == (0..PARTITIONS).map(|p| (p, Some(offset))).collect()
        }
    };

    // 1. The first 100 records per partition are processed and committed.
    wait_for("the first commit", commits_at(100));
    assert_eq!(
        committed(&cluster.bootstrap_servers(), &group, &topic, PARTITIONS),
        (0..PARTITIONS).map(|p| (p, Some(100))).collect()
    );

    // 2. The coordinator goes away; the leader keeps serving the next 100 records.
    cluster.mock().broker_down(COORDINATOR).unwrap();
    load(&cluster, &topic, PARTITIONS, 100..200);
    let distinct = || {
        seen.lock()
            .unwrap()
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
    };
    wait_for("the second load to be processed", || {
        distinct().len() == 2 * 100
    });

    // 3. The session expires: the assignment is lost. The commits of offsets 100..200 could
    //    not reach a coordinator, and the source does not claim them.
    wait_for("the assignment to be lost", || {
        revoked.load(Ordering::SeqCst) >= PARTITIONS as usize
    });
    let during = control.progress();
    assert!(
        during.assigned.is_empty(),
        "nothing stays assigned: {during:?}"
    );
    assert_eq!(
        reported_commits(&during),
        (0..PARTITIONS).map(|p| (p, Some(100))).collect(),
        "only the commits the broker acknowledged are reported: {during:?}"
    );

    // 4. The coordinator returns: the member rejoins, re-reads from the broker's commit (100)
    //    and commits everything.
    cluster.mock().broker_up(COORDINATOR).unwrap();
    wait_for("the rejoin", || {
        assigned.load(Ordering::SeqCst) >= 2 * PARTITIONS as usize
    });
    wait_for("the final commit", commits_at(200));
    stop.store(true, Ordering::SeqCst);
    member.join().unwrap();

    assert_eq!(
        committed(&cluster.bootstrap_servers(), &group, &topic, PARTITIONS),
        (0..PARTITIONS).map(|p| (p, Some(200))).collect(),
        "committed == end after the rejoin"
    );
    // No loss, and per partition: 0..200 in order, then the uncommitted 100..200 again.
    let seen = seen.lock().unwrap();
    for p in 0..PARTITIONS {
        let offsets: Vec<i64> = seen
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, o)| *o)
            .collect();
        let expected: Vec<i64> = (0..200).chain(100..200).collect();
        assert_eq!(
            offsets, expected,
            "partition {p}: read once to the loss, then again from the broker's commit"
        );
    }
}
