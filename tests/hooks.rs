//! Lifecycle hooks: one that returns an error stops the source (it drains no further, makes
//! its final commit and closes), and `SourceControl::error()` has the hook's error. Both
//! hooks: `on_assigned` on the first assignment, `on_revoked` when a second member joins.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::unique_name;
use timely_kafka::{Error, KafkaSourceExt, SourceConfig, SourceControl};

/// Runs a source of `config` on one worker, on a thread of its own, until it closes or the
/// [`DEADLINE`] passes; sends its control first. Returns whether it closed by itself.
fn run_until_closed(
    config: SourceConfig,
    controls: mpsc::Sender<SourceControl>,
) -> thread::JoinHandle<bool> {
    thread::spawn(move || {
        timely::execute_directly(move |worker| {
            let probe = ProbeHandle::new();
            let handle = worker.dataflow(|scope| {
                let source = scope.kafka_source(&config).unwrap();
                source.records.probe_with(&probe);
                source.handle.commit_after(&probe);
                source.handle
            });
            controls.send(handle.control()).unwrap();
            let started = Instant::now();
            while !handle.control().is_closed() && started.elapsed() < DEADLINE {
                worker.step_or_park(Some(Duration::from_millis(20)));
            }
            let closed = handle.control().is_closed();
            handle.shutdown();
            closed
        })
    })
}

#[test]
fn a_failing_assigned_hook_stops_the_source_with_its_error() {
    init_logging();
    let topic = unique_name("hook");
    let cluster = loaded_cluster(&topic, 2, 10);
    let config = config(
        &cluster.bootstrap_servers(),
        &unique_name("hook-group"),
        &topic,
    )
    .on_assigned(|a| Err(format!("refusing {}", a.topic_partition).into()))
    .build()
    .unwrap();
    let (tx, rx) = mpsc::channel();
    let member = run_until_closed(config, tx);
    let control = rx.recv().unwrap();
    let closed = member.join().unwrap();
    assert!(closed, "the source stopped by itself after its hook failed");
    let error = control.error().expect("the source has the hook's error");
    assert!(
        matches!(&error, Error::Hook { hook: "on_assigned", topic_partition, .. } if topic_partition.topic() == topic),
        "{error:?}"
    );
    assert!(!error.is_retriable(), "a hook's refusal is fatal");
    let shown = error.to_string();
    assert!(
        shown.contains("refusing") && shown.contains(&topic),
        "{shown}"
    );
}

#[test]
fn a_failing_revoked_hook_stops_the_source_with_its_error() {
    init_logging();
    let topic = unique_name("revoke-hook");
    let group = unique_name("revoke-hook-group");
    let cluster = loaded_cluster(&topic, 2, 10);
    let bootstrap = cluster.bootstrap_servers();
    let config = config(&bootstrap, &group, &topic)
        .on_revoked(|a| Err(format!("keeping {}", a.topic_partition).into()))
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let member = run_until_closed(config, tx);
    let control = rx.recv().unwrap();
    wait_for("a to be assigned", || {
        control.progress().assigned.len() == 2
    });
    assert!(control.error().is_none(), "no hook failed yet");
    // A second member joins: the rebalance revokes a's partitions.
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = spawn_member(
        "b",
        common::config(&bootstrap, &group, &topic).build().unwrap(),
        1,
        Processed::default(),
        Arc::clone(&stop_b),
    );
    let closed = member.join().unwrap();
    stop_b.store(true, Ordering::SeqCst);
    b.join().unwrap();
    assert!(closed, "the source stopped by itself after its hook failed");
    let error = control.error().expect("the source has the hook's error");
    assert!(
        matches!(&error, Error::Hook { hook: "on_revoked", topic_partition, .. } if topic_partition.topic() == topic),
        "{error:?}"
    );
    let shown = error.to_string();
    assert!(
        shown.contains("keeping") && shown.contains(&topic),
        "{shown}"
    );
}
