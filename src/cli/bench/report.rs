//! The results table, on stdout.

use super::idle::Idle;
use super::summary::{Row, RunKind};

/// How the run was set up, for the notes under the table.
pub struct Context<'a> {
    pub broker: &'a str,
    /// `Some(rate)` when records were produced at a fixed rate during each run.
    pub rate: Option<u64>,
    pub tick_ms: u64,
    pub commit_interval_ms: u64,
    pub broker_peak_rss_mib: Option<f64>,
}

/// Prints the table and its notes.
pub fn print(rows: &[Row], idle: &[Idle], context: &Context<'_>) {
    println!(
        "{:<13} {:>2} {:>10} {:>7} {:>7} {:>7} {:>8} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "run",
        "w",
        "msgs/s",
        "MB/s",
        "vs raw",
        "per w",
        "vs prod",
        "p50 ms",
        "p99 ms",
        "lag",
        "RSS MiB",
        "CPU s/M",
        "brk s/M"
    );
    for row in rows {
        let percent = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.0}%", r * 100.0));
        let number =
            |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
        println!(
            "{:<13} {:>2} {:>10.0} {:>7.1} {:>7} {:>7} {:>8} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7}",
            row.run.label(),
            row.workers,
            row.msgs_per_sec,
            row.mb_per_sec,
            percent(row.vs_raw_consumer),
            percent(row.vs_raw_consumer.map(|r| r / row.workers as f64)),
            percent(row.vs_raw_produce),
            number(row.latency_p50_ms, 1),
            number(row.latency_p99_ms, 1),
            row.commit_lag_at_last_record
                .map_or("-".into(), |l| l.to_string()),
            number(row.peak_rss_mib, 0),
            number(row.cpu_s_per_million, 2),
            number(row.broker_cpu_s_per_million, 2),
        );
    }
    notes(rows, idle, context);
}

fn notes(rows: &[Row], idle: &[Idle], context: &Context<'_>) {
    println!();
    println!("broker: {}", context.broker);
    println!(
        "msgs/s: median repetition, first record to last; per w = vs raw / workers; vs prod = vs raw produce"
    );
    match context.rate {
        None => println!(
            "latency: record timestamp -> processed. PRELOADED run: the timestamps are load times, so p50/p99 are time since the load, not a latency; measure latency with --rate N"
        ),
        Some(rate) => println!(
            "latency: record timestamp (produce time, {rate} msgs/s produced during the run) -> processed; pipe: -> output acknowledged (frontier); tick {} ms, commit interval {} ms",
            context.tick_ms, context.commit_interval_ms
        ),
    }
    let final_lags: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let lag = r.commit_lag_after_shutdown?;
            (lag > 0).then(|| format!("{} w={}: {lag}", r.run.label(), r.workers))
        })
        .collect();
    println!(
        "lag: end offsets - committed offsets, summed, when the last record was processed; after shutdown: {}",
        if final_lags.is_empty() {
            "0 on every run (final commit)".to_owned()
        } else {
            final_lags.join(", ")
        }
    );
    print!("RSS: peak of this process during the run (VmHWM reset before each run)");
    match context.broker_peak_rss_mib {
        Some(mib) => println!("; broker child process peak: {mib:.0} MiB"),
        None => println!(),
    }
    println!(
        "CPU s/M: CPU seconds per million records, this process{}",
        if rows.iter().any(|r| r.broker_cpu_s_per_million.is_some()) {
            "; brk s/M: the child broker's"
        } else {
            ""
        }
    );
    if context.rate.is_some() {
        println!("(with --rate, this process also runs the rate producer: CPU and RSS include it)");
    }
    for i in idle {
        match i.broker {
            Some(b) => println!(
                "idle CPU, {} worker(s), tick {} ms: {:.2} % of a core (broker child: {:.2} %)",
                i.workers,
                context.tick_ms,
                i.process * 100.0,
                b * 100.0
            ),
            None => println!(
                "idle CPU, {} worker(s), tick {} ms: {:.2} % of a core (this process)",
                i.workers,
                context.tick_ms,
                i.process * 100.0
            ),
        }
    }
    if context.rate.is_none() && rows.iter().any(|r| r.run == RunKind::Pipeline) {
        let pipelines: Vec<&Row> = rows.iter().filter(|r| r.run == RunKind::Pipeline).collect();
        if let (Some(one), Some(max)) = (
            pipelines.iter().find(|r| r.workers == 1),
            pipelines.iter().max_by_key(|r| r.workers),
        ) {
            if max.workers > 1 {
                println!(
                    "scaling: {} workers = {:.2} x 1 worker",
                    max.workers,
                    max.msgs_per_sec / one.msgs_per_sec
                );
            }
        }
    }
}
