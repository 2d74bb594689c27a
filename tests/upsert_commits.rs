//! `upsert_to_kafka` commits its input only after the view and the output are written
//! (README, "Incremental views"; `timely_kafka::differential`, "Commits follow the view").
//!
//! The output topic's broker is down while the view absorbs the whole input: nothing may
//! be committed then, though the view is complete. Once the broker is back, the commits
//! reach the input's end, and no commit observed on the way ever covers more input than
//! the output holds.

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use differential_dataflow::AsCollection;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::differential::{KafkaCollectionExt, UpsertSinkExt};
use timely_kafka::sink::SinkConfig;
use timely_kafka::testing::{unique_name, TestRecord};
use timely_kafka::KafkaSourceExt;

const PARTITIONS: i32 = 2;
const PER_PARTITION: i64 = 100;
/// How long the view, complete, must go uncommitted while its output cannot be written:
/// many commit intervals (50 ms) and ticks (10 ms).
const WINDOW: Duration = Duration::from_secs(1);

#[test]
fn upsert_to_kafka_commits_input_only_after_view_and_output() {
    init_logging();
    let (input, output, group) = (
        unique_name("view-in"),
        unique_name("view-out"),
        unique_name("view-group"),
    );
    let cluster = Arc::new(split_cluster(&input, &output, PARTITIONS, &group));
    // One distinct key per record, so every input record is one output record.
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..PER_PARTITION).map(move |s| {
            TestRecord::new(format!("v{s}"))
                .partition(p)
                .key(format!("k{p}-{s}"))
        })
    });
    cluster.load(&input, records.collect::<Vec<_>>()).unwrap();
    let total = (i64::from(PARTITIONS) * PER_PARTITION) as usize;
    cluster.mock().broker_down(2).unwrap();

    let bootstrap = cluster.bootstrap_servers();
    let source = config(&bootstrap, &group, &input).build().unwrap();
    let sink = SinkConfig::builder()
        .brokers(&bootstrap)
        .default_topic(&output)
        .build()
        .unwrap();
    let (inside, topic) = (Arc::clone(&cluster), output.clone());
    timely::execute_directly(move |worker| {
        let cluster = inside;
        let output_written = || -> i64 { cluster.end_offsets(&topic).unwrap().values().sum() };
        let (probe, view_probe) = (ProbeHandle::new(), ProbeHandle::new());
        let in_view = Rc::new(Cell::new(0usize));
        let last_tick = Rc::new(Cell::new(0u64));
        let handle = worker.dataflow(|scope| {
            let consumed = scope.kafka_source(&source).unwrap();
            let view = consumed.records.upserts().collection;
            let (count, tick) = (Rc::clone(&in_view), Rc::clone(&last_tick));
            let view = view
                .inner
                .inspect(move |(_, time, diff)| {
                    count.set(count.get() + *diff as usize);
                    tick.set(tick.get().max(*time));
                })
                .probe_with(&view_probe);
            let written = view.as_collection().upsert_to_kafka(&sink).unwrap();
            written.acknowledged.probe_with(&probe);
            consumed.handle.commit_after(&probe);
            consumed.handle
        });
        let control = handle.control();
        let committed_total = || -> i64 {
            control
                .progress()
                .partitions
                .iter()
                .filter_map(|p| p.committed)
                .sum()
        };
        let processed_any = || {
            control
                .progress()
                .partitions
                .iter()
                .any(|p| p.processed.is_some())
        };

        // The view absorbs everything, and its frontier moves past it, with the output down.
        let started = Instant::now();
        while in_view.get() < total || view_probe.less_equal(&(last_tick.get() + 1)) {
            assert!(started.elapsed() < DEADLINE, "the view never caught up");
            worker.step_or_park(Some(Duration::from_millis(10)));
        }
        let complete = Instant::now();
        while complete.elapsed() < WINDOW {
            worker.step_or_park(Some(Duration::from_millis(10)));
            assert!(
                !processed_any() && committed_total() == 0,
                "input processed or committed while its output could not be written: {:?}",
                control.progress().partitions
            );
        }

        // The output comes back: commits follow the acknowledged output, never ahead of it.
        cluster.mock().broker_up(2).unwrap();
        let mut last_seen = 0;
        let started = Instant::now();
        while committed_total() < total as i64 {
            assert!(started.elapsed() < DEADLINE, "the commits never caught up");
            worker.step_or_park(Some(Duration::from_millis(10)));
            let now = committed_total();
            if now != last_seen {
                let written = output_written();
                assert!(
                    written >= now,
                    "{now} input records committed, {written} output records written"
                );
                last_seen = now;
            }
        }
        handle.shutdown();
    });
    let expected: BTreeMap<String, String> = (0..PARTITIONS)
        .flat_map(|p| (0..PER_PARTITION).map(move |s| (format!("k{p}-{s}"), format!("v{s}"))))
        .collect();
    assert_eq!(changelog_state(&read_topic(&cluster, &output)), expected);
    let committed = committed(&bootstrap, &group, &input, PARTITIONS);
    assert!(
        committed.values().all(|c| *c == Some(PER_PARTITION)),
        "{committed:?}"
    );
}
