//! Per-key order through a keyed exchange and the plain timely operators after it, on 1, 2
//! and 4 workers: each key is sent by one worker in order, as a Kafka partition is.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use timely::dataflow::operators::vec::{Filter, Map};
use timely::dataflow::operators::{Input, Inspect, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely_kafka_operators::ExchangeByKey;

/// Per key, `(worker, sequence number)` in the order the records were seen.
type SeenByKey = Arc<Mutex<BTreeMap<u32, Vec<(usize, u32)>>>>;

fn keyed_order(workers: usize) {
    const KEYS: u32 = 12;
    const PER_KEY: u32 = 2_000;
    let seen: SeenByKey = Arc::default();
    let sink = Arc::clone(&seen);
    timely::execute(timely::Config::process(workers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let mut input = InputHandle::<u64, _>::new();
        let probe = ProbeHandle::new();
        let sink = Arc::clone(&sink);
        worker.dataflow(|scope| {
            scope
                .input_from(&mut input)
                .container::<Vec<(u32, u32)>>()
                .exchange_by_key(|(key, _)| *key)
                .map(|(key, seq)| (key, seq * 2))
                .filter(|(_, doubled)| doubled % 3 != 1)
                .flat_map(|(key, doubled)| Some((key, doubled / 2)))
                .inspect(move |(key, seq)| {
                    sink.lock()
                        .unwrap()
                        .entry(*key)
                        .or_default()
                        .push((index, *seq))
                })
                .probe_with(&probe);
        });
        // Worker w sends the keys k with k % peers == w, interleaved, over many rounds.
        let mine: Vec<u32> = (0..KEYS).filter(|k| *k as usize % peers == index).collect();
        for seq in 0..PER_KEY {
            for key in &mine {
                input.send((*key, seq));
            }
            if seq % 100 == 99 {
                input.advance_to(u64::from(seq));
                worker.step();
            }
        }
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), KEYS as usize);
    for (key, records) in seen.iter() {
        let receivers: std::collections::BTreeSet<usize> =
            records.iter().map(|(w, _)| *w).collect();
        assert_eq!(receivers.len(), 1, "key {key} arrived at {receivers:?}");
        let seqs: Vec<u32> = records.iter().map(|(_, s)| *s).collect();
        let expected: Vec<u32> = (0..PER_KEY).filter(|s| (s * 2) % 3 != 1).collect();
        assert_eq!(seqs, expected, "key {key} out of order");
    }
}

#[test]
fn keyed_order_1w() {
    keyed_order(1);
}

#[test]
fn keyed_order_2w() {
    keyed_order(2);
}

#[test]
fn keyed_order_4w() {
    keyed_order(4);
}
