//! `timely-kafka bench`: our pipeline against a raw rdkafka consumer on the same broker, in
//! one run, repetitions alternated so machine noise hits each alike.
//!
//! By default it starts the embedded cluster, creates an 8-partition topic, loads 1,000,000
//! records of 100 bytes (lz4-compressed, as the mock keeps only ~5 MiB per partition), and
//! measures:
//!
//! * **raw**: an rdkafka `BaseConsumer` assigned every partition: the physical baseline;
//! * **source**: Kafka source → probe with frontier-driven commits on, at each worker count;
//! * **idle**: CPU used by a joined source with nothing to read.
//!
//! Throughput is timed from the first record to the last, so group-join time is excluded.

mod idle;
mod measure;
mod pipe;
mod pipeline;
mod produce;
mod raw;
mod report;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use timely_kafka::sink::SinkConfig;
use timely_kafka::testing::{load_into, unique_name, EmbeddedCluster, TestRecord};
use timely_kafka::SourceConfig;

use super::HelpFlag;
use measure::Measurement;
use report::Row;

/// Arguments of `bench`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// Records to load and read per repetition.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    /// Worker counts to run the pipeline at, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    workers: Vec<usize>,
    /// Repetitions of each measurement (alternated).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Timestamp tick of the source, in milliseconds.
    #[arg(long, default_value_t = 100)]
    tick_ms: u64,
    /// Skip the raw consumer (for profiling the pipeline alone); ratios are then omitted.
    #[arg(long)]
    skip_raw: bool,
    /// Skip the Kafka→Kafka pipe and its raw-produce baseline.
    #[arg(long)]
    skip_pipe: bool,
    /// Seconds to measure idle CPU for (0 skips it).
    #[arg(long, default_value_t = 5)]
    idle_secs: u64,
    /// Use this broker instead of the embedded cluster (the topic must exist or be
    /// auto-created with `--partitions` partitions).
    #[arg(long)]
    brokers: Option<String>,
    /// Topic to use with `--brokers` (default: a fresh name on the embedded cluster).
    #[arg(long)]
    topic: Option<String>,
    #[command(flatten)]
    help: HelpFlag,
}

/// Runs the benchmark and prints its table.
pub fn run(args: BenchArgs) -> ExitCode {
    match bench(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("bench failed: {err}");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let embedded = match &args.brokers {
        Some(_) => None,
        None => Some(EmbeddedCluster::new(1).map_err(|e| e.to_string())?),
    };
    let bootstrap = match (&args.brokers, &embedded) {
        (Some(b), _) => b.clone(),
        (None, Some(c)) => c.bootstrap_servers(),
        (None, None) => return Err("no broker".into()),
    };
    let topic = args.topic.clone().unwrap_or_else(|| unique_name("bench"));
    if let Some(cluster) = &embedded {
        cluster
            .create_topic(&topic, args.partitions)
            .map_err(|e| e.to_string())?;
    }
    let started = Instant::now();
    let loaded = load_into(
        &bootstrap,
        &topic,
        records(args.messages, args.size, args.partitions),
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "loaded {} records ({:.1} MB) into {topic} ({} partitions) in {:.2?}",
        loaded.records,
        loaded.bytes as f64 / 1e6,
        args.partitions,
        started.elapsed()
    );

    let mut raw_runs = Vec::new();
    let mut source_runs: Vec<Vec<Measurement>> = vec![Vec::new(); args.workers.len()];
    for rep in 0..args.reps {
        if !args.skip_raw {
            let m = raw::consume(&bootstrap, &topic, args.partitions, args.messages)?;
            eprintln!("rep {rep}: raw {:.0} msgs/s", m.rate());
            raw_runs.push(m);
        }
        for (i, &workers) in args.workers.iter().enumerate() {
            let config = source_config(&bootstrap, &topic, args.tick_ms)?;
            let m = pipeline::consume(config, workers, args.messages)?;
            eprintln!("rep {rep}: source w={workers} {:.0} msgs/s", m.rate());
            source_runs[i].push(m);
        }
    }

    let mut produce_runs = Vec::new();
    let mut pipe_runs = Vec::new();
    if !args.skip_pipe {
        for rep in 0..args.reps {
            // Raw produce into a fresh topic, then the pipe from the loaded topic into another.
            let produced = fresh_topic(&embedded, "bench-produce", args.partitions)?;
            let m = produce::produce(
                &bootstrap,
                &produced,
                args.partitions,
                records(args.messages, args.size, args.partitions).filter_map(|r| r.payload),
            )?;
            eprintln!("rep {rep}: raw produce {:.0} msgs/s", m.rate());
            produce_runs.push(m);
            let output = fresh_topic(&embedded, "bench-pipe-out", args.partitions)?;
            let sink = SinkConfig::builder()
                .brokers(&bootstrap)
                .default_topic(&output)
                .build()
                .map_err(|e| e.to_string())?;
            let workers = args.workers[0];
            let m = pipe::pipe(
                source_config(&bootstrap, &topic, args.tick_ms)?,
                sink,
                workers,
                args.messages,
            )?;
            eprintln!("rep {rep}: pipe w={workers} {:.0} msgs/s", m.rate());
            pipe_runs.push(m);
        }
    }

    let mut rows = Vec::new();
    let baseline = if raw_runs.is_empty() {
        f64::NAN
    } else {
        let raw = median(&raw_runs);
        rows.push(Row::new("raw BaseConsumer", 1, raw, raw.rate()));
        raw.rate()
    };
    for (i, &workers) in args.workers.iter().enumerate() {
        rows.push(Row::new(
            "source -> probe, commits on",
            workers,
            median(&source_runs[i]),
            baseline,
        ));
    }
    if !produce_runs.is_empty() {
        let produce = median(&produce_runs);
        rows.push(Row::new(
            "raw produce (acks=all, idempotent)",
            1,
            produce,
            produce.rate(),
        ));
        rows.push(Row::new(
            "pipe: source -> sink, vs produce",
            args.workers[0],
            median(&pipe_runs),
            produce.rate(),
        ));
    }
    report::print_table(&rows);
    if let Some(rss) = crate::cli::cpu::peak_rss_bytes() {
        println!(
            "peak RSS: {:.0} MiB (whole process, embedded broker included)",
            rss as f64 / (1 << 20) as f64
        );
    }

    if args.idle_secs > 0 {
        let idle_topic = unique_name("bench-idle");
        if let Some(cluster) = &embedded {
            cluster
                .create_topic(&idle_topic, args.partitions)
                .map_err(|e| e.to_string())?;
            for &workers in &args.workers {
                let config = source_config(&bootstrap, &idle_topic, args.tick_ms)?;
                let fraction =
                    idle::cpu_fraction(config, workers, Duration::from_secs(args.idle_secs))?;
                println!(
                    "idle CPU, {workers} worker(s), tick {} ms: {:.2} % of a core (whole process, embedded broker included)",
                    args.tick_ms,
                    fraction * 100.0
                );
            }
        }
    }
    Ok(())
}

/// A new topic on the embedded cluster (with `--brokers`, it must be auto-created).
fn fresh_topic(
    embedded: &Option<EmbeddedCluster>,
    prefix: &str,
    partitions: i32,
) -> Result<String, String> {
    let topic = unique_name(prefix);
    if let Some(cluster) = embedded {
        cluster
            .create_topic(&topic, partitions)
            .map_err(|e| e.to_string())?;
    }
    Ok(topic)
}

fn source_config(bootstrap: &str, topic: &str, tick_ms: u64) -> Result<SourceConfig, String> {
    SourceConfig::builder()
        .brokers(bootstrap)
        .group_id(unique_name("bench-group"))
        .topic(topic)
        .tick(Duration::from_millis(tick_ms))
        .build()
        .map_err(|e| e.to_string())
}

/// `messages` records of `size` bytes, spread round-robin over the partitions. The payload
/// is a sequence number padded with a repeating pattern: realistic for JSON-ish data, and
/// compressible enough for the mock's ~5 MiB per partition.
fn records(messages: u64, size: usize, partitions: i32) -> impl Iterator<Item = TestRecord> {
    const PATTERN: &[u8] =
        b"{\"event\":\"page_view\",\"user\":\"u-000000\",\"path\":\"/index.html\"}";
    (0..messages).map(move |seq| {
        let mut payload = format!("{seq:012}").into_bytes();
        payload.extend(
            PATTERN
                .iter()
                .cycle()
                .take(size.saturating_sub(payload.len())),
        );
        payload.truncate(size);
        TestRecord::new(payload).partition((seq % partitions as u64) as i32)
    })
}

/// The run with the median rate.
fn median(runs: &[Measurement]) -> &Measurement {
    let mut sorted: Vec<&Measurement> = runs.iter().collect();
    sorted.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    sorted[sorted.len() / 2]
}
