//! A sink waiting for room in a full producer queue gives up when the source it feeds is
//! shut down now, so `shutdown_now` is not held up by an unreachable broker.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use rdkafka::mocking::MockCoordinator;
use timely::dataflow::operators::{Probe, ToStream};
use timely::dataflow::ProbeHandle;
use timely_kafka::sink::{KafkaSinkExt, SinkConfig, SinkRecord};
use timely_kafka::testing::{unique_name, EmbeddedCluster};
use timely_kafka::{KafkaSourceExt, SinkError};

/// The output topic's leader is down, so nothing is delivered and the producer's queue
/// (5 records) fills; the sink waits for room with 45 records still to send. `shutdown_now`
/// on the source must end that wait long before the delivery timeout (120 s), leaving the
/// unsent records' tick held and the error saying why they were not sent.
#[test]
fn shutdown_now_ends_a_wait_for_room_in_the_producer_queue() {
    init_logging();
    let cluster = EmbeddedCluster::new(2).unwrap();
    let (input, output) = (unique_name("stop-in"), unique_name("stop-out"));
    let group = unique_name("stop-group");
    cluster.create_topic(&input, 1).unwrap();
    cluster.create_topic(&output, 1).unwrap();
    let mock = cluster.mock();
    mock.partition_leader(&input, 0, Some(1)).unwrap();
    mock.partition_leader(&output, 0, Some(2)).unwrap();
    mock.coordinator(MockCoordinator::Group(group.clone()), 1)
        .unwrap();
    mock.broker_down(2).unwrap();
    let source = config(&cluster.bootstrap_servers(), &group, &input)
        .build()
        .unwrap();
    let sink = SinkConfig::builder()
        .brokers(cluster.bootstrap_servers())
        .default_topic(&output)
        .queue_max_messages(5)
        .build()
        .unwrap();
    let (handles_tx, handles_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let error = timely::execute_directly(move |worker| {
            let probe = ProbeHandle::new();
            let dataflow = worker.next_dataflow_index();
            let (control, sink_handle) = worker.dataflow::<u64, _, _>(|scope| {
                let consumed = scope.kafka_source(&source).unwrap();
                let records: Vec<SinkRecord> = (0..50)
                    .map(|i| SinkRecord::new(format!("r{i}")).key(format!("k{i}")))
                    .collect();
                let produced = records
                    .to_stream(scope)
                    .container::<Vec<_>>()
                    .kafka_sink(&sink)
                    .unwrap();
                produced.handle.stop_with(&consumed.handle.control());
                produced.acknowledged.probe_with(&probe);
                consumed.handle.commit_after(&probe);
                (consumed.handle.control(), produced.handle)
            });
            handles_tx
                .send((control.clone(), sink_handle.clone()))
                .unwrap();
            while !control.is_closed() {
                worker.step_or_park(Some(Duration::from_millis(20)));
            }
            let error = sink_handle.error();
            // The sink holds the unsent records' tick: drop the dataflow to finish.
            worker.drop_dataflow(dataflow);
            error
        });
        let _ = done_tx.send(error);
    });
    let (control, sink_handle) = handles_rx.recv().unwrap();
    wait_for("the sink to take the records", || {
        sink_handle.in_flight() == 50
    });
    control.shutdown_now();
    let error = done_rx.recv_timeout(Duration::from_secs(20));
    cluster.mock().broker_up(2).unwrap();
    let error = error.expect("the worker finished soon after shutdown_now");
    match error {
        Some(SinkError::Stopped { topic, .. }) => assert_eq!(topic, output),
        other => panic!("expected the sink to report the records it did not send: {other:?}"),
    }
}
