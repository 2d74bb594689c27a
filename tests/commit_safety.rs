//! Commits follow the frontier, not the reads: records the source has read but the dataflow
//! has not finished must never be committed. Observed directly: commits are read from the
//! broker by a separate client, processed offsets are recorded at the end of the dataflow.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Capability, Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::testing::unique_name;
use timely_kafka::{KafkaRecord, KafkaSourceExt};

/// Offsets of partition 0 at or above this are held back by the gate until it opens.
const HOLD_FROM: i64 = 50;

#[test]
fn commits_never_pass_unprocessed_records() {
    init_logging();
    let topic = unique_name("safety");
    let group = unique_name("safety-group");
    let cluster = timely_kafka::testing::EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 1).unwrap();
    load(&cluster, &topic, 1, 0..HOLD_FROM as usize);
    let bootstrap = cluster.bootstrap_servers();
    let config = config(&bootstrap, &group, &topic)
        .commit_on_frontier_advance()
        .build()
        .unwrap();

    // The second half is loaded from inside the worker, once the first half is committed.
    let loader = std::sync::Mutex::new(cluster);
    let (topic_w, bootstrap_w, group_w) = (topic.clone(), bootstrap.clone(), group.clone());
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let processed: Rc<RefCell<BTreeSet<i64>>> = Rc::default();
        let held = Rc::new(Cell::new(0usize));
        let open = Rc::new(Cell::new(false));
        let (handle, gate) = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).unwrap();
            let (held_in, open_in) = (Rc::clone(&held), Rc::clone(&open));
            let gate = Rc::new(RefCell::new(None));
            let gate_out = Rc::clone(&gate);
            let done = Rc::clone(&processed);
            source
                .records
                .unary_frontier(Pipeline, "Gate", move |_cap, info| {
                    *gate_out.borrow_mut() = Some(scope.activator_for(info.address));
                    let mut stash: Vec<(Capability<u64>, Vec<KafkaRecord>)> = Vec::new();
                    move |(input, _frontier), output| {
                        input.for_each(|cap, data| {
                            let (hold, pass): (Vec<_>, Vec<_>) =
                                data.drain(..).partition(|r| r.offset >= HOLD_FROM);
                            output.session(&cap).give_iterator(pass.into_iter());
                            if !hold.is_empty() {
                                held_in.set(held_in.get() + hold.len());
                                stash
                                    .push((cap.retain_least(output.output_index()).unwrap(), hold));
                            }
                        });
                        if open_in.get() {
                            for (cap, records) in stash.drain(..) {
                                output.session(&cap).give_iterator(records.into_iter());
                            }
                        }
                    }
                })
                .container::<Vec<KafkaRecord>>()
                .inspect(move |r| {
                    done.borrow_mut().insert(r.offset);
                })
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            (source.handle, gate)
        });
        let committed_now = || committed(&bootstrap_w, &group_w, &topic_w, 1)[&0];
        let step_until =
            |worker: &mut timely::worker::Worker, what: &str, cond: &mut dyn FnMut() -> bool| {
                let started = Instant::now();
                while !cond() {
                    assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
                    worker.step_or_park(Some(Duration::from_millis(10)));
                }
            };

        // Phase 1: the first half is processed and committed.
        step_until(worker, "the first half to be committed", &mut || {
            committed_now() == Some(HOLD_FROM)
        });
        assert_eq!(processed.borrow().len(), HOLD_FROM as usize);

        // Phase 2: the second half is read but held unprocessed. Whatever the source does,
        // every commit observed must stay at or below the first unprocessed offset.
        load(
            &loader.lock().unwrap(),
            &topic_w,
            1,
            HOLD_FROM as usize..100,
        );
        step_until(worker, "the gate to hold the second half", &mut || {
            held.get() == 50
        });
        let window = Instant::now();
        while window.elapsed() < Duration::from_millis(500) {
            // 10 commit intervals: a source that committed what it read would show 100 here.
            worker.step_or_park(Some(Duration::from_millis(10)));
            let c = committed_now();
            let first_unprocessed = (0..).find(|o| !processed.borrow().contains(o)).unwrap();
            assert!(
                c.unwrap_or(0) <= first_unprocessed,
                "committed {c:?} passes unprocessed offset {first_unprocessed}"
            );
        }
        assert_eq!(committed_now(), Some(HOLD_FROM));

        // Phase 3: open the gate; everything is processed and committed.
        open.set(true);
        if let Some(gate) = gate.borrow().as_ref() {
            gate.activate();
        }
        step_until(worker, "everything to be committed", &mut || {
            committed_now() == Some(100)
        });
        assert_eq!(processed.borrow().len(), 100);
        handle.shutdown();
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
}
