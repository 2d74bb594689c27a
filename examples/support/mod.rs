//! What the differential examples share: their command line, the embedded cluster they
//! start when no `--brokers` is given, and a run loop that writes a view to Kafka and
//! exits once the input has been idle.

pub mod setup;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use differential_dataflow::VecCollection;
use timely::dataflow::operators::Probe;
use timely::dataflow::{ProbeHandle, StreamVec};
use timely_kafka::differential::UpsertSinkExt;
use timely_kafka::sink::SinkConfig;
use timely_kafka::testing::EmbeddedCluster;
use timely_kafka::timely_args::TimelyArgs;
use timely_kafka::{GroupProtocol, KafkaRecord, KafkaSourceExt, OffsetReset, SourceConfig};

/// The command line of a view: like `timely-kafka pipe`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true)]
pub struct ViewArgs {
    /// Kafka bootstrap servers; without it (and without `bootstrap.servers` in --config), an
    /// embedded cluster with sample input is started.
    #[arg(long)]
    pub brokers: Option<String>,
    /// A client properties file for the source and the sink, as `timely-kafka pipe --config`
    /// reads it: bootstrap servers, TLS, SASL; `${env:NAME}` values come from the
    /// environment.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The consumer group (its commits show how far the output has caught up).
    #[arg(long)]
    pub group: Option<String>,
    /// Input topic(s), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub input: Vec<String>,
    /// Output topic (compacted, ideally): the view as upserts.
    #[arg(long)]
    pub output: Option<String>,
    /// Exit gracefully once the view has been idle for this many seconds: assigned its
    /// partitions, caught up with each, every change written and acknowledged, and nothing
    /// new arriving. Joining the group and rebalances never count as idle.
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    pub idle_exit: u64,
    /// Consumer-group protocol: `classic` (the default, every broker) or `consumer` (KIP-848).
    #[arg(long, value_name = "PROTOCOL", default_value = "classic", value_parser = GroupProtocol::from_str)]
    pub group_protocol: GroupProtocol,
    /// Serve Prometheus metrics at `http://HOST:PORT/metrics` and a health report at
    /// `/health` while the view runs, as `timely-kafka pipe --metrics-addr` does.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    #[command(flatten)]
    pub timely: TimelyArgs,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// A view's defaults and sample data.
pub struct Example {
    pub group: &'static str,
    /// Default input topics and their partition counts.
    pub inputs: &'static [(&'static str, i32)],
    pub output: &'static str,
    /// What each printed line is, for the heading above them, e.g. `word → count`.
    pub shape: &'static str,
    /// Loads sample records into the embedded cluster's input topics.
    pub sample: fn(&EmbeddedCluster) -> Result<(), Box<dyn std::error::Error>>,
}

/// Runs `view` over the input topics (named in order, as given) and writes it to the output topic as upserts, until
/// the input has been idle for `--idle-exit` seconds. Every new value written is printed as
/// `key → value`, under a heading naming the example's `shape` and the output topic.
pub fn run<V>(example: Example, view: V) -> Result<(), Box<dyn std::error::Error>>
where
    V: for<'scope> Fn(
            StreamVec<'scope, u64, KafkaRecord>,
            &[String],
        ) -> VecCollection<'scope, u64, (Vec<u8>, Vec<u8>)>
        + Send
        + Sync
        + 'static,
{
    setup::init_logging();
    let args = ViewArgs::parse();
    let inputs: Vec<String> = if args.input.is_empty() {
        example.inputs.iter().map(|(t, _)| t.to_string()).collect()
    } else {
        args.input.clone()
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| example.output.to_owned());
    let group = args
        .group
        .clone()
        .unwrap_or_else(|| example.group.to_owned());

    let file = timely_kafka::client::ClientProperties::read(args.config.as_deref())?;
    let settings = file.settings;
    // The embedded cluster lives as long as `run`; external brokers need nothing here.
    let kafka = setup::Kafka::given_or_embedded(
        args.brokers.clone().or(file.bootstrap_servers),
        |cluster| {
            for (topic, partitions) in example.inputs {
                cluster.create_topic(topic, *partitions)?;
            }
            cluster.create_topic(&output, 3)?;
            (example.sample)(cluster)
        },
    )?;
    let brokers = &kafka.brokers;
    // A view is rebuilt from its whole input on every start; commits track the output.
    let source_config = settings
        .iter()
        .fold(SourceConfig::builder(), |builder, (key, value)| {
            builder.set(key, value)
        })
        .brokers(brokers)
        .group_id(&group)
        .topics(inputs.clone())
        .group_protocol(args.group_protocol)
        .ignore_committed(true)
        .offset_reset(OffsetReset::Earliest)
        .tick(Duration::from_millis(50))
        .build()?;
    let sink = settings
        .iter()
        .fold(SinkConfig::builder(), |builder, (key, value)| {
            builder.set(key, value)
        })
        .brokers(brokers)
        .default_topic(&output)
        .build()?;
    let idle_exit = Duration::from_secs(args.idle_exit);
    println!(
        "{} (each value as the view writes it to `{output}`):",
        example.shape
    );
    let view = Arc::new(view);
    let inputs = Arc::new(inputs);
    // Before the source and sink are built: they take their metric handles then.
    let exporter = setup::serve_metrics(args.metrics_addr.as_deref())?;

    let guards = timely::execute(args.timely.config()?, move |worker| {
        let exporter = exporter.clone();
        let probe = ProbeHandle::new();
        let view = Arc::clone(&view);
        let inputs = Arc::clone(&inputs);
        let dataflow = worker.next_dataflow_index();
        let built = worker.dataflow(|scope| {
            let source = scope
                .kafka_source(&source_config)
                .map_err(|e| format!("joining the consumer group: {e}"))?;
            let written =
                view(source.records, inputs.as_slice()).inspect(|((key, value), _, diff)| {
                    if *diff > 0 {
                        println!(
                            "{} → {}",
                            String::from_utf8_lossy(key),
                            String::from_utf8_lossy(value)
                        );
                    }
                });
            let sink = written
                .rebuild_to_kafka(&sink, &source_config)
                .map_err(|e| format!("starting the sink: {e}"))?;
            sink.acknowledged.probe_with(&probe);
            source.handle.commit_after(&probe);
            Ok::<_, String>((source.handle, sink.handle))
        });
        let (handle, sink_handle) = match built {
            Ok(handles) => handles,
            Err(error) => {
                // What was built (the source) must not keep the worker running.
                worker.drop_dataflow(dataflow);
                return Err(error);
            }
        };
        let control = handle.control();
        if let Some(exporter) = &exporter {
            exporter.watch(&control);
        }
        loop {
            worker.step_or_park(Some(Duration::from_millis(100)));
            // Idle: assigned, caught up, every change written and acknowledged, nothing new
            // for `idle_exit`. Waiting for the group never counts.
            if control.idle_for() >= idle_exit || sink_handle.error().is_some() {
                break;
            }
        }
        handle.shutdown();
        Ok::<_, String>((handle.control(), sink_handle.error()))
    })?;
    for result in guards.join() {
        let (control, sink_error) = result.map_err(|e| format!("a worker failed: {e}"))??;
        if let Some(error) = sink_error {
            return Err(format!("the sink failed: {error}").into());
        }
        if let Some(error) = control.error() {
            return Err(format!("the source failed: {error}").into());
        }
    }
    Ok(())
}
