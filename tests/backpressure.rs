//! Backpressure (RELIABILITY row 16): a slow dataflow bounds what the source reads ahead,
//! the member pauses instead of being evicted, and everything flows once processing resumes.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::unique_name;
use timely_kafka::{KafkaRecord, KafkaSourceExt};

#[test]
fn a_stalled_dataflow_bounds_reading_and_resumes() {
    init_logging();
    const BOUND: u64 = 200;
    const PER_ACTIVATION: usize = 16;
    let topic = unique_name("slow");
    let group = unique_name("slow-group");
    let cluster = loaded_cluster(&topic, 2, 2_000);
    let config = config(&cluster.bootstrap_servers(), &group, &topic)
        .max_in_flight_records(BOUND)
        .max_records_per_activation(PER_ACTIVATION)
        .build()
        .unwrap();
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let read = Rc::new(Cell::new(0usize));
        let done = Rc::new(Cell::new(0usize));
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
                            read_in.set(read_in.get() + data.len());
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
                .inspect(move |_| done_in.set(done_in.get() + 1))
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            source.handle
        });
        // Stalled: reading stops near the bound, for well past the session timeout (2 s).
        let stalled = Instant::now();
        while stalled.elapsed() < Duration::from_secs(3) {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        let slack = 2 * PER_ACTIVATION * 2;
        assert!(
            read.get() >= BOUND as usize,
            "read up to the bound: {}",
            read.get()
        );
        assert!(
            read.get() <= BOUND as usize + slack,
            "read {} with a bound of {BOUND}",
            read.get()
        );
        let assigned = handle.progress().assigned.len();
        assert_eq!(
            assigned, 2,
            "still a member with its partitions after stalling"
        );
        // Processing resumes: everything flows and is committed.
        open.set(true);
        gate.borrow().as_ref().unwrap().activate();
        let resumed = Instant::now();
        while done.get() < 4_000 {
            assert!(
                resumed.elapsed() < DEADLINE,
                "only {} processed after resuming",
                done.get()
            );
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        handle.shutdown();
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
    let committed = committed(&cluster.bootstrap_servers(), &group, &topic, 2);
    assert!(
        committed.values().all(|c| *c == Some(2_000)),
        "{committed:?}"
    );
}
