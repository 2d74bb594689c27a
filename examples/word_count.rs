//! Incremental word counts over a text topic, written to a compacted topic as
//! `word → count` and updated as lines arrive.
//!
//! ```text
//! cargo run --release --example word_count                 # embedded Kafka with sample lines
//! cargo run --release --example word_count -- -w 2
//! cargo run --release --example word_count -- --brokers localhost:9092 --group wc \
//!     --input lines --output word-counts --idle-exit 10
//! ```
//!
//! On your own brokers, create the output topic compacted (`cleanup.policy=compact`): it then
//! keeps each word's latest count. Each line is an insertion into the collection of lines; words are counted with
//! differential's `count`, and every count that changes at a tick is written as an upsert.
//! Input offsets are committed once the counts derived from them are acknowledged.

mod support;

use differential_dataflow::VecCollection;
use timely_kafka::differential::KafkaCollectionExt;
use timely_kafka::testing::{EmbeddedCluster, TestRecord};

const LINES: &[&str] = &[
    "the quick brown fox",
    "jumps over the lazy dog",
    "the dog sleeps",
    "a fox is quick and a dog is lazy",
];

fn sample(cluster: &EmbeddedCluster) -> Result<(), Box<dyn std::error::Error>> {
    let records = LINES
        .iter()
        .enumerate()
        .map(|(i, line)| TestRecord::new(*line).partition(i as i32 % 2));
    cluster.load("lines", records)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let example = support::Example {
        group: "word-count",
        inputs: &[("lines", 2)],
        output: "word-counts",
        shape: "word → count",
        sample,
    };
    support::run(example, |records, _| {
        let words: VecCollection<_, String> = records.insertions().flat_map(|line| {
            let text = line.payload_str().unwrap_or_default().to_lowercase();
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        });
        words
            .count()
            .map(|(word, count)| (word.into_bytes(), count.to_string().into_bytes()))
    })
}
