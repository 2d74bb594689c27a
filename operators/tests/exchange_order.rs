//! Per-key order through the keyed exchange and the plain timely operators after it, with
//! several senders at different times and many messages waiting per activation.
//!
//! timely's operators (`map`, `filter`, `inspect`, ...) take the messages waiting for one
//! activation sorted by time, with an unstable sort. Had the exchange read its input that
//! way, the messages of senders at different times would be sorted, and one sender's own
//! messages at one time shuffled among themselves; had it emitted each message at its own
//! time, the operator after it would do the same. So the exchange reads in arrival order and
//! emits at non-decreasing times.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Concat, Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle, StreamVec};
use timely_kafka_operators::ExchangeByKey;

/// A record: `(key, sender, sequence number within the sender, time it was sent at)`.
type Record = (u32, usize, u32, u64);

/// What one worker saw after the exchange.
#[derive(Default)]
struct Seen {
    /// The records in the order the exchange emitted them, with the time of each (read in
    /// arrival order, without timely's grouping by time).
    emitted: Vec<(u64, Record)>,
    /// The records in the order a plain `inspect` after the exchange saw them.
    inspected: Vec<Record>,
}

/// Exchanges `records` by key, then records what leaves the exchange and what an `inspect`
/// after it sees into `seen`.
fn exchange_and_watch<'scope>(
    records: StreamVec<'scope, u64, Record>,
    seen: impl Fn(Option<u64>, &Record) + 'static,
) -> StreamVec<'scope, u64, Record> {
    let seen = Rc::new(seen);
    let emitted = Rc::clone(&seen);
    records
        .exchange_by_key(|(key, _, _, _)| *key)
        .unary(Pipeline, "Emitted", move |_, _| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let time = *cap.stamp().expect_singleton();
                    for record in data.iter() {
                        emitted(Some(time), record);
                    }
                    output.session(&cap).give_container(data);
                });
            }
        })
        .inspect(move |record| seen(None, record))
}

/// Runs `senders` inputs, concatenated, through the exchange on one worker; `ops` says what
/// to do, in order.
fn run(senders: usize, ops: &[Op]) -> Seen {
    let ops = ops.to_vec();
    timely::execute_directly(move |worker| {
        let seen: Rc<RefCell<Seen>> = Rc::default();
        let sink = Rc::clone(&seen);
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
            exchange_and_watch(records, move |time, record| {
                let mut seen = sink.borrow_mut();
                match time {
                    Some(time) => seen.emitted.push((time, *record)),
                    None => seen.inspected.push(*record),
                }
            })
            .probe_with(&probe);
        });
        let mut sequence = vec![0u32; senders];
        for op in &ops {
            match *op {
                Op::Send(sender, key) => {
                    let now = *inputs[sender].time();
                    inputs[sender].send((key, sender, sequence[sender], now));
                    sequence[sender] += 1;
                }
                Op::Flush(sender) => inputs[sender].flush(),
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
    /// The sender sends one record of the key (buffered until a flush).
    Send(usize, u32),
    /// The sender flushes its buffer: the records sent since form one message.
    Flush(usize),
    /// The sender advances its time (never backwards).
    Advance(usize, u64),
    /// Every sender flushes and the worker steps.
    Step,
}

/// The sequence numbers of each `(key, sender)`, in the order of `records`.
fn by_key_and_sender<'a>(
    records: impl IntoIterator<Item = &'a Record>,
) -> BTreeMap<(u32, usize), Vec<u32>> {
    let mut order: BTreeMap<(u32, usize), Vec<u32>> = BTreeMap::new();
    for (key, sender, seq, _) in records {
        order.entry((*key, *sender)).or_default().push(*seq);
    }
    order
}

/// Each `(key, sender)`'s records are in the order they were sent.
fn in_sent_order(order: &BTreeMap<(u32, usize), Vec<u32>>) -> bool {
    order
        .values()
        .all(|seqs| seqs.windows(2).all(|w| w[0] < w[1]))
}

/// The case that scrambled the exchange: sender 0 (at time 10) and sender 1 (still at time
/// 5) send 40 messages each before the worker steps, so 80 messages at two times wait for
/// the exchange in one activation, and then for the operator after it.
#[test]
fn senders_at_two_times_keep_their_order_through_the_exchange() {
    const MESSAGES: u32 = 40;
    let mut ops = vec![Op::Advance(0, 10), Op::Advance(1, 5)];
    for sender in 0..2 {
        for n in 0..MESSAGES {
            ops.push(Op::Send(sender, n % 2));
            ops.push(Op::Flush(sender));
        }
    }
    ops.push(Op::Step);
    let seen = run(2, &ops);
    let expected: BTreeMap<(u32, usize), Vec<u32>> = (0..2u32)
        .flat_map(|key| (0..2usize).map(move |sender| (key, sender)))
        .map(|(key, sender)| {
            let seqs = (0..MESSAGES).filter(|n| n % 2 == key).collect();
            ((key, sender), seqs)
        })
        .collect();
    let emitted = by_key_and_sender(seen.emitted.iter().map(|(_, r)| r));
    assert_eq!(emitted, expected, "the exchange's own order");
    assert_eq!(
        by_key_and_sender(&seen.inspected),
        expected,
        "the order an operator after the exchange sees"
    );
    assert!(
        seen.emitted.iter().all(|(time, r)| *time <= r.3),
        "no record leaves after its own time: {:?}",
        seen.emitted
    );
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0usize..3, 0u32..3).prop_map(|(s, k)| Op::Send(s, k)),
        4 => (0usize..3).prop_map(Op::Flush),
        2 => (0usize..3, 0u64..40).prop_map(|(s, t)| Op::Advance(s, t)),
        1 => Just(Op::Step),
    ];
    proptest::collection::vec(op, 0..400)
}

proptest! {
    /// Three senders, each at non-decreasing times (as a Kafka source worker is), three keys:
    /// records leave the exchange in time order and no later than their own times, and the
    /// exchange and an operator after it see each sender's records of a key in the order
    /// they were sent, for any interleaving of sends, flushes, time advances and steps.
    #[test]
    fn each_senders_order_survives_the_exchange_and_the_operators_after_it(ops in ops()) {
        let seen = run(3, &ops);
        let sent = ops.iter().filter(|op| matches!(op, Op::Send(..))).count();
        prop_assert_eq!(seen.emitted.len(), sent);
        prop_assert_eq!(seen.inspected.len(), sent);
        let emitted = by_key_and_sender(seen.emitted.iter().map(|(_, r)| r));
        prop_assert!(in_sent_order(&emitted), "the exchange's own order: {:?}", emitted);
        let inspected = by_key_and_sender(&seen.inspected);
        prop_assert!(in_sent_order(&inspected), "after the exchange: {:?}", inspected);
        let times: Vec<u64> = seen.emitted.iter().map(|(t, _)| *t).collect();
        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "emitted out of time order: {:?}", times);
        for (time, record) in &seen.emitted {
            prop_assert!(*time <= record.3, "{:?} sent at {} left at {}", record, record.3, time);
        }
    }
}

/// What every worker saw: per worker, the records leaving the exchange with their time, and
/// the records an `inspect` after it saw.
type SeenByWorker = Arc<Mutex<HashMap<usize, (Vec<(u64, Record)>, Vec<Record>)>>>;

/// `workers` workers, each the only sender of its own keys, at times that differ between
/// workers. Each sends all its records before it first steps, as a busy worker does, so that
/// many messages from several senders at several times wait for the exchange, and after it,
/// in one activation.
fn keyed_order_across_workers(workers: usize) {
    const KEYS: u32 = 16;
    const ROUNDS: u32 = 5;
    const PER_ROUND: u32 = 5_000;
    let seen: SeenByWorker = Arc::default();
    let all = Arc::clone(&seen);
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let mut input: InputHandle<u64, CapacityContainerBuilder<Vec<Record>>> = InputHandle::new();
        let probe = ProbeHandle::new();
        let all = Arc::clone(&all);
        worker.dataflow(|scope| {
            let records = scope.input_from(&mut input).container::<Vec<Record>>();
            exchange_and_watch(records, move |time, record| {
                let mut all = all.lock().unwrap();
                let (emitted, inspected) = all.entry(index).or_default();
                match time {
                    Some(time) => emitted.push((time, *record)),
                    None => inspected.push(*record),
                }
            })
            .probe_with(&probe);
        });
        // Worker w sends the keys k with (k / 4) % peers == w, ahead of worker w + 1 in time.
        // (The low bits of the stable hash of a small integer follow its own low bits: four
        // consecutive keys go to four different workers, so every worker sends to every
        // worker.)
        let mine: Vec<u32> = (0..KEYS)
            .filter(|k| (*k / 4) as usize % peers == index)
            .collect();
        let mut seq = 0;
        for round in 0..ROUNDS {
            input.advance_to(u64::from(round) + 10 * (peers - index) as u64);
            for n in 0..PER_ROUND {
                let key = mine[n as usize % mine.len()];
                input.send((key, index, seq, *input.time()));
                seq += 1;
            }
        }
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());

    let seen = seen.lock().unwrap();
    let mut received = 0;
    for (worker, (emitted, inspected)) in seen.iter() {
        let order = by_key_and_sender(emitted.iter().map(|(_, r)| r));
        assert!(
            in_sent_order(&order),
            "worker {worker}, the exchange: {order:?}"
        );
        let order = by_key_and_sender(inspected);
        assert!(
            in_sent_order(&order),
            "worker {worker}, after it: {order:?}"
        );
        let times: Vec<u64> = emitted.iter().map(|(t, _)| *t).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "worker {worker} emitted out of time order: {times:?}"
        );
        assert!(
            emitted.iter().all(|(time, r)| *time <= r.3),
            "worker {worker}: a record left after its own time"
        );
        assert_eq!(emitted.len(), inspected.len());
        received += inspected.len();
    }
    assert_eq!(received, (workers as u32 * ROUNDS * PER_ROUND) as usize);
}

#[test]
fn keyed_order_across_workers_2w() {
    keyed_order_across_workers(2);
}

#[test]
fn keyed_order_across_workers_4w() {
    keyed_order_across_workers(4);
}
