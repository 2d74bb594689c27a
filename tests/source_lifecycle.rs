//! The source across pauses, revocations and shutdowns: a paused partition handed back is
//! read again, a revoked partition is committed where its drained records end (also when
//! the revoke comes during a shutdown), a source without a commit frontier keeps reading and
//! never commits, and one config builds one source per worker.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::{unique_name, EmbeddedCluster};
use timely_kafka::{
    ClassicAssignor, GroupProtocol, KafkaRecord, KafkaSourceExt, SourceConfig, SourceConfigBuilder,
    SourceControl,
};

const TICK_MS: u64 = 10;

/// Releases nothing.
const HOLD_ALL: u64 = 0;
/// Releases everything.
const RELEASE_ALL: u64 = u64::MAX;

/// One member on a thread of its own whose dataflow holds every record at a valve until
/// the record's tick is released (`release_upto`: ticks at or below it pass), then records
/// `(partition, offset)` of what passed and commits behind it.
struct ValvedMember {
    /// Records that reached the valve.
    read: Arc<AtomicUsize>,
    /// Ticks of the records that reached the valve.
    ticks: Arc<Mutex<BTreeSet<u64>>>,
    /// `(partition, offset)` of every record past the valve, in order.
    passed: Arc<Mutex<Vec<(i32, i64)>>>,
    release_upto: Arc<AtomicU64>,
    /// Partitions revoked from this member, from its hook.
    revoked: Arc<Mutex<Vec<i32>>>,
    control: SourceControl,
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
}

impl ValvedMember {
    fn start(builder: SourceConfigBuilder, release_upto: u64) -> ValvedMember {
        init_logging();
        let revoked: Arc<Mutex<Vec<i32>>> = Arc::default();
        let config = {
            let revoked = Arc::clone(&revoked);
            builder
                .on_revoked(move |_, partition, _| {
                    revoked.lock().unwrap().push(partition);
                    Ok(())
                })
                .build()
                .unwrap()
        };
        let read = Arc::new(AtomicUsize::new(0));
        let ticks: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
        let passed: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
        let release_upto = Arc::new(AtomicU64::new(release_upto));
        let stop = Arc::new(AtomicBool::new(false));
        let (control_tx, control_rx) = mpsc::channel();
        let thread = {
            let (read, ticks, passed, release_upto, stop) = (
                Arc::clone(&read),
                Arc::clone(&ticks),
                Arc::clone(&passed),
                Arc::clone(&release_upto),
                Arc::clone(&stop),
            );
            thread::spawn(move || {
                timely::execute_directly(move |worker| {
                    let probe = ProbeHandle::new();
                    let valve_activator = Rc::new(RefCell::new(None));
                    let handle = worker.dataflow(|scope| {
                        let source = scope.kafka_source(&config).unwrap();
                        let (activator_out, release) =
                            (Rc::clone(&valve_activator), Arc::clone(&release_upto));
                        let (read, ticks, passed) =
                            (Arc::clone(&read), Arc::clone(&ticks), Arc::clone(&passed));
                        source
                            .records
                            .unary_frontier(Pipeline, "Valve", move |_, info| {
                                *activator_out.borrow_mut() =
                                    Some(scope.activator_for(info.address));
                                let mut held: BTreeMap<u64, (Capability<u64>, Vec<KafkaRecord>)> =
                                    BTreeMap::new();
                                move |(input, _), output| {
                                    input.for_each(|cap, data| {
                                        read.fetch_add(data.len(), Ordering::SeqCst);
                                        let tick = *cap.least().expect("a record has a time");
                                        ticks.lock().unwrap().insert(tick);
                                        let entry = held.entry(tick).or_insert_with(|| {
                                            (
                                                cap.retain_least(output.output_index()).unwrap(),
                                                Vec::new(),
                                            )
                                        });
                                        entry.1.append(data);
                                    });
                                    let upto = release.load(Ordering::SeqCst);
                                    while let Some(entry) = held.first_entry() {
                                        if *entry.key() > upto {
                                            break;
                                        }
                                        let (cap, records) = entry.remove();
                                        output.session(&cap).give_iterator(records.into_iter());
                                    }
                                }
                            })
                            .container::<Vec<KafkaRecord>>()
                            .inspect(move |r| passed.lock().unwrap().push((r.partition, r.offset)))
                            .probe_with(&probe);
                        source.handle.commit_after(&probe);
                        source.handle
                    });
                    control_tx.send(handle.control()).unwrap();
                    let mut released = release_upto.load(Ordering::SeqCst);
                    loop {
                        let stopping = stop.load(Ordering::SeqCst);
                        if stopping {
                            release_upto.store(RELEASE_ALL, Ordering::SeqCst);
                            handle.shutdown();
                        }
                        let upto = release_upto.load(Ordering::SeqCst);
                        if upto != released {
                            released = upto;
                            valve_activator.borrow().as_ref().unwrap().activate();
                        }
                        if stopping {
                            break;
                        }
                        worker.step_or_park(Some(Duration::from_millis(20)));
                    }
                });
            })
        };
        let control = control_rx.recv().unwrap();
        ValvedMember {
            read,
            ticks,
            passed,
            release_upto,
            revoked,
            control,
            stop,
            thread,
        }
    }

    fn release_upto(&self, tick: u64) {
        self.release_upto.store(tick, Ordering::SeqCst);
    }

    fn latest_tick(&self) -> u64 {
        self.ticks.lock().unwrap().last().copied().unwrap_or(0)
    }

    fn processed(&self, partition: i32) -> Option<i64> {
        self.control
            .progress()
            .partitions
            .iter()
            .find(|s| s.partition == partition)
            .and_then(|s| s.processed)
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}

/// The current tick of a source with `TICK_MS` ticks.
fn current_tick() -> u64 {
    let now = timely_kafka::clock::wall_clock_ms();
    now - now % TICK_MS
}

/// Loads `seqs` into both partitions once the wall clock has moved past `after`, so the
/// records are read at a later tick than anything read so far.
fn load_after_tick(
    cluster: &EmbeddedCluster,
    topic: &str,
    after: u64,
    seqs: std::ops::Range<usize>,
) {
    wait_for("the clock to pass the last tick read", || {
        current_tick() > after
    });
    load(cluster, topic, 2, seqs);
}

/// Starts member `b` (one worker, cooperative-sticky) on its own thread; returns it, what
/// it processes, and its stop flag.
fn second_member(
    bootstrap: &str,
    group: &str,
    topic: &str,
) -> (thread::JoinHandle<()>, Processed, Arc<AtomicBool>) {
    let seen: Processed = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let member = spawn_member(
        "b",
        cooperative(config(bootstrap, group, topic))
            .build()
            .unwrap(),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop),
    );
    (member, seen, stop)
}

/// Waits until the member that took `partition` has read offset `last`, then returns the
/// offsets below `processed` it read again: records the first owner had processed.
fn reread_after_handoff(seen: &Processed, partition: i32, last: i64, processed: i64) -> Vec<i64> {
    wait_for("the new owner to read the partition it took", || {
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, p, o)| *p == partition && *o == last)
    });
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(_, p, o)| *p == partition && *o < processed)
        .map(|(_, _, o)| *o)
        .collect()
}

fn cooperative(builder: SourceConfigBuilder) -> SourceConfigBuilder {
    builder
        .tick(Duration::from_millis(TICK_MS))
        .group_protocol(GroupProtocol::Classic(ClassicAssignor::CooperativeSticky))
}

/// librdkafka keeps an application's pause of a partition across unassign and assign. A
/// worker pauses its partitions at the in-flight bound; an eager rebalance revokes them
/// while paused, the in-flight records drain during the revoke, and a partition comes back
/// under a new assignment: it must be read again, to its end.
#[test]
fn a_partition_paused_at_the_bound_and_handed_back_is_read_again() {
    const BOUND: u64 = 100;
    const PER_PARTITION: usize = 1_000;
    let topic = unique_name("paused");
    let group = unique_name("paused-group");
    let cluster = loaded_cluster(&topic, 2, PER_PARTITION);
    let bootstrap = cluster.bootstrap_servers();
    let a = ValvedMember::start(
        config(&bootstrap, &group, &topic)
            .tick(Duration::from_millis(TICK_MS))
            .max_in_flight_records(BOUND)
            .max_records_per_activation(16),
        HOLD_ALL,
    );
    // Stalled at the bound with both partitions: both are paused.
    wait_for("a to read up to its bound", || {
        a.read.load(Ordering::SeqCst) >= BOUND as usize && a.control.progress().assigned.len() == 2
    });
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
