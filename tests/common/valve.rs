//! A member whose dataflow holds records at a valve until the test releases their ticks:
//! for tests that need records read but not yet processed (drains, revokes, shutdowns).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::{KafkaRecord, KafkaSourceExt, SourceConfigBuilder, SourceControl};

use timely_kafka::testing::EmbeddedCluster;
use timely_kafka::{ClassicAssignor, GroupProtocol};

use super::{config, init_logging, load, spawn_member, wait_for, Processed};

pub const TICK_MS: u64 = 10;

/// Releases nothing.
pub const HOLD_ALL: u64 = 0;
/// Releases everything.
pub const RELEASE_ALL: u64 = u64::MAX;

/// One member on a thread of its own whose dataflow holds every record at a valve until
/// the record's tick is released (`release_upto`: ticks at or below it pass), then records
/// `(partition, offset)` of what passed and commits behind it.
pub struct ValvedMember {
    /// Records that reached the valve.
    pub read: Arc<AtomicUsize>,
    /// Ticks of the records that reached the valve.
    pub ticks: Arc<Mutex<BTreeSet<u64>>>,
    /// `(partition, offset)` of every record past the valve, in order.
    pub passed: Arc<Mutex<Vec<(i32, i64)>>>,
    pub release_upto: Arc<AtomicU64>,
    /// Partitions assigned to this member, from its hook.
    pub assigned: Arc<Mutex<Vec<i32>>>,
    /// Partitions revoked from this member, from its hook.
    pub revoked: Arc<Mutex<Vec<i32>>>,
    pub control: SourceControl,
    pub stop: Arc<AtomicBool>,
    pub thread: thread::JoinHandle<()>,
}

impl ValvedMember {
    pub fn start(builder: SourceConfigBuilder, release_upto: u64) -> ValvedMember {
        init_logging();
        let assigned: Arc<Mutex<Vec<i32>>> = Arc::default();
        let revoked: Arc<Mutex<Vec<i32>>> = Arc::default();
        let config = {
            let (assigned, revoked) = (Arc::clone(&assigned), Arc::clone(&revoked));
            builder
                .on_assigned(move |a| {
                    let partition = a.topic_partition.partition;
                    assigned.lock().unwrap().push(partition);
                    Ok(())
                })
                .on_revoked(move |a| {
                    let partition = a.topic_partition.partition;
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
            assigned,
            revoked,
            control,
            stop,
            thread,
        }
    }

    pub fn release_upto(&self, tick: u64) {
        self.release_upto.store(tick, Ordering::SeqCst);
    }

    pub fn latest_tick(&self) -> u64 {
        self.ticks.lock().unwrap().last().copied().unwrap_or(0)
    }

    pub fn processed(&self, partition: i32) -> Option<i64> {
        self.control
            .progress()
            .partitions
            .iter()
            .find(|s| s.topic_partition.partition == partition)
            .and_then(|s| s.processed)
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}

/// The current tick of a source with `TICK_MS` ticks.
pub fn current_tick() -> u64 {
    let now = timely_kafka::source::clock::wall_clock_ms();
    now - now % TICK_MS
}

/// Loads `seqs` into both partitions once the wall clock has moved past `after`, so the
/// records are read at a later tick than anything read so far.
pub fn load_after_tick(
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
pub fn second_member(
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
pub fn reread_after_handoff(
    seen: &Processed,
    partition: i32,
    last: i64,
    processed: i64,
) -> Vec<i64> {
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

pub fn cooperative(builder: SourceConfigBuilder) -> SourceConfigBuilder {
    builder
        .tick(Duration::from_millis(TICK_MS))
        .group_protocol(GroupProtocol::Classic(ClassicAssignor::CooperativeSticky))
}
