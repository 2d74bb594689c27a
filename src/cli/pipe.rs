//! `timely-kafka pipe`: Kafka → transform → Kafka, at-least-once end to end.
//!
//! Consumes `--input` as group `--group`, applies `--transform` to each payload, and
//! produces to `--output` with key, headers and timestamp kept. Input offsets are committed
//! only once the output records are acknowledged. SIGINT or SIGTERM stops it gracefully:
//! stop fetching, drain, final commit, exit 0; a second signal exits at once (status 130).
//! With `--idle-exit`, it stops the same graceful way once it has been caught up, with nothing
//! new arriving, for that long (see `SourceControl::idle_for`).
//! With `--reject PATTERN`, records whose payload contains PATTERN fail; with
//! `--dead-letter-topic T` failed records are written to `T` with `x-dead-letter-*` headers
//! (see [`timely_kafka::sink::DeadLetterExt`]), and their offsets are committed only once
//! those writes are acknowledged.
//! A delivery that fails for good exits non-zero without committing past the failed record.
//! Either way it ends with a summary on stderr: records read and written, partitions held,
//! offsets committed ([`summary`]). With `--metrics-addr HOST:PORT` it serves Prometheus
//! metrics at `/metrics` and a health report at `/health` while it runs (see
//! [`timely_kafka::metrics`]).

mod errors;
mod summary;

use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::exporter::Exporter;
use timely_kafka::process::ProcessExt;
use timely_kafka::sink::{DeadLetterExt, KafkaSinkExt, SinkConfig, SinkRecord};
use timely_kafka::timely_args::TimelyArgs;
use timely_kafka::{GroupProtocol, KafkaRecord, KafkaSourceExt, SourceConfig};
use timely_kafka_operators::ExchangeByKey;

use super::settings::{parse_setting, ClusterSettings};
use super::HelpFlag;
use summary::RunSummary;

/// What to do to each payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transform {
    /// Copy the payload unchanged.
    Identity,
    /// Upper-case ASCII letters in the payload.
    Uppercase,
}

/// Arguments of `pipe`.
#[derive(Debug, Args)]
#[command(
    disable_help_flag = true,
    after_help = "Stopping: SIGINT or SIGTERM stops fetching, waits until every record read is \
written and acknowledged, commits, and exits 0; a second signal exits at once with status 130 \
(what was read but not committed is read again by the next run). Exit status 1: a setting \
refused, no broker reachable (with the cause: TLS, authentication, refused), the group refusing \
this member, or a delivery failed for good (nothing past it committed)."
)]
pub struct PipeArgs {
    /// Kafka bootstrap servers, `host:port[,host:port...]`. Required unless --config gives
    /// `bootstrap.servers`; overrides it when both do.
    #[arg(long)]
    brokers: Option<String>,
    /// A client properties file (`key=value` lines, as Kafka's tools and kcat read) for both
    /// the consumer and the producer: bootstrap servers, security protocol, certificates,
    /// SASL credentials. A value may be `${env:NAME}`, read from the environment, so secrets
    /// stay out of the file and off the command line. --set, --consumer-set and
    /// --producer-set override it.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Consumer group of the input.
    #[arg(long)]
    group: String,
    /// Topic to consume.
    #[arg(long)]
    input: String,
    /// Topic to produce to.
    #[arg(long)]
    output: String,
    /// Transformation applied to each payload.
    #[arg(long, value_enum, default_value_t = Transform::Identity)]
    transform: Transform,
    /// Fail every record whose payload contains PATTERN (bytes, case-sensitive), to exercise
    /// the failure path: failed records go to --dead-letter-topic, or without one are logged
    /// and skipped. Either way their offsets are committed like the others'.
    #[arg(long, value_name = "PATTERN")]
    reject: Option<String>,
    /// Write failed records to this topic: the original key, payload, headers and timestamp,
    /// plus headers `x-dead-letter-error`, `-error-kind`, `-topic`, `-partition`, `-offset`,
    /// `-attempts` and `-time`. A failed record's offset is committed only once its dead
    /// letter is acknowledged.
    #[arg(long, value_name = "TOPIC")]
    dead_letter_topic: Option<String>,
    /// Route records between workers (and processes) by input (topic, partition) before
    /// producing. Per-partition order holds through the exchange; this shows it across a
    /// multi-process timely cluster.
    #[arg(long)]
    exchange: bool,
    /// Exit gracefully once the pipe has been idle for this many seconds: assigned its
    /// partitions (possibly none), caught up with each of them, every record read written
    /// and acknowledged, and nothing new arriving. Joining the group, rebalances and (under
    /// the classic protocol) waiting for a dead member's session to expire never count as
    /// idle; under `consumer`, Kafka gives a restarted member a dead member's partitions only
    /// when that member's session ends, so set this longer than the broker's
    /// group.consumer.session.timeout.ms to take them over.
    #[arg(long, value_name = "SECONDS")]
    idle_exit: Option<u64>,
    /// Consumer-group protocol: `classic` (every broker; the default) or `consumer`
    /// (KIP-848: Apache Kafka 4.0+ and the embedded cluster, where it avoids the classic
    /// protocol's ~44 s stall after a member leaves). With `consumer`, the session and
    /// heartbeat timeouts are the broker's: `--consumer-set session.timeout.ms=...` is refused.
    #[arg(long, value_name = "PROTOCOL", default_value = "classic", value_parser = GroupProtocol::from_str)]
    group_protocol: GroupProtocol,
    /// The group protocol's assignor. `classic`: `range,roundrobin` (the default; eager),
    /// `range`, `roundrobin` (eager) or `cooperative-sticky` (incremental: members keep the
    /// partitions that do not move). `consumer`: `uniform` or `range` (default: the broker's
    /// first `group.consumer.assignors`).
    #[arg(long, value_name = "NAME")]
    assignor: Option<String>,
    /// Commit interval in milliseconds.
    #[arg(long, default_value_t = 1000)]
    commit_interval_ms: u64,
    /// The most MiB librdkafka may hold prefetched for this process, whatever the number of
    /// partitions (the source's `prefetch_budget_bytes`; see the README's memory section).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    prefetch_budget_mib: u64,
    /// Give up when no broker in --brokers answers within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    connect_timeout: u64,
    /// Add this header to every output record, `name=value` (for example which host or
    /// run wrote it); repeat as needed. Input headers are kept, and these follow them.
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// A librdkafka setting for both the consumer and the producer, `key=value`; repeat as
    /// needed. A key only one client knows goes in --consumer-set or --producer-set
    /// (librdkafka warns about a key its client ignores).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// A librdkafka setting for the consumer only (`session.timeout.ms`,
    /// `heartbeat.interval.ms`, `fetch.wait.max.ms`, ...); repeat as needed. Overrides a
    /// --set of the same key.
    #[arg(long = "consumer-set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    consumer_settings: Vec<(String, String)>,
    /// A librdkafka setting for the producer only (`linger.ms`, `compression.type`, ...);
    /// repeat as needed. Overrides a --set of the same key.
    #[arg(long = "producer-set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    producer_settings: Vec<(String, String)>,
    /// Serve Prometheus metrics (lag per partition, commits, rebalances, reads, the sink's
    /// deliveries) at `http://HOST:PORT/metrics`, and at `/health` whether this process
    /// holds an assignment and when it last committed (JSON; status 503 once the source
    /// stopped on an error). Port 0 picks a free port; the address is printed on stderr.
    /// Each process of a timely cluster serves its own figures: processes sharing a host
    /// need a port each (or 0).
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    #[command(flatten)]
    timely: TimelyArgs,
    #[command(flatten)]
    help: HelpFlag,
}

/// Whether `haystack` contains `needle` (an empty needle is everywhere).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// Parses a `--header NAME=VALUE` value.
fn parse_header(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!(
            "expected NAME=VALUE with a non-empty name, got {value:?}"
        )),
    }
}

/// Runs the pipe; exit status 0 after a graceful stop, 1 on failure, 130 on a second signal.
pub fn run(args: PipeArgs) -> ExitCode {
    match pipe(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn pipe(args: PipeArgs) -> Result<(), String> {
    let summary = RunSummary::new(args.timely.process, args.timely.processes);
    let group_protocol = match &args.assignor {
        Some(name) => args
            .group_protocol
            .with_assignor(name)
            .map_err(|e| e.to_string())?,
        None => args.group_protocol,
    };
    let ClusterSettings {
        brokers,
        file: file_settings,
    } = ClusterSettings::read(args.brokers.as_deref(), args.config.as_deref())?;
    let mut source = SourceConfig::builder()
        .brokers(&brokers)
        .group_id(&args.group)
        .topic(&args.input)
        .group_protocol(group_protocol)
        .commit_interval(Duration::from_millis(args.commit_interval_ms))
        .prefetch_budget_bytes(args.prefetch_budget_mib << 20)
        .connect_timeout(Duration::from_secs(args.connect_timeout))
        .on_assigned(summary.on_assigned());
    let mut sink = SinkConfig::builder()
        .brokers(&brokers)
        .default_topic(&args.output);
    for (key, value) in file_settings
        .iter()
        .chain(&args.settings)
        .chain(&args.consumer_settings)
    {
        source = source.set(key, value);
    }
    for (key, value) in file_settings
        .iter()
        .chain(&args.settings)
        .chain(&args.producer_settings)
    {
        sink = sink.set(key, value);
    }
    let source = source.build().map_err(|e| e.to_string())?;
    let sink = sink.build().map_err(|e| e.to_string())?;
    let timely_config = args.timely.config()?;
    // Before the sources and sinks are built: they take their metric handles then.
    let exporter = match &args.metrics_addr {
        Some(addr) => {
            let (exporter, bound) = Exporter::serve_at(addr).map_err(|e| e.to_string())?;
            summary.say(format_args!(
                "serving metrics on http://{bound}/metrics and health on http://{bound}/health"
            ));
            Some(Arc::new(exporter))
        }
        None => None,
    };

    // First signal: graceful stop. Second: exit at once.
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("installing signal handlers: {e}"))?;
    {
        let stop = Arc::clone(&stop);
        let summary = summary.clone();
        std::thread::spawn(move || {
            for signal in signals.forever() {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                if stop.swap(true, Ordering::SeqCst) {
                    eprintln!("pipe: second signal ({name}): exiting now");
                    std::process::exit(130);
                }
                summary.stopping(format_args!("{name} (again to exit at once)"));
            }
        });
    }

    let idle_exit = args.idle_exit.map(Duration::from_secs);
    let transform = args.transform;
    let extra_headers = Arc::new(args.headers.clone());
    let exchange = args.exchange;
    let reject = args.reject.clone().map(String::into_bytes);
    let dead_letter_topic = args.dead_letter_topic.clone();
    // The first sink failure of any worker: every local worker must then stop, since a
    // worker that dropped its dataflow no longer reports progress to the others.
    let failure: Arc<Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let (input, output) = (args.input.clone(), args.output.clone());
    let worker_summary = summary.clone();
    let guards = timely::execute(timely_config, move |worker| {
        let summary = worker_summary.clone();
        let exporter = exporter.clone();
        let probe = ProbeHandle::new();
        let extra_headers = Arc::clone(&extra_headers);
        let failure = Arc::clone(&failure);
        let dataflow = worker.next_dataflow_index();
        let built = worker.dataflow(|scope| -> Result<_, String> {
            let consumed = scope
                .kafka_source(&source)
                .map_err(|e| errors::source_error(&e))?;
            let records = consumed.records.inspect(summary.read_counter());
            let records = if exchange {
                records.exchange_by_key(KafkaRecord::topic_partition)
            } else {
                records
            };
            let reject = reject.clone();
            let processed = records.process_ref(move |record: &KafkaRecord| {
                if let (Some(pattern), Some(payload)) = (&reject, &record.payload) {
                    if contains(payload, pattern) {
                        return Err(format!(
                            "payload contains {:?}",
                            String::from_utf8_lossy(pattern)
                        ));
                    }
                }
                let mut out = SinkRecord::from_record(record);
                for (name, value) in extra_headers.iter() {
                    out = out.header(name.clone(), value.clone().into_bytes());
                }
                if transform == Transform::Uppercase {
                    if let Some(payload) = out.payload.as_mut() {
                        payload.make_ascii_uppercase();
                    }
                }
                Ok(out)
            });
            let produced = processed
                .ok
                .map(|message| message.data)
                .kafka_sink(&sink)
                .map_err(|e| e.to_string())?;
            produced.acknowledged.probe_with(&probe);
            // Failed records: committed once durable in the dead-letter topic (its sink's
            // acknowledgements join the probe), or once logged without one.
            let dead_letters = match &dead_letter_topic {
                Some(topic) => {
                    let dead = processed
                        .failed
                        .dead_letter(&sink, topic)
                        .map_err(|e| e.to_string())?;
                    dead.acknowledged.probe_with(&probe);
                    dead.handle.stop_with(&consumed.handle.control());
                    Some(dead.handle)
                }
                None => {
                    processed.failed.inspect(|failure| {
                        tracing::warn!("pipe: skipping a failed record: {failure}");
                    });
                    None
                }
            };
            consumed.handle.commit_after(&probe);
            // A sink failing on one worker stops the others at once, full queue or not.
            produced.handle.stop_with(&consumed.handle.control());
            Ok((consumed.handle.control(), produced.handle, dead_letters))
        });
        let (control, sink_handle, dead_letters) = built?;
        summary.watch(control.clone(), sink_handle.clone());
        if let Some(exporter) = &exporter {
            exporter.watch(&control);
        }
        loop {
            worker.step_or_park(Some(Duration::from_millis(100)));
            if let Some(idle) = idle_exit {
                // Idle: assigned, caught up with every owned partition, everything read
                // acknowledged by the output, and nothing new for `idle` (see
                // `SourceControl::idle_for`). Waiting for the group never counts.
                if control.idle_for() >= idle && !control.is_shutting_down() {
                    summary.stopping(format_args!("caught up and idle for {idle:?}"));
                    control.shutdown();
                }
            }
            if stop.load(Ordering::SeqCst) && !control.is_shutting_down() {
                control.shutdown();
            }
            if let Some(error) = sink_handle.error() {
                failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(error.to_string());
            }
            if let Some(error) = dead_letters.as_ref().and_then(|d| d.error()) {
                failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(format!("dead-letter topic: {error}"));
            }
            if let Some(error) = control.error() {
                failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(error.to_string());
            }
            let failed = failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if failed.is_some() && !control.is_closed() {
                // Nothing past the failed record may be committed: stop now, commit what is
                // done, and leave the sink holding its frontier.
                control.shutdown_now();
            }
            // Done once the sources have made their final commit and every output record
            // is acknowledged everywhere (the sink's frontier is empty): until then a
            // delivery can still fail.
            if control.is_closed() && (failed.is_some() || probe.done()) {
                break;
            }
        }
        let failed = failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match failed {
            Some(error) => {
                // The sink holds the failed record's tick forever; drop the dataflow so the
                // worker can exit.
                worker.drop_dataflow(dataflow);
                Err(error)
            }
            None => Ok(()),
        }
    })?;
    let mut first_error = None;
    for result in guards.join() {
        if let Err(e) = result
            .map_err(|e| format!("worker panicked: {e}"))
            .and_then(|r| r)
        {
            first_error.get_or_insert(e);
        }
    }
    summary.print(&input, &output, started.elapsed());
    first_error.map_or(Ok(()), Err)
}
