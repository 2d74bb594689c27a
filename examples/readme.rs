#![cfg_attr(rustfmt, rustfmt_skip)]
//! The README's Rust snippets, compiled: `tests/readme.rs` checks that every ```rust block
//! of the README appears here line for line, so a snippet cannot rot without failing CI.
//! Each function is one snippet; `main` runs none of them (they need a Kafka broker at
//! `localhost:9092`), it only makes the crate an example.

use std::error::Error;
use std::time::Duration;

use serde::Deserialize;
use timely_kafka::SourceConfig;

/// The README's opening snippet: a source whose commits follow a probe.
#[allow(dead_code)]
fn opening() -> Result<(), Box<dyn Error>> {
    use timely::dataflow::operators::{Inspect, Probe};
    use timely::dataflow::ProbeHandle;
    use timely_kafka::{KafkaSourceExt, SourceConfig};

    let config = SourceConfig::builder()
        .brokers("localhost:9092")
        .group_id("orders-audit")
        .topic("orders")
        .build()?;                                   // every setting checked here, errors name the key

    timely::execute_from_args(std::env::args(), move |worker| {
        let probe = ProbeHandle::new();
        worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).expect("join the group");
            source.records
                .inspect(|r| println!("{}: {:?}", r.position(), r.payload_str()))   // orders/3@42: Some("…")
                .probe_with(&probe);
            source.handle.commit_after(&probe);      // commit what has passed the probe
        });
    })?;
    Ok(())
}

/// An order, as `json::<Order>` decodes it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[allow(dead_code)]
struct Order {
    id: u64,
}

/// "Ordered processing, batching, failures".
#[allow(dead_code)]
fn ordered_processing(config: SourceConfig) -> Result<(), Box<dyn Error>> {
    use timely::dataflow::operators::{Inspect, Probe};
    use timely::dataflow::ProbeHandle;
    use timely_kafka::KafkaSourceExt;

    timely::execute_from_args(std::env::args(), move |worker| {
        let probe = ProbeHandle::new();
        worker
            .dataflow(|scope| -> Result<(), timely_kafka::Error> {
                use timely_kafka::batching::{by_partition, BatchOp};
                use timely_kafka::process::{json, FailurePolicy, FailurePolicyExt, ProcessExt};

                let source = scope.kafka_source(&config)?;
                let processed = source.records.process(json::<Order>);        // handle_message: Result per record
                processed.failed                                               // handle_failed: position + error
                    .with_policy(FailurePolicy::Continue, &source.handle)      // or Stop: halt that partition's commits
                    .inspect(|f| eprintln!("dead letter: {f}"))
                    .probe_with(&probe);
                processed.ok
                    .batch(by_partition().max_size(100).timeout(Duration::from_millis(200)))
                    .inspect(|batch| println!("Got batch of {}", batch.records.len()))   // handle_batch
                    .probe_with(&probe);
                source.handle.commit_after(&probe);
                Ok(())
            })
            .expect("build the dataflow");
    })?;
    Ok(())
}

/// "Kafka → Kafka, at-least-once end to end".
#[allow(dead_code)]
fn kafka_to_kafka(config: SourceConfig) -> Result<(), Box<dyn Error>> {
    use timely::dataflow::operators::vec::Map;
    use timely::dataflow::operators::Probe;
    use timely::dataflow::ProbeHandle;
    use timely_kafka::KafkaSourceExt;

    timely::execute_from_args(std::env::args(), move |worker| {
        let probe = ProbeHandle::new();
        worker
            .dataflow(|scope| -> Result<(), Box<dyn Error>> {
                use timely_kafka::sink::{KafkaSinkExt, SinkConfig, SinkRecord};

                let sink = SinkConfig::builder().brokers("localhost:9092").default_topic("orders-enriched").build()?;
                let source = scope.kafka_source(&config)?;
                let produced = source.records
                    .map(|r| SinkRecord::from_record(&r))                     // key, payload, headers, timestamp kept
                    .kafka_sink(&sink)?;
                produced.acknowledged.probe_with(&probe);                      // frontier = durable in the output
                source.handle.commit_after(&probe);                            // input commits follow it
                Ok(())
            })
            .expect("build the dataflow");
    })?;
    Ok(())
}

/// "Security": one typed value for the source and the sink.
#[allow(dead_code)]
fn security() -> Result<(), Box<dyn Error>> {
    use timely_kafka::sink::SinkConfig;

    use timely_kafka::client::{Pem, Sasl, Secret, Security};

    let security = Security::sasl_ssl(Sasl::ScramSha512 {
        username: "orders-pipeline".into(),
        password: Secret::from_env("KAFKA_PASSWORD")?,
    })
    .ca(Pem::File("/etc/kafka/ca.pem".into()));
    let source = SourceConfig::builder().brokers("broker-1.example.com:9093").group_id("g").topic("in")
        .security(security.clone()).build()?;
    let sink = SinkConfig::builder().brokers("broker-1.example.com:9093").default_topic("out")
        .security(security).build()?;
    drop((source, sink));
    Ok(())
}

fn main() {
    println!("the README's snippets compile; they need a broker to run (see README.md)");
}
