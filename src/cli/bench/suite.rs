//! The whole benchmark: broker and topics, the load, alternated repetitions of every run,
//! idle CPU, then the table (and JSON, and the plot as SVG and PNG, when asked).

use std::time::Duration;

use timely_kafka::client::ClientProperties;
use timely_kafka::exporter::Exporter;

use super::broker::Broker;
use super::idle;
use super::json::{self, Settings};
use super::measure::RunStats;
use super::report::{self, Context};
use super::runs::Runs;
use super::summary::{add_ratios, Row, RunKind};
use super::topics::{PlanSpec, TopicPlan};
use super::{connection, load, pipeline, plot, workers, BenchArgs};
use crate::cli::cpu::Proc;

/// Runs everything `args` asks for and prints the results.
pub fn bench(args: &BenchArgs) -> Result<(), String> {
    let worker_counts = workers::worker_counts(args.threads, &args.workers)?;
    if args.reps == 0 || args.messages == 0 || args.partitions < 1 {
        return Err("--reps, --messages and --partitions must be at least 1".into());
    }
    let settings = parse_settings(&args.settings)?;
    let file = ClientProperties::read(args.config.as_deref()).map_err(|e| e.to_string())?;
    let brokers = args.brokers.clone().or(file.bootstrap_servers);
    connection::set(file.settings);
    let plan = TopicPlan::new(&PlanSpec {
        partitions: args.partitions,
        reps: args.reps,
        worker_counts: worker_counts.len(),
        rate_mode: args.rate.is_some(),
        raw: !args.skip_raw,
        pipe: !args.skip_pipe,
        idle: args.idle_secs > 0,
        input: args.topic.as_deref(),
    });
    // Before any source or sink is built: they take their metric handles then.
    let exporter = if args.metrics || args.metrics_addr.is_some() {
        let exporter = Exporter::install().map_err(|e| e.to_string())?;
        if let Some(addr) = &args.metrics_addr {
            let bound = exporter.serve(addr).map_err(|e| e.to_string())?;
            eprintln!("bench: serving metrics on http://{bound}/metrics");
        }
        // With --metrics, only the `+metrics` runs record.
        exporter.set_recording(!args.metrics);
        Some(exporter)
    } else {
        None
    };
    let broker = Broker::start(args.embedded, brokers.as_deref(), &plan)?;
    let bootstrap = broker.bootstrap();
    let runs = Runs {
        args,
        settings: &settings,
        bootstrap: &bootstrap,
        pid: broker.child_pid(),
        limit: match args.rate {
            None => Duration::from_secs(300),
            Some(rate) => Duration::from_secs(300.max(2 * args.messages / rate + 60)),
        },
        // Reading the clock per record would cost the raw loop ~3 %: preloaded runs (whose
        // latency is only time since the load) sample; rate runs note every record.
        latency_every: if args.rate.is_some() { 1 } else { 64 },
    };
    // Check the settings before spending time on the load.
    runs.source_config("settings-check")?;
    if let Some(input) = &plan.input {
        load::preload(&bootstrap, input, args.messages, args.size, args.partitions)?;
    }

    let mut raw_runs = Vec::new();
    let mut pipeline_runs: Vec<Vec<RunStats>> = vec![Vec::new(); worker_counts.len()];
    let mut produce_runs = Vec::new();
    let mut copy_runs = Vec::new();
    let mut pipe_runs = Vec::new();
    let mut metrics_runs = Vec::new();
    for rep in 0..args.reps {
        if !args.skip_raw {
            raw_runs.push(runs.raw(rep, &plan.raw[rep])?);
        }
        for (i, &workers) in worker_counts.iter().enumerate() {
            pipeline_runs[i].push(runs.pipeline(rep, &plan.pipeline[i][rep], workers)?);
        }
        if let (true, Some(exporter)) = (args.metrics, &exporter) {
            // The same preloaded input as the plain runs, read by a fresh group.
            exporter.set_recording(true);
            let run = runs.pipeline(rep, &plan.pipeline[0][rep], worker_counts[0]);
            exporter.set_recording(false);
            metrics_runs.push(run?);
        }
        if !args.skip_pipe {
            if let Some(output) = plan.produce.get(rep) {
                produce_runs.push(runs.produce(rep, output)?);
            }
            copy_runs.push(runs.copy(rep, &plan.copy_in[rep], &plan.copy_out[rep])?);
            pipe_runs.push(runs.pipe(
                rep,
                &plan.pipe_in[rep],
                &plan.pipe_out[rep],
                worker_counts[0],
            )?);
        }
    }

    let mut rows = Vec::new();
    if !raw_runs.is_empty() {
        rows.push(Row::new(RunKind::RawConsumer, 1, &raw_runs));
    }
    for (i, &workers) in worker_counts.iter().enumerate() {
        rows.push(Row::new(RunKind::Pipeline, workers, &pipeline_runs[i]));
        if i == 0 && !metrics_runs.is_empty() {
            rows.push(Row::new(RunKind::PipelineMetrics, workers, &metrics_runs));
        }
    }
    if !produce_runs.is_empty() {
        rows.push(Row::new(RunKind::RawProduce, 1, &produce_runs));
    }
    if !copy_runs.is_empty() {
        rows.push(Row::new(RunKind::RawCopy, 1, &copy_runs));
    }
    if !pipe_runs.is_empty() {
        rows.push(Row::new(RunKind::Pipe, worker_counts[0], &pipe_runs));
    }
    add_ratios(&mut rows);

    let mut idle = Vec::new();
    if let Some(topic) = &plan.idle {
        for &workers in &worker_counts {
            let config = runs.source_config(topic)?;
            let window = Duration::from_secs(args.idle_secs);
            idle.push(idle::measure(config, workers, window, runs.pid)?);
        }
    }
    let broker_peak_rss_mib = runs
        .pid
        .and_then(|pid| Proc::Pid(pid).peak_rss_bytes())
        .map(|b| b as f64 / (1 << 20) as f64);
    report::print(
        &rows,
        &idle,
        &Context {
            broker: broker.describe(),
            messages: args.messages,
            size: args.size,
            partitions: args.partitions,
            reps: args.reps,
            rate: args.rate,
            tick_ms: args.tick_ms,
            commit_interval_ms: args.commit_interval_ms,
            broker_peak_rss_mib,
        },
    );
    if let Some(path) = &args.json {
        let settings = Settings {
            messages: args.messages,
            size: args.size,
            partitions: args.partitions,
            reps: args.reps,
            workers: worker_counts.clone(),
            tick_ms: args.tick_ms,
            commit_interval_ms: args.commit_interval_ms,
            batch_size: pipeline::BATCH_SIZE,
            batch_timeout_ms: args.batch_timeout_ms,
            rate: args.rate,
            broker: broker.describe().to_owned(),
        };
        json::write(path, &settings, &rows, &idle, broker_peak_rss_mib)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.plot {
        let feed = match args.rate {
            Some(rate) => format!("produced at {rate} msgs/s during each run"),
            None => "preloaded".to_owned(),
        };
        let title = format!(
            "timely-kafka bench: {} records × {} B, {} partitions, {} repetition(s), {feed}",
            args.messages, args.size, args.partitions, args.reps
        );
        let labels = plot::Labels {
            title: &title,
            rate: args.rate,
        };
        for written in plot::write(path, &rows, &labels)? {
            eprintln!("wrote {}", written.display());
        }
    }
    Ok(())
}

/// `--set key=value` pairs.
fn parse_settings(settings: &[String]) -> Result<Vec<(String, String)>, String> {
    settings
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("--set {s:?}: expected KEY=VALUE"))
        })
        .collect()
}
