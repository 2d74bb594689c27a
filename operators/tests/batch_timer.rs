//! The batcher's timeout is a timer: a partial batch is flushed with no further input and
//! no frontier movement, once its timeout has passed. How soon after is up to the machine's
//! scheduler; the test allows [`SLACK`], far below what a timer firing late by a multiple of
//! the timeout (or not at all, waiting for the next input) would take.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely_kafka_operators::{BatchConfig, BatchOp};

/// How late after its timeout a flush may come on a loaded machine.
const SLACK: Duration = Duration::from_secs(1);

#[test]
fn a_partial_batch_flushes_on_its_timeout_without_new_input() {
    for timeout_ms in [20u64, 150, 400, 1_500] {
        let timeout = Duration::from_millis(timeout_ms);
        timely::execute_directly(move |worker| {
            let mut input = InputHandle::<u64, _>::new();
            let probe = ProbeHandle::new();
            let seen: Rc<RefCell<Vec<(Instant, usize)>>> = Rc::default();
            let sink = Rc::clone(&seen);
            worker.dataflow(|scope| {
                scope
                    .input_from(&mut input)
                    .container::<Vec<(u32, u32)>>()
                    .batch(
                        BatchConfig::by_key(|(k, _): &(u32, u32)| *k)
                            .max_size(100)
                            .timeout(timeout),
                    )
                    .inspect(move |batch| {
                        sink.borrow_mut()
                            .push((Instant::now(), batch.records.len()))
                    })
                    .probe_with(&probe);
            });
            let sent = Instant::now();
            for i in 0..3 {
                input.send((7, i));
            }
            input.flush();
            // The input stays open at time 0: only the timer can flush the batch. (Parking
            // is bounded so that a batch never flushed fails the test instead of hanging
            // it; stepping runs only operators that were activated.)
            while seen.borrow().is_empty() {
                assert!(sent.elapsed() < timeout + 5 * SLACK, "never flushed");
                worker.step_or_park(Some(Duration::from_millis(50)));
            }
            let (at, len) = seen.borrow()[0];
            let waited = at - sent;
            assert_eq!(len, 3);
            assert!(
                waited >= timeout,
                "flushed after {waited:?}, before the {timeout:?} timeout"
            );
            assert!(
                waited <= timeout + SLACK,
                "flushed after {waited:?}, timeout {timeout:?}"
            );
            assert!(probe.less_equal(&0), "the input frontier did not move");
        });
    }
}

/// `(key, records)` of every batch flushed, in order.
type Flushed = Rc<RefCell<Vec<(u32, Vec<(u32, u32)>)>>>;

#[test]
fn ending_the_input_flushes_every_open_batch() {
    timely::execute_directly(|worker| {
        let mut input = InputHandle::<u64, _>::new();
        let seen: Flushed = Rc::default();
        let sink = Rc::clone(&seen);
        let probe = ProbeHandle::new();
        worker.dataflow(|scope| {
            scope
                .input_from(&mut input)
                .container::<Vec<(u32, u32)>>()
                .batch(
                    BatchConfig::by_key(|(k, _): &(u32, u32)| *k)
                        .max_size(10)
                        .timeout(Duration::from_secs(3600)),
                )
                .inspect(move |batch| sink.borrow_mut().push((batch.key, batch.records.clone())))
                .probe_with(&probe);
        });
        for i in 0..5 {
            input.send((i % 2, i));
        }
        drop(input);
        while !probe.done() {
            worker.step();
        }
        let mut seen = seen.borrow().clone();
        seen.sort();
        assert_eq!(
            seen,
            vec![(0, vec![(0, 0), (0, 2), (0, 4)]), (1, vec![(1, 1), (1, 3)])]
        );
    });
}
