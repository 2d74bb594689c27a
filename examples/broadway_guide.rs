//! The pipeline from Broadway's Kafka guide, on timely dataflow.
//!
//! Numbers go into a 3-partition topic `test` (number `i` into partition `i % 3`). The
//! pipeline reads them as a consumer group, pairs each with its double (`handle_message`),
//! batches them per partition, 100 at a time or after 200 ms (`batch_size`,
//! `batch_timeout`), and prints each batch (`handle_batch`). Offsets are committed once the
//! batches are handled.
//!
//! ```text
//! cargo run --release --example broadway_guide               # embedded Kafka, 1 worker
//! cargo run --release --example broadway_guide -- -w 3       # 3 workers, one per partition
//! cargo run --release --example broadway_guide -- --brokers localhost:9092
//! ```
//!
//! With no `--brokers`, it starts librdkafka's mock cluster in-process, so it runs offline.

#[path = "support/setup.rs"]
mod setup;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use timely::dataflow::operators::{Inspect, Probe};

use timely::dataflow::ProbeHandle;
use timely_kafka::batching::{by_partition, BatchOp};
use timely_kafka::client::ClientProperties;
use timely_kafka::process::{utf8, ProcessExt};
use timely_kafka::testing::{load_into_with, TestRecord};
use timely_kafka::timely_args::TimelyArgs;
use timely_kafka::{KafkaSourceExt, SourceConfig};

/// Broadway's Kafka guide, on timely dataflow.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true)]
struct Args {
    /// Kafka bootstrap servers; without it (and without `bootstrap.servers` in --config), an
    /// embedded cluster is started.
    #[arg(long)]
    brokers: Option<String>,
    /// A client properties file, as `timely-kafka pipe --config` reads it: bootstrap
    /// servers, TLS, SASL; `${env:NAME}` values come from the environment.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Serve Prometheus metrics on `HOST:PORT/metrics` and the member's health on
    /// `/health` while the guide runs, as `timely-kafka pipe --metrics-addr` does.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// The topic to produce to and consume from.
    #[arg(long, default_value = "test")]
    topic: String,
    /// The consumer group.
    #[arg(long, default_value = "group_1")]
    group: String,
    /// How many numbers to produce first (1..=COUNT); 0 produces none.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Exit once caught up with nothing new arriving for this many seconds (joining the
    /// group and rebalances do not count).
    #[arg(long, default_value_t = 5)]
    idle_exit: u64,
    #[command(flatten)]
    timely: TimelyArgs,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    setup::init_logging();
    let args = Args::parse();

    let file = ClientProperties::read(args.config.as_deref())?;
    // The embedded cluster lives as long as `main`; external brokers need nothing here.
    let kafka = setup::Kafka::given_or_embedded(
        args.brokers.clone().or(file.bootstrap_servers),
        |cluster| Ok(cluster.create_topic(&args.topic, 3)?),
    )?;
    let brokers = &kafka.brokers;
    if args.count > 0 {
        let producer = match &kafka.embedded {
            Some(cluster) => cluster.load(&args.topic, numbers(args.count))?,
            None => load_into_with(brokers, &file.settings, &args.topic, numbers(args.count))?,
        };
        println!("produced {} numbers to `{}`", producer.records, args.topic);
    }

    let mut config = SourceConfig::builder()
        .brokers(brokers)
        .group_id(&args.group)
        .topic(&args.topic)
        .tick(Duration::from_millis(50));
    for (key, value) in &file.settings {
        config = config.set(key, value);
    }
    let config = config.build()?;
    let idle_exit = Duration::from_secs(args.idle_exit);
    let expected = args.count;
    let seen = Arc::new(AtomicUsize::new(0));
    // Before the source is built: it takes its metric handles then.
    let exporter = setup::serve_metrics(args.metrics_addr.as_deref())?;

    let guards = timely::execute(args.timely.config()?, move |worker| {
        let probe = ProbeHandle::new();
        let seen = Arc::clone(&seen);
        let handle = worker.dataflow(|scope| {
            let source = scope
                .kafka_source(&config)
                .expect("join the consumer group");
            let counter = Arc::clone(&seen);
            // handle_message: pair each number with its double. A payload that is not a
            // number is a failure, routed to its own output with its position.
            let processed = source.records.process(|record| {
                let text = utf8(record).map_err(|e| e.reason)?.trim().to_owned();
                match text.parse::<i64>() {
                    Ok(n) => Ok((text, n * 2)),
                    Err(e) => Err(format!("{text:?} is not a number: {e}")),
                }
            });
            processed
                .failed
                .inspect(|failure| eprintln!("failed: {failure}"))
                .probe_with(&probe);
            // batchers: batch_size 100, batch_timeout 200 ms, one batch per partition.
            processed
                .ok
                .batch(
                    by_partition()
                        .max_size(100)
                        .timeout(Duration::from_millis(200)),
                )
                // handle_batch: print it.
                .inspect(move |batch| {
                    let pairs: Vec<&(String, i64)> =
                        batch.records.iter().map(|m| &m.data).collect();
                    println!("Got batch: {pairs:?}");
                    counter.fetch_add(pairs.len(), Ordering::SeqCst);
                })
                .probe_with(&probe);
            source.handle.commit_after(&probe);
            source.handle
        });
        let control = handle.control();
        if let Some(exporter) = &exporter {
            exporter.watch(&control);
        }
        loop {
            worker.step_or_park(Some(Duration::from_millis(100)));
            // Done once every produced number is batched, or once caught up and idle
            // (`SourceControl::idle_for`: waiting for the group never counts).
            let now = seen.load(Ordering::SeqCst);
            if (expected > 0 && now >= expected) || control.idle_for() >= idle_exit {
                break;
            }
        }
        // Stop reading, let in-flight records finish, commit; timely keeps stepping the
        // dataflow until the source has made its final commit.
        handle.shutdown();
        handle.control()
    })?;
    let controls = guards.join();
    if let Some(Ok(control)) = controls.into_iter().next() {
        let progress = control.progress();
        let committed: Vec<String> = progress
            .partitions
            .iter()
            .map(|p| match p.committed {
                Some(offset) => p.topic_partition.at(offset).to_string(),
                None => format!("{}@-", p.topic_partition),
            })
            .collect();
        println!("committed: {}", committed.join(", "));
    }
    Ok(())
}

/// The guide's input: `1..=count`, number `i` into partition `i % 3`.
fn numbers(count: usize) -> impl Iterator<Item = TestRecord> {
    (1..=count).map(|i| TestRecord::new(i.to_string()).partition((i % 3) as i32))
}
