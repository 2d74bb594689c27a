//! Backpressure (RELIABILITY rows 5 and 16): a stalled dataflow bounds what the source reads
//! ahead, by records (`max_in_flight_records`) and by bytes (`max_in_flight_bytes`); the
//! member stops reading (and librdkafka stops fetching for it once its queue is full) instead
//! of being evicted; everything flows once processing resumes.
//!
//! The eviction to fear is `max.poll.interval.ms`, not the session: librdkafka heartbeats
//! from a thread of its own, whatever the application does, but leaves the group when the
//! application has not polled the consumer within `max.poll.interval.ms`. The stall here
//! lasts twice that (3 s here); a member evicted meanwhile would see its partitions revoked
//! and assigned again, and read again what it had read.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::source::RECORD_OVERHEAD_BYTES;
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::{KafkaRecord, KafkaSourceExt, SourceConfigBuilder};

const PER_ACTIVATION: usize = 16;
/// The group's rebalance timeout, which a stall must not outlast unnoticed.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3);

#[test]
fn a_stall_bounded_by_records_past_the_poll_interval_keeps_the_member() {
    const BOUND: u64 = 200;
    let read = stall_and_resume("slow-records", 2_000, 10, |builder| {
        builder.max_in_flight_records(BOUND)
    });
    let slack = 2 * PER_ACTIVATION as u64;
    assert!(
        (BOUND..=BOUND + slack).contains(&read.records),
        "read {} records with a bound of {BOUND}",
        read.records
    );
}

#[test]
fn a_stall_bounded_by_bytes_past_the_poll_interval_keeps_the_member() {
    const PAYLOAD: usize = 1_000;
    const BOUND: u64 = 50_000;
    let read = stall_and_resume("slow-bytes", 300, PAYLOAD, |builder| {
        builder.max_in_flight_bytes(BOUND)
    });
    // Keys count too (`k{seq}`, at most 5 bytes here), and every record's overhead.
    let slack = 2 * PER_ACTIVATION as u64 * (PAYLOAD as u64 + 5 + RECORD_OVERHEAD_BYTES);
    assert!(
        (BOUND..=BOUND + slack).contains(&read.bytes),
        "read {} bytes ({} records) with a bound of {BOUND} bytes",
        read.bytes,
        read.records
    );
}

/// What a stalled dataflow had read when the stall ended.
struct Read {
    records: u64,
    bytes: u64,
}

/// Loads `per_partition` records of `payload` bytes into each of 2 partitions, runs a
/// source with `bound` applied whose dataflow holds everything for twice the poll interval,
/// then lets it through. Asserts the member kept its one assignment (no revocation, nothing
/// read twice) and committed everything. Returns what was read during the stall.
fn stall_and_resume(
    name: &str,
    per_partition: usize,
    payload: usize,
    bound: impl FnOnce(SourceConfigBuilder) -> SourceConfigBuilder,
) -> Read {
    init_logging();
    let topic = unique_name(name);
    let group = unique_name(&format!("{name}-group"));
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 2).unwrap();
    let records = (0..2).flat_map(|p| {
        (0..per_partition).map(move |s| {
            let mut body = format!("{p}:{s}:").into_bytes();
            body.resize(payload.max(body.len()), b'.');
            TestRecord::new(body).partition(p).key(format!("k{s}"))
        })
    });
    cluster.load(&topic, records).unwrap();
    let (assigned, revoked) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let config = {
        let (on_assign, on_revoke) = (Arc::clone(&assigned), Arc::clone(&revoked));
        bound(config(&cluster.bootstrap_servers(), &group, &topic))
            .set(
                "max.poll.interval.ms",
                MAX_POLL_INTERVAL.as_millis().to_string(),
            )
            .revoke_drain_timeout(Duration::from_secs(1))
            .max_records_per_activation(PER_ACTIVATION)
            .on_assigned(move |_| {
                on_assign.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .on_revoked(move |_| {
                on_revoke.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .build()
            .unwrap()
    };
    let revoked_in = Arc::clone(&revoked);
    let (read, processed, revoked_before_shutdown) = timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let read = Rc::new(Cell::new((0u64, 0u64)));
        let done: Rc<RefCell<Vec<(i32, i64)>>> = Rc::default();
        let open = Rc::new(Cell::new(false));
        let gate = Rc::new(RefCell::new(None));
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).unwrap();
            let (read_in, open_in, gate_out, done_in) = (
                Rc::clone(&read),
                Rc::clone(&open),
                Rc::clone(&gate),
                Rc::clone(&done),
            );
            source
                .records
                .unary_frontier(Pipeline, "Stall", move |_, info| {
                    *gate_out.borrow_mut() = Some(scope.activator_for(info.address));
                    let mut held: Vec<(Capability<u64>, Vec<KafkaRecord>)> = Vec::new();
                    move |(input, _), output| {
                        input.for_each(|cap, data| {
                            let bytes: usize = data
                                .iter()
                                .map(|r| {
                                    r.payload.as_ref().map_or(0, Vec::len)
                                        + r.key.as_ref().map_or(0, Vec::len)
                                        + RECORD_OVERHEAD_BYTES as usize
                                })
                                .sum();
                            let (records, total) = read_in.get();
                            read_in.set((records + data.len() as u64, total + bytes as u64));
                            held.push((
                                cap.retain_least(output.output_index()).unwrap(),
                                std::mem::take(data),
                            ));
                        });
                        if open_in.get() {
                            for (cap, records) in held.drain(..) {
                                output.session(&cap).give_iterator(records.into_iter());
                            }
                        }
                    }
                })
                .container::<Vec<KafkaRecord>>()
                .inspect(move |r| done_in.borrow_mut().push((r.partition, r.offset)))
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            source.handle
        });
        // Stalled for twice the poll interval, counted from the assignment.
        let started = Instant::now();
        while handle.progress().assigned.len() < 2 {
            assert!(started.elapsed() < DEADLINE, "never assigned");
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        let stalled = Instant::now();
        while stalled.elapsed() < 2 * MAX_POLL_INTERVAL {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        let at_stall_end = read.get();
        // Processing resumes: everything flows and is committed.
        open.set(true);
        gate.borrow().as_ref().unwrap().activate();
        let resumed = Instant::now();
        while done.borrow().len() < 2 * per_partition {
            assert!(
                resumed.elapsed() < DEADLINE,
                "only {} processed after resuming",
                done.borrow().len()
            );
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        // Leaving the group at shutdown revokes them: count before.
        let revoked = revoked_in.load(Ordering::SeqCst);
        handle.shutdown();
        let processed = done.borrow().clone();
        (
            Read {
                records: at_stall_end.0,
                bytes: at_stall_end.1,
            },
            processed,
            revoked,
        )
    });
    assert_eq!(
        (assigned.load(Ordering::SeqCst), revoked_before_shutdown),
        (2, 0),
        "one assignment of both partitions, never revoked: the member was not evicted"
    );
    let distinct: BTreeSet<(i32, i64)> = processed.iter().copied().collect();
    assert_eq!(
        (processed.len(), distinct.len()),
        (2 * per_partition, 2 * per_partition),
        "every record processed once"
    );
    let committed = committed(&cluster.bootstrap_servers(), &group, &topic, 2);
    assert!(
        committed.values().all(|c| *c == Some(per_partition as i64)),
        "{committed:?}"
    );
    read
}

/// A batcher with a long timeout behind a source at its in-flight bound (issue 18): the
/// batcher's open batches hold the frontier at their first record, so a source that waited
/// for the frontier to pass what it read, and for the tick to end, would move one bound's
/// worth per batch timeout (here an hour). The source closes its stamp early and asks the
/// batchers to flush, so a backlog many times the bound flows through, every record once,
/// in order, and is committed. Fails (at the deadline) without either half of that.
#[test]
fn a_long_batch_timeout_behind_the_in_flight_bound_does_not_hold_the_pipeline() {
    use timely_kafka::batching::{by_partition, BatchOp};

    const PARTITIONS: i32 = 2;
    const PER_PARTITION: usize = 200;
    const PAYLOAD: usize = 1_000;
    /// Twenty times smaller than the backlog.
    const BOUND: u64 = 20_000;
    const HOUR: Duration = Duration::from_secs(3_600);
    init_logging();
    let topic = unique_name("bound-batch");
    let group = unique_name("bound-batch-group");
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, PARTITIONS).unwrap();
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..PER_PARTITION).map(move |s| {
            let mut body = format!("{p}:{s}:").into_bytes();
            body.resize(PAYLOAD, b'.');
            TestRecord::new(body).partition(p)
        })
    });
    cluster.load(&topic, records).unwrap();
    let config = config(&cluster.bootstrap_servers(), &group, &topic)
        .tick(HOUR)
        .max_in_flight_bytes(BOUND)
        .build()
        .unwrap();
    let processed = timely::execute_directly(move |worker| {
        let probe = ProbeHandle::new();
        let done: Rc<RefCell<Vec<(i32, i64)>>> = Rc::default();
        let done_in = Rc::clone(&done);
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).unwrap();
            source
                .records
                .batch(by_partition().max_size(1_000).timeout(HOUR))
                .inspect(move |batch| {
                    let mut done = done_in.borrow_mut();
                    done.extend(batch.records.iter().map(|r| (r.partition, r.offset)));
                })
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            source.handle
        });
        let started = Instant::now();
        while done.borrow().len() < PARTITIONS as usize * PER_PARTITION {
            assert!(
                started.elapsed() < DEADLINE,
                "only {} of {} records through the batcher: the in-flight bound waited for \
                 the batch timeout",
                done.borrow().len(),
                PARTITIONS as usize * PER_PARTITION
            );
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        handle.shutdown();
        let processed = done.borrow().clone();
        processed
    });
    for p in 0..PARTITIONS {
        let offsets: Vec<i64> = processed
            .iter()
            .filter(|(partition, _)| *partition == p)
            .map(|(_, offset)| *offset)
            .collect();
        let want: Vec<i64> = (0..PER_PARTITION as i64).collect();
        assert_eq!(offsets, want, "partition {p}: every record once, in order");
    }
    let committed = committed(&cluster.bootstrap_servers(), &group, &topic, PARTITIONS);
    assert!(
        committed.values().all(|c| *c == Some(PER_PARTITION as i64)),
        "{committed:?}"
    );
}
