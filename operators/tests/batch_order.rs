//! Batches keep their order through the plain timely operators after the batcher.
//!
//! timely's operators (`map`, `filter`, `inspect`, ...) take their input grouped by time:
//! the messages that wait for one activation are sorted by timestamp. A batcher fed by
//! several senders can receive a record at an earlier time after one at a later time (one
//! worker's records overtake another's in the exchange); had it emitted the later batch at
//! that earlier time, the next operator would put it first, and with it one partition's
//! later records before their predecessors. So batches leave in time order.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Concat, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely_kafka_operators::{Batch, BatchConfig, BatchOp};

/// A record: `(key, sender, sequence number within the sender)`.
type Record = (u32, usize, u32);

/// What was seen after the batcher.
#[derive(Default)]
struct Seen {
    /// The batches in the order the batcher emitted them, with their time (read in arrival
    /// order, without timely's grouping by time).
    emitted: Vec<(u64, Batch<u32, Record>)>,
    /// The batches in the order a plain `inspect` after the batcher saw them.
    inspected: Vec<Batch<u32, Record>>,
}

/// Runs `senders` inputs, concatenated, through a batcher on one worker; `ops` says what to
/// do, in order: `Send(sender, key)`, `Advance(sender, time)` or `Step`.
fn run(senders: usize, max_size: usize, ops: &[Op]) -> Seen {
    let ops = ops.to_vec();
    timely::execute_directly(move |worker| {
        let seen: Rc<RefCell<Seen>> = Rc::default();
        let (emitted, inspected) = (Rc::clone(&seen), Rc::clone(&seen));
        let mut inputs: Vec<InputHandle<u64, CapacityContainerBuilder<Vec<Record>>>> =
            (0..senders).map(|_| InputHandle::new()).collect();
        let probe = ProbeHandle::new();
        worker.dataflow(|scope| {
            let streams: Vec<_> = inputs
                .iter_mut()
                .map(|input| scope.input_from(input).container::<Vec<Record>>())
                .collect();
            let mut streams = streams.into_iter();
            let first = streams.next().expect("a sender");
            let records = streams.fold(first, |all, next| all.concat(next));
            records
                .batch(
                    BatchConfig::by_key(|(key, _, _): &Record| *key)
                        .max_size(max_size)
                        .timeout(Duration::from_secs(3600)),
                )
                .unary(Pipeline, "Emitted", move |_, _| {
                    move |input, output| {
                        input.for_each(|cap, data| {
                            let time = *cap.stamp().expect_singleton();
                            for batch in data.iter() {
                                emitted.borrow_mut().emitted.push((time, batch.clone()));
                            }
                            output.session(&cap).give_container(data);
                        });
                    }
                })
                .inspect(move |batch: &Batch<u32, Record>| {
                    inspected.borrow_mut().inspected.push(batch.clone())
                })
                .probe_with(&probe);
        });
        let mut sequence = vec![0u32; senders];
        for op in &ops {
            match *op {
                Op::Send(sender, key) => {
                    inputs[sender].send((key, sender, sequence[sender]));
                    sequence[sender] += 1;
                }
                Op::Advance(sender, time) => {
                    let to = time.max(*inputs[sender].time());
                    inputs[sender].advance_to(to);
                }
                Op::Step => {
                    for input in &mut inputs {
                        input.flush();
                    }
                    worker.step();
                }
            }
        }
        drop(inputs);
        while !probe.done() {
            worker.step();
        }
        seen.take()
    })
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Send(usize, u32),
    Advance(usize, u64),
    Step,
}

/// The (sender, sequence) pairs of `batches`, in order.
fn order(batches: &[Batch<u32, Record>]) -> Vec<(usize, u32)> {
    batches
        .iter()
        .flat_map(|b| b.records.iter().map(|(_, s, n)| (*s, *n)))
        .collect()
}

/// The deterministic case behind the coarser-key flake: sender 0 (at time 10) and sender 1
/// (still at time 5) both reach the batcher in one activation, sender 0 first. The first
/// batch holds sender 0's records, the second sender 1's, whose time is earlier.
#[test]
fn a_later_batch_with_an_earlier_record_does_not_overtake() {
    let mut ops = vec![Op::Advance(0, 10), Op::Advance(1, 5)];
    ops.extend((0..3).map(|_| Op::Send(0, 7)));
    ops.extend((0..3).map(|_| Op::Send(1, 7)));
    ops.push(Op::Step);
    let seen = run(2, 3, &ops);
    let expected = vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)];
    let emitted: Vec<Batch<u32, Record>> = seen.emitted.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(order(&emitted), expected, "the batcher's own order");
    assert_eq!(
        order(&seen.inspected),
        expected,
        "the order an operator after the batcher sees: {:?}",
        seen.emitted
    );
    assert!(
        seen.emitted.iter().all(|(time, _)| *time <= 5),
        "no batch leaves after a time of its records: {:?}",
        seen.emitted
    );
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0usize..3, 0u32..3).prop_map(|(s, k)| Op::Send(s, k)),
        2 => (0usize..3, 0u64..40).prop_map(|(s, t)| Op::Advance(s, t)),
        1 => Just(Op::Step),
    ];
    proptest::collection::vec(op, 0..300)
}

proptest! {
    /// Three senders, each sending at non-decreasing times (as a Kafka source worker does),
    /// three keys: every batch leaves no later than its records' times, batches leave in time
    /// order, and an operator after the batcher sees each sender's records of a key in the
    /// order they were sent, for any interleaving of sends, time advances and steps.
    #[test]
    fn each_senders_order_survives_the_operators_after_the_batcher(
        ops in ops(),
        max_size in 1usize..6,
    ) {
        let seen = run(3, max_size, &ops);
        let times: Vec<u64> = seen.emitted.iter().map(|(t, _)| *t).collect();
        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "emitted out of time order: {:?}", times);
        // The time of each record: the time of its sender when it was sent.
        let mut now = [0u64; 3];
        let mut sent_at = std::collections::HashMap::new();
        let mut sequence = [0u32; 3];
        for op in &ops {
            match *op {
                Op::Send(s, _) => { sent_at.insert((s, sequence[s]), now[s]); sequence[s] += 1; }
                Op::Advance(s, t) => now[s] = now[s].max(t),
                Op::Step => {}
            }
        }
        for (time, batch) in &seen.emitted {
            for (_, s, n) in &batch.records {
                prop_assert!(*time <= sent_at[&(*s, *n)], "a batch at {} holds a record sent at {}", time, sent_at[&(*s, *n)]);
            }
        }
        let sent: usize = sequence.iter().map(|n| *n as usize).sum();
        prop_assert_eq!(order(&seen.inspected).len(), sent);
        for key in 0..3u32 {
            for sender in 0..3usize {
                let seqs: Vec<u32> = seen
                    .inspected
                    .iter()
                    .filter(|b| b.key == key)
                    .flat_map(|b| b.records.iter())
                    .filter(|(_, s, _)| *s == sender)
                    .map(|(_, _, n)| *n)
                    .collect();
                prop_assert!(seqs.windows(2).all(|w| w[0] < w[1]), "key {} sender {}: {:?}", key, sender, seqs);
            }
        }
    }
}
