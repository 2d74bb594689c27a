//! `process_concurrent` on the embedded cluster, with random per-record latencies, transient
//! and permanent failures and hangs (timeouts), retries and a dead-letter topic, on 1 and 2
//! workers and every ordering (RELIABILITY.md row 25):
//!
//! * every record reaches the output or the dead-letter topic exactly once;
//! * order holds per partition or per key, at the handler (one call at a time per lane) and
//!   at the output;
//! * no commit passes a record that has not completed (in flight or under retry): a thread
//!   reads the group's commits while the pipeline runs and checks each against the records
//!   seen leaving the stage;
//! * commits reach the end offsets.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::process::{ConcurrentConfig, ConcurrentExt, Ordering, RetryPolicy, StageError};
use timely_kafka::sink::{DeadLetterExt, SinkConfig};
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::{KafkaRecord, KafkaSourceExt};

const PARTITIONS: i32 = 3;
const KEYS: usize = 3;
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_millis(150);

/// What the handler does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Ok,
    /// Fails (retriably) this many times, then succeeds.
    Transient(u32),
    /// Fails with an error the policy does not retry.
    Permanent,
    /// Never answers: every attempt times out.
    Hang,
}

impl Fate {
    /// Whether the record ends in the output (else in the dead-letter topic), and after how
    /// many attempts.
    fn outcome(self) -> (bool, u32) {
        match self {
            Fate::Ok => (true, 1),
            Fate::Transient(n) if n < ATTEMPTS => (true, n + 1),
            Fate::Transient(_) => (false, ATTEMPTS),
            Fate::Permanent => (false, 1),
            Fate::Hang => (false, ATTEMPTS),
        }
    }
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Ok),
        2 => (1u32..=3).prop_map(Fate::Transient),
        1 => Just(Fate::Permanent),
        1 => Just(Fate::Hang),
    ]
}

#[derive(Debug)]
enum CallError {
    Transient,
    Permanent,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transient => f.write_str("service unavailable"),
            CallError::Permanent => f.write_str("bad request"),
        }
    }
}

/// What the test observes while the pipeline runs.
#[derive(Default)]
struct Observed {
    /// (partition, offset) of each record leaving the stage, in order, per worker.
    ok: Mutex<Vec<(i32, i64, String)>>,
    failed: Mutex<Vec<(i32, i64)>>,
    /// Offsets completed (left the stage) per partition.
    completed: Mutex<BTreeMap<i32, BTreeSet<i64>>>,
    /// Lanes with a handler call running now.
    active: Mutex<BTreeSet<(i32, Option<String>)>>,
    /// Calls started while their lane had one running.
    overlaps: AtomicUsize,
    attempts: Mutex<HashMap<(i32, i64), u32>>,
}

fn key_of(record: &KafkaRecord) -> String {
    String::from_utf8(record.key.clone().unwrap()).unwrap()
}

fn run_case(workers: usize, ordering: Ordering, fates: Vec<(u64, Fate)>, per_partition: usize) {
    init_logging();
    let (input, dlq, group) = (unique_name("in"), unique_name("dlq"), unique_name("g"));
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&input, PARTITIONS).unwrap();
    cluster.create_topic(&dlq, 2).unwrap();
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..per_partition).map(move |s| {
            TestRecord::new(format!("{p}:{s}"))
                .partition(p)
                .key(format!("p{p}k{}", s % KEYS))
        })
    });
    cluster.load(&input, records.collect::<Vec<_>>()).unwrap();
    let total = PARTITIONS as usize * per_partition;
    let bootstrap = cluster.bootstrap_servers();
    let source = config(&bootstrap, &group, &input).build().unwrap();
    let sink = SinkConfig::builder()
        .brokers(&bootstrap)
        .linger(Duration::from_millis(1))
        .build()
        .unwrap();
    let observed = Arc::new(Observed::default());
    let fates = Arc::new(fates);
    let left = Arc::new(AtomicUsize::new(0));
    let running = Arc::new(AtomicBool::new(true));

    // Commits never pass a record that has not left the stage.
    let checker = {
        let (observed, running) = (Arc::clone(&observed), Arc::clone(&running));
        let (bootstrap, group, input) = (bootstrap.clone(), group.clone(), input.clone());
        std::thread::spawn(move || {
            let mut checks = 0;
            while running.load(AtomicOrdering::SeqCst) {
                if let Ok(committed) =
                    timely_kafka::testing::committed_offsets(&bootstrap, &group, &input, PARTITIONS)
                {
                    let completed = observed.completed.lock().unwrap();
                    for (p, c) in committed {
                        let Some(c) = c else { continue };
                        let done = completed
                            .get(&p)
                            .map_or(0, |set| set.iter().take_while(|o| **o < c).count() as i64);
                        assert_eq!(
                            done, c,
                            "partition {p} committed at {c} with a record below it not completed"
                        );
                        checks += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            checks
        })
    };

    let obs = Arc::clone(&observed);
    let dlq_topic = dlq.clone();
    let (fates2, left2) = (Arc::clone(&fates), Arc::clone(&left));
    timely::execute(timely::Config::process(workers), move |worker| {
        let probe = ProbeHandle::new();
        let (observed, fates, left) = (Arc::clone(&obs), Arc::clone(&fates2), Arc::clone(&left2));
        let (handle, dead) = worker.dataflow(|scope| {
            let consumed = scope.kafka_source(&source).unwrap();
            let handler_observed = Arc::clone(&observed);
            let config = ConcurrentConfig::new(8)
                .ordering(ordering)
                .timeout(TIMEOUT)
                .retry(
                    RetryPolicy::exponential(ATTEMPTS)
                        .initial_backoff(Duration::from_millis(5))
                        .max_backoff(Duration::from_millis(20))
                        .retry_if(|e: &CallError| matches!(e, CallError::Transient)),
                );
            let processed = consumed.records.process_concurrent(config, move |record| {
                let observed = Arc::clone(&handler_observed);
                let fates = Arc::clone(&fates);
                async move {
                    let seq: usize = record
                        .payload_str()
                        .unwrap()
                        .split(':')
                        .nth(1)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let (latency, fate) = fates[seq % fates.len()];
                    let lane = match ordering {
                        Ordering::PerPartition => Some((record.partition, None)),
                        Ordering::PerKey => Some((record.partition, Some(key_of(&record)))),
                        Ordering::OrderedResults | Ordering::Unordered => None,
                    };
                    if let Some(lane) = &lane {
                        if !observed.active.lock().unwrap().insert(lane.clone()) {
                            observed.overlaps.fetch_add(1, AtomicOrdering::SeqCst);
                        }
                    }
                    let attempt = {
                        let mut attempts = observed.attempts.lock().unwrap();
                        let n = attempts
                            .entry((record.partition, record.offset))
                            .or_default();
                        *n += 1;
                        *n
                    };
                    let sleep = match fate {
                        Fate::Hang => TIMEOUT * 2,
                        _ => Duration::from_millis(latency),
                    };
                    // The lane is free once this call ends, even by a timeout.
                    struct Leave(Arc<Observed>, Option<(i32, Option<String>)>);
                    impl Drop for Leave {
                        fn drop(&mut self) {
                            if let Some(lane) = &self.1 {
                                self.0.active.lock().unwrap().remove(lane);
                            }
                        }
                    }
                    let _leave = Leave(Arc::clone(&observed), lane);
                    tokio::time::sleep(sleep).await;
                    match fate {
                        Fate::Transient(n) if attempt <= n => Err(CallError::Transient),
                        Fate::Permanent => Err(CallError::Permanent),
                        _ => Ok(record.offset),
                    }
                }
            });
            let (ok_obs, failed_obs) = (Arc::clone(&observed), Arc::clone(&observed));
            let (ok_left, failed_left) = (Arc::clone(&left), Arc::clone(&left));
            processed
                .ok
                .inspect(move |m| {
                    let p = m.position.topic_partition.partition;
                    ok_obs
                        .ok
                        .lock()
                        .unwrap()
                        .push((p, m.position.offset, String::new()));
                    ok_obs
                        .completed
                        .lock()
                        .unwrap()
                        .entry(p)
                        .or_default()
                        .insert(m.position.offset);
                    ok_left.fetch_add(1, AtomicOrdering::SeqCst);
                })
                .probe_with(&probe);
            let dead = processed
                .failed
                .inspect(move |f| {
                    let p = f.position.topic_partition.partition;
                    failed_obs
                        .failed
                        .lock()
                        .unwrap()
                        .push((p, f.position.offset));
                    failed_obs
                        .completed
                        .lock()
                        .unwrap()
                        .entry(p)
                        .or_default()
                        .insert(f.position.offset);
                    failed_left.fetch_add(1, AtomicOrdering::SeqCst);
                })
                .dead_letter(&sink, &dlq_topic)
                .unwrap();
            dead.acknowledged.probe_with(&probe);
            consumed.handle.commit_after(&probe);
            (consumed.handle, dead.handle)
        });
        let started = Instant::now();
        while left.load(AtomicOrdering::SeqCst) < total && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(50)));
        }
        handle.shutdown();
        while !handle.control().is_closed() && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        assert!(dead.error().is_none(), "{:?}", dead.error());
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
    running.store(false, AtomicOrdering::SeqCst);
    let checks = checker.join().unwrap();
    eprintln!("{checks} commit checks");

    // Exactly once: the output and the dead letters partition the input.
    let ok = observed.ok.lock().unwrap().clone();
    let failed = observed.failed.lock().unwrap().clone();
    let mut expected_ok = BTreeSet::new();
    let mut expected_failed = BTreeMap::new();
    for p in 0..PARTITIONS {
        for s in 0..per_partition {
            let (good, attempts) = fates[s % fates.len()].1.outcome();
            if good {
                expected_ok.insert((p, s as i64));
            } else {
                expected_failed.insert((p, s as i64), attempts);
            }
        }
    }
    let ok_set: BTreeSet<_> = ok.iter().map(|(p, o, _)| (*p, *o)).collect();
    assert_eq!(ok_set.len(), ok.len(), "no record emitted twice");
    assert_eq!(
        ok_set, expected_ok,
        "the records that succeed, in the output"
    );
    let written = read_topic(&cluster, &dlq);
    let mut dead_letters = BTreeMap::new();
    for w in &written {
        let p: i32 = w
            .header("x-dead-letter-partition")
            .unwrap()
            .parse()
            .unwrap();
        let o: i64 = w.header("x-dead-letter-offset").unwrap().parse().unwrap();
        let attempts: u32 = w.header("x-dead-letter-attempts").unwrap().parse().unwrap();
        assert_eq!(w.header("x-dead-letter-topic"), Some(input.as_str()));
        assert_eq!(
            w.payload.as_deref(),
            Some(format!("{p}:{o}").as_str()),
            "original payload"
        );
        assert_eq!(
            w.key.as_deref(),
            Some(format!("p{p}k{}", o as usize % KEYS).as_str()),
            "original key"
        );
        let kind = w.header("x-dead-letter-error-kind").unwrap();
        assert!(kind == "handler" || kind == "timeout", "{kind}");
        assert!(
            dead_letters.insert((p, o), attempts).is_none(),
            "dead letter {p}@{o} twice"
        );
    }
    assert_eq!(failed.len(), expected_failed.len());
    assert_eq!(
        dead_letters, expected_failed,
        "the records that fail, in the DLQ, with their attempts"
    );

    // Order: per lane, at the output (successes and failures together, as they left).
    if ordering != Ordering::Unordered {
        if ordering != Ordering::OrderedResults {
            assert_eq!(
                observed.overlaps.load(AtomicOrdering::SeqCst),
                0,
                "one call at a time per lane"
            );
        }
        let mut last: HashMap<(i32, Option<usize>), i64> = HashMap::new();
        for (p, o, _) in &ok {
            let lane = (
                *p,
                (ordering == Ordering::PerKey).then_some(*o as usize % KEYS),
            );
            let previous = last.insert(lane, *o);
            assert!(
                previous.is_none_or(|prev| prev < *o),
                "{lane:?}: {o} after {previous:?}"
            );
        }
    }

    // Commits reach the end.
    let committed = committed(&bootstrap, &group, &input, PARTITIONS);
    for p in 0..PARTITIONS {
        assert_eq!(
            committed[&p],
            Some(per_partition as i64),
            "partition {p} committed to its end"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_record_once_in_order_commits_behind_completions_1w(
        fates in proptest::collection::vec((0u64..30, fate()), 5..12),
        ordering in prop_oneof![Just(Ordering::PerPartition), Just(Ordering::PerKey), Just(Ordering::OrderedResults), Just(Ordering::Unordered)],
    ) {
        run_case(1, ordering, fates, 40);
    }

    #[test]
    fn every_record_once_in_order_commits_behind_completions_2w(
        fates in proptest::collection::vec((0u64..30, fate()), 5..12),
        ordering in prop_oneof![Just(Ordering::PerPartition), Just(Ordering::PerKey), Just(Ordering::OrderedResults), Just(Ordering::Unordered)],
    ) {
        run_case(2, ordering, fates, 40);
    }
}

/// A timed-out record is retried, then dead-lettered with kind `timeout`; the error names
/// the limit.
#[test]
fn stage_error_kinds() {
    let timeout: StageError<CallError> = StageError::TimedOut(TIMEOUT);
    assert_eq!(timeout.kind(), "timeout");
    assert_eq!(timeout.to_string(), "timed out after 150ms");
}

/// Ordered results: one partition's records run at the same time (the first is the slowest,
/// so it finishes last), yet leave in offset order, on each output.
#[test]
fn ordered_results_run_a_partition_concurrently_and_leave_in_offset_order() {
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::operators::Input;
    use timely::dataflow::InputHandle;

    const RECORDS: i64 = 12;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let left: Arc<Mutex<Vec<(i64, bool)>>> = Arc::default();
    let (running_h, most_h, left_ok, left_failed) = (
        Arc::clone(&running),
        Arc::clone(&most),
        Arc::clone(&left),
        Arc::clone(&left),
    );
    timely::execute_directly(move |worker| {
        let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<KafkaRecord>>>::new();
        let probe = ProbeHandle::new();
        worker.dataflow::<u64, _, _>(|scope| {
            let config = ConcurrentConfig::<String>::new(RECORDS as usize)
                .ordering(Ordering::OrderedResults);
            let processed = scope.input_from(&mut input).process_concurrent(config, {
                move |record: Arc<KafkaRecord>| {
                    let (running, most) = (Arc::clone(&running_h), Arc::clone(&most_h));
                    async move {
                        let now = running.fetch_add(1, AtomicOrdering::SeqCst) + 1;
                        most.fetch_max(now, AtomicOrdering::SeqCst);
                        // Earlier offsets wait longer: they finish after later ones.
                        let wait = Duration::from_millis(5 * (RECORDS - record.offset) as u64);
                        tokio::time::sleep(wait).await;
                        running.fetch_sub(1, AtomicOrdering::SeqCst);
                        if record.offset % 5 == 3 {
                            Err(format!("offset {} refused", record.offset))
                        } else {
                            Ok(record.offset)
                        }
                    }
                }
            });
            processed
                .ok
                .inspect(move |m| left_ok.lock().unwrap().push((m.position.offset, true)))
                .probe_with(&probe);
            processed
                .failed
                .inspect(move |f| left_failed.lock().unwrap().push((f.position.offset, false)))
                .probe_with(&probe);
        });
        let topic: Arc<str> = "hot".into();
        for offset in 0..RECORDS {
            input.send(KafkaRecord {
                topic: Arc::clone(&topic),
                partition: 0,
                offset,
                key: None,
                payload: Some(b"x".to_vec()),
                timestamp: timely_kafka::RecordTimestamp::NotAvailable,
                headers: vec![],
            });
        }
        input.close();
        while !probe.done() {
            worker.step_or_park(None);
        }
    });
    // Each output (results, failures) in offset order, every record in the right one.
    let left = left.lock().unwrap().clone();
    for ok in [true, false] {
        let offsets: Vec<i64> = left.iter().filter(|l| l.1 == ok).map(|l| l.0).collect();
        let expected: Vec<i64> = (0..RECORDS).filter(|o| (o % 5 != 3) == ok).collect();
        assert_eq!(offsets, expected, "offset order: {left:?}");
    }
    assert!(
        most.load(AtomicOrdering::SeqCst) > 1,
        "the partition's calls overlapped"
    );
}
