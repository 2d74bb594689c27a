//! `bench --sweep-partitions LIST --sweep-sizes LIST`: the benchmark at every partition count
//! and record size, each combination a `bench` child process of its own (a fresh broker with
//! the embedded cluster, fresh topics with `--brokers`, and peak RSS that is that run's
//! alone), summarised in one table: throughput of the raw consumer, the pipeline and the pipe
//! with their ratios, peak RSS, CPU per record and idle CPU.
//!
//! Each combination reads `--sweep-bytes` of payload (at most `--messages` records, at least
//! one a partition), so a 100 KB row does not load 100 GB. With `--brokers`, each
//! combination's topics are created for it and deleted after it. The embedded cluster keeps
//! about 5 MiB per partition in memory: sweep large partition counts against Apache Kafka
//! (`--brokers`, or `scripts/kafka-broker.sh`).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::BenchArgs;

/// One combination's results, as its child wrote them.
struct Combination {
    partitions: i32,
    size: usize,
    messages: u64,
    document: Value,
}

/// Runs the sweep and prints its table.
pub fn sweep(args: &BenchArgs) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let dir = std::env::temp_dir().join(format!("timely-kafka-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let partitions_list = if args.sweep_partitions.is_empty() {
        vec![args.partitions]
    } else {
        args.sweep_partitions.clone()
    };
    let sizes = if args.sweep_sizes.is_empty() {
        vec![args.size]
    } else {
        args.sweep_sizes.clone()
    };
    let mut done = Vec::new();
    for &partitions in &partitions_list {
        for &size in &sizes {
            let messages = messages_for(args, partitions, size);
            eprintln!("sweep: {partitions} partitions, {size} B records, {messages} records");
            let json = dir.join(format!("p{partitions}-s{size}.json"));
            // Each child's own table goes to a file beside its JSON; its progress to stderr.
            let table = dir.join(format!("p{partitions}-s{size}.txt"));
            let table_file =
                std::fs::File::create(&table).map_err(|e| format!("{}: {e}", table.display()))?;
            let status = Command::new(&exe)
                .args(child_args(args, partitions, size, messages, &json))
                .stdout(table_file)
                .status()
                .map_err(|e| format!("running {}: {e}", exe.display()))?;
            if !status.success() {
                return Err(format!(
                    "the run with {partitions} partitions and {size} B records failed ({status})"
                ));
            }
            let text = std::fs::read_to_string(&json)
                .map_err(|e| format!("reading {}: {e}", json.display()))?;
            let document: Value = serde_json::from_str(&text)
                .map_err(|e| format!("reading {}: {e}", json.display()))?;
            done.push(Combination {
                partitions,
                size,
                messages,
                document,
            });
        }
    }
    print_table(&done);
    if let Some(path) = &args.json {
        let all: Vec<&Value> = done.iter().map(|c| &c.document).collect();
        let text = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!(
        "sweep: each combination's own table and JSON are in {}",
        dir.display()
    );
    Ok(())
}

/// Records for one combination: `--sweep-bytes` of payload, at most `--messages`, and at
/// least one a partition.
fn messages_for(args: &BenchArgs, partitions: i32, size: usize) -> u64 {
    let by_bytes = args.sweep_bytes / size.max(1) as u64;
    by_bytes.min(args.messages).max(partitions as u64)
}

/// The child's command line: this sweep's settings at one partition count and size.
fn child_args(
    args: &BenchArgs,
    partitions: i32,
    size: usize,
    messages: u64,
    json: &Path,
) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "bench".into(),
        "--partitions".into(),
        partitions.to_string(),
        "--size".into(),
        size.to_string(),
        "--messages".into(),
        messages.to_string(),
        "--reps".into(),
        args.reps.to_string(),
        "--idle-secs".into(),
        args.idle_secs.to_string(),
        "--tick-ms".into(),
        args.tick_ms.to_string(),
        "--commit-interval-ms".into(),
        args.commit_interval_ms.to_string(),
        "--batch-timeout-ms".into(),
        args.batch_timeout_ms.to_string(),
        "--fetch-wait-ms".into(),
        args.fetch_wait_ms.to_string(),
        "--json".into(),
        json.display().to_string(),
    ];
    match args.threads {
        Some(threads) => out.extend(["-w".into(), threads.to_string()]),
        None => out.extend([
            "--workers".into(),
            args.workers
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ]),
    }
    for setting in &args.settings {
        out.extend(["--set".into(), setting.clone()]);
    }
    if args.skip_pipe {
        out.push("--skip-pipe".into());
    }
    if let Some(mib) = args.prefetch_budget_mib {
        out.extend(["--prefetch-budget-mib".into(), mib.to_string()]);
    }
    if let Some(mib) = args.max_in_flight_mib {
        out.extend(["--max-in-flight-mib".into(), mib.to_string()]);
    }
    if args.raw_limits == super::RawLimits::Source {
        out.extend(["--raw-limits".into(), "source".into()]);
    }
    if let Some(brokers) = &args.brokers {
        out.extend(["--brokers".into(), brokers.clone()]);
    }
    if let Some(config) = &args.config {
        out.extend(["--config".into(), config.display().to_string()]);
    }
    if args.embedded == super::broker::BrokerMode::InProcess {
        out.extend(["--embedded".into(), "in-process".into()]);
    }
    out
}

/// The row of `run` at the first worker count, from a child's document.
fn row<'a>(document: &'a Value, run: &str) -> Option<&'a Value> {
    document["rows"]
        .as_array()?
        .iter()
        .find(|r| r["run"].as_str() == Some(run))
}

fn number(row: Option<&Value>, field: &str) -> Option<f64> {
    row.and_then(|r| r[field].as_f64())
}

fn show(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

fn print_table(done: &[Combination]) {
    println!(
        "{:>10} {:>7} {:>9} {:>11} {:>11} {:>6} {:>11} {:>7} {:>16} {:>10} {:>8} {:>9} {:>8}",
        "partitions",
        "size B",
        "records",
        "raw msg/s",
        "pipeline",
        "vs raw",
        "pipe",
        "vs copy",
        "RSS raw/pl/pipe",
        "CPU s/M pl",
        "idle CPU",
        "1st rec",
        "shutdown"
    );
    for c in done {
        let raw = row(&c.document, "raw_consumer");
        let pipeline = row(&c.document, "pipeline");
        let pipe = row(&c.document, "pipe");
        let rss = [raw, pipeline, pipe]
            .iter()
            .map(|r| show(number(*r, "peak_rss_mib"), 0))
            .collect::<Vec<_>>()
            .join("/");
        let idle = c.document["idle_cpu"]
            .as_array()
            .and_then(|all| all.first())
            .and_then(|i| i["process"].as_f64());
        println!(
            "{:>10} {:>7} {:>9} {:>11} {:>11} {:>6} {:>11} {:>7} {:>16} {:>10} {:>8} {:>9} {:>8}",
            c.partitions,
            c.size,
            c.messages,
            show(number(raw, "msgs_per_sec"), 0),
            show(number(pipeline, "msgs_per_sec"), 0),
            percent(number(pipeline, "vs_raw_consumer")),
            show(number(pipe, "msgs_per_sec"), 0),
            percent(number(pipe, "vs_raw_copy")),
            rss,
            show(number(pipeline, "cpu_s_per_million"), 2),
            idle.map_or_else(|| "-".to_owned(), |v| format!("{:.2}%", v * 100.0)),
            show(number(pipeline, "assignment_to_first_record_ms"), 0),
            show(number(pipeline, "shutdown_ms"), 0),
        );
    }
    println!(
        "one `bench` child per row; pipeline/pipe at the first worker count; RSS: each run's \
         peak, MiB; idle CPU: % of a core with the source assigned every partition, caught \
         up, nothing to read; 1st rec: ms from the pipeline's assignment to its first record \
         out; shutdown: ms for the pipeline's drain, final commit of every partition and \
         leaving the group"
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_row_reads_its_fields() {
        let document: serde_json::Value = serde_json::json!({
            "rows": [{"run": "pipeline", "msgs_per_sec": 10.0, "vs_raw_consumer": 0.5}],
            "idle_cpu": [{"process": 1.5}],
        });
        let row = super::row(&document, "pipeline");
        assert_eq!(super::number(row, "msgs_per_sec"), Some(10.0));
        assert_eq!(super::percent(super::number(row, "vs_raw_consumer")), "50%");
        assert!(super::row(&document, "pipe").is_none());
    }

    #[test]
    fn each_child_runs_with_the_sweeps_settings() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            bench: super::super::BenchArgs,
        }
        let cli = Cli::parse_from([
            "bench",
            "--batch-timeout-ms",
            "7",
            "--tick-ms",
            "30",
            "--max-in-flight-mib",
            "128",
        ]);
        let args = super::child_args(&cli.bench, 8, 100, 1_000, std::path::Path::new("x.json"));
        let after = |flag: &str| {
            let at = args.iter().position(|a| a == flag).expect(flag);
            args[at + 1].clone()
        };
        assert_eq!(after("--batch-timeout-ms"), "7");
        assert_eq!(after("--tick-ms"), "30");
        assert_eq!(after("--max-in-flight-mib"), "128");
    }
}
