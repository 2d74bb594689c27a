//! `timely-kafka bench`: our pipeline against raw rdkafka clients on the same broker, in
//! one run, repetitions alternated so machine noise hits each alike.
//!
//! By default it starts the embedded cluster (in a child process, see [`broker`]), creates
//! an 8-partition topic, loads 1,000,000 records of 100 bytes (lz4-compressed, as the mock
//! keeps only ~5 MiB per partition), and measures:
//!
//! * (a) **raw consumer**: an rdkafka `BaseConsumer` assigned every partition: the physical
//!   baseline;
//! * (b) **pipeline**: source → ordered map → batch(100) → probe, commits on, at each worker
//!   count (timely's `-w N`, or `--workers 1,2`);
//! * (c) **pipe**: source → Kafka sink (acks=all, idempotent), against its physical
//!   baseline **raw copy** (one rdkafka consumer and one producer with the sink's settings
//!   in a loop, committing acknowledged input, no timely) and against **raw produce**;
//! * **idle**: CPU used by a joined source with nothing to read.
//! * with `--metrics`, **+metrics**: the pipeline again, at the first worker count, with
//!   every metric recorded through a Prometheus recorder, alternated with the plain runs
//!   (which then record nothing), and the cost of recording as a ratio.
//!
//! Each row reports msgs/s (the median repetition, and the slowest and fastest as % of it)
//! and MB/s (first record to last, so group-join time is excluded), the ratio to (a) (and
//! for (c) to raw copy and raw produce), the commit lag when the last record was processed,
//! the peak RSS during the run and the CPU seconds per million records, under a header
//! saying what was measured. With `--rate N` the records
//! are produced at N msgs/s *while* each run reads, and the table adds p50/p99 latency
//! (record timestamp → processed), then a real end-to-end latency; preloaded runs leave
//! it out of the table (the JSON keeps it: there it is only time since the load).

mod broker;
mod connection;
mod copy;
mod data;
mod idle;
mod json;
mod latency;
mod load;
mod measure;
mod pipe;
mod pipeline;
mod plot;
mod produce;
mod rate;
mod raw;
mod report;
mod runner;
mod runs;
mod signals;
mod suite;
mod summary;
mod sweep;
mod topics;
mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::HelpFlag;
use broker::BrokerMode;

/// What the raw consumer may prefetch per partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RawLimits {
    /// librdkafka's defaults (`queued.max.messages.kbytes=65536`, `fetch.max.bytes=52428800`).
    Large,
    /// The limits the source derives from its prefetch budget for one worker.
    Source,
}

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
    /// Partitions of the benchmark topics.
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    /// Worker counts to run the pipeline at, comma separated; -w N runs at N only.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2",
        conflicts_with = "threads"
    )]
    workers: Vec<usize>,
    /// Run the pipeline at this one worker count instead of --workers (timely's -w; the
    /// benchmark is one process, so it takes no -n, -p or -h).
    #[arg(short = 'w', long = "threads", value_name = "NUM")]
    threads: Option<usize>,
    /// Repetitions of each measurement (alternated).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Timestamp tick of the source, in milliseconds.
    #[arg(long, default_value_t = 100)]
    tick_ms: u64,
    /// Commit interval of the source, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    commit_interval_ms: u64,
    /// The batcher's timeout for partial batches, in milliseconds.
    #[arg(long, default_value_t = 100)]
    batch_timeout_ms: u64,
    /// Produce the records at this many msgs/s while each run reads them (instead of
    /// preloading), so the latency columns measure end-to-end latency.
    #[arg(long, value_name = "MSGS_PER_SEC", value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// `fetch.wait.max.ms` of the source and the raw consumer: how long a broker may hold a
    /// fetch that has no data yet (the mock cluster holds it that long even when data
    /// arrives meanwhile, which sets the latency floor of `--rate` runs on it).
    #[arg(long, default_value_t = 100)]
    fetch_wait_ms: u64,
    /// The source's process-wide prefetch budget in MiB (`prefetch_budget_bytes`); default:
    /// the source's own (64 MiB).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    prefetch_budget_mib: Option<u64>,
    /// The source's bound on bytes read and not yet processed, per worker, in MiB
    /// (`max_in_flight_bytes`); default: the source's own (32 MiB).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight_mib: Option<u64>,
    /// A librdkafka setting for both the source and the raw consumer, `key=value`;
    /// repeat as needed (for example `--set queued.min.messages=20000`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// The raw consumer's prefetch: `large` (librdkafka's defaults: up to 64 MiB queued in its
    /// one consumer queue, fetch responses up to 50 MB) or `source` (the limits the source
    /// derives from its prefetch budget for one worker, `timely_kafka::source::prefetch_limits`:
    /// the same bound as the pipeline at `-w 1`).
    #[arg(long, value_enum, default_value_t = RawLimits::Large)]
    raw_limits: RawLimits,
    /// Skip the raw consumer (for profiling the pipeline alone); ratios are then omitted.
    #[arg(long)]
    skip_raw: bool,
    /// Skip the Kafka→Kafka pipe and its baselines (raw copy, raw produce).
    #[arg(long)]
    skip_pipe: bool,
    /// Seconds to measure idle CPU for (0 skips it).
    #[arg(long, default_value_t = 5)]
    idle_secs: u64,
    /// Where the embedded cluster runs: a child process keeps its CPU and memory out of
    /// the CPU and RSS columns; in-process puts them in.
    #[arg(long = "embedded", value_enum, default_value_t = BrokerMode::Child)]
    embedded: BrokerMode,
    /// Use this Kafka instead of the embedded cluster (topics must exist or be
    /// auto-created with `--partitions` partitions).
    #[arg(long)]
    brokers: Option<String>,
    /// A client properties file for every client the bench creates (as `timely-kafka pipe
    /// --config` reads it: bootstrap servers, TLS, SASL; `${env:NAME}` values from the
    /// environment). Its `bootstrap.servers` stands for --brokers when that is not given.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The input topic with `--brokers` (default: a fresh name).
    #[arg(long)]
    topic: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also draw every repetition's throughput (and with --rate the end-to-end latency CDF)
    /// as SVG to this file, and as PNG beside it (the same name ending in .png).
    #[arg(long, value_name = "PATH")]
    plot: Option<PathBuf>,
    /// Also run the pipeline (at the first worker count) with every metric recorded through
    /// a Prometheus recorder, alternated with the plain pipeline runs (which record
    /// nothing): adds a `+metrics` row and the throughput ratio, recording on over off.
    #[arg(long, conflicts_with = "rate")]
    metrics: bool,
    /// Serve the metrics at `http://HOST:PORT/metrics` (and `/health`) while the benchmark
    /// runs. Without --metrics, every run records them.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Sweep: run the benchmark at each of these partition counts (a child process per
    /// combination with --sweep-sizes), then print one table of them all.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    sweep_partitions: Vec<i32>,
    /// Sweep: record sizes in bytes (with --sweep-partitions; default: --size).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    sweep_sizes: Vec<usize>,
    /// Sweep: payload bytes each combination reads (at most --messages records, at least one
    /// a partition).
    #[arg(long, default_value_t = 200_000_000)]
    sweep_bytes: u64,
    #[command(flatten)]
    help: HelpFlag,
}

/// Runs the benchmark and prints its table.
pub fn run(args: BenchArgs) -> ExitCode {
    let result = if args.sweep_partitions.is_empty() && args.sweep_sizes.is_empty() {
        suite::bench(&args)
    } else {
        sweep::sweep(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
