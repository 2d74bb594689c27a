//! The results table, on stdout.

use super::idle::Idle;
use super::summary::{Row, RunKind};

/// How the run was set up, for the header over the table and the notes under it.
pub struct Context<'a> {
    pub broker: &'a str,
    pub messages: u64,
    pub size: usize,
    pub partitions: i32,
    pub reps: usize,
    /// `Some(rate)` when records were produced at a fixed rate during each run.
    pub rate: Option<u64>,
    pub tick_ms: u64,
    pub commit_interval_ms: u64,
    pub broker_peak_rss_mib: Option<f64>,
}

/// Prints the header, the table and its notes.
pub fn print(rows: &[Row], idle: &[Idle], context: &Context<'_>) {
    println!("{}", header(context));
    let table = table(rows, context.rate.is_some());
    for line in table {
        println!("{line}");
    }
    notes(rows, idle, context);
}

/// What was measured, in one line.
fn header(context: &Context<'_>) -> String {
    let feed = match context.rate {
        Some(rate) => format!("produced at {rate} msgs/s during each run"),
        None => "preloaded".to_owned(),
    };
    format!(
        "bench: {} records x {} B, {} partitions, {} repetition(s) alternated, {feed}; broker: {}",
        context.messages, context.size, context.partitions, context.reps, context.broker
    )
}

/// The table's columns: title and width. The first is left-aligned.
const COLUMNS: [(&str, usize); 15] = [
    ("run", 13),
    ("w", 2),
    ("msgs/s", 10),
    ("min-max", 9),
    ("MB/s", 7),
    ("vs raw", 7),
    ("per w", 7),
    ("vs prod", 8),
    ("vs copy", 8),
    ("p50 ms", 9),
    ("p99 ms", 9),
    ("lag", 8),
    ("RSS MiB", 8),
    ("CPU s/M", 7),
    ("brk s/M", 7),
];

/// The latency columns (p50, p99).
const LATENCY: [usize; 2] = [9, 10];

/// The table's lines. The latency columns only with `latency` (a `--rate` run): preloaded,
/// they would say how long ago the load was.
fn table(rows: &[Row], latency: bool) -> Vec<String> {
    let shown = |i: &usize| latency || !LATENCY.contains(i);
    let line = |cells: [String; 15]| {
        cells
            .iter()
            .enumerate()
            .filter(|(i, _)| shown(i))
            .map(|(i, cell)| match (i, COLUMNS[i].1) {
                (0, width) => format!("{cell:<width$}"),
                (_, width) => format!("{cell:>width$}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut lines = vec![line(COLUMNS.map(|(title, _)| title.to_owned()))];
    lines.extend(rows.iter().map(|row| line(cells(row))));
    lines
}

fn cells(row: &Row) -> [String; 15] {
    let percent = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.0}%", r * 100.0));
    let number = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
    [
        row.run.label().to_owned(),
        row.workers.to_string(),
        format!("{:.0}", row.msgs_per_sec),
        spread(row),
        format!("{:.1}", row.mb_per_sec),
        percent(row.vs_raw_consumer),
        percent(row.vs_raw_consumer.map(|r| r / row.workers as f64)),
        percent(row.vs_raw_produce),
        percent(row.vs_raw_copy),
        number(row.latency_p50_ms, 1),
        number(row.latency_p99_ms, 1),
        row.commit_lag_at_last_record
            .map_or("-".into(), |l| l.to_string()),
        number(row.peak_rss_mib, 0),
        number(row.cpu_s_per_million, 2),
        number(row.broker_cpu_s_per_million, 2),
    ]
}

/// The slowest and fastest repetition as percentages of the median, `94-103%` (`-` with
/// one repetition). The plot writes it in its column of figures too.
pub fn spread(row: &Row) -> String {
    let min = row.rates.iter().copied().reduce(f64::min);
    let max = row.rates.iter().copied().reduce(f64::max);
    match (min, max) {
        (Some(min), Some(max)) if row.rates.len() > 1 && row.msgs_per_sec > 0.0 => format!(
            "{:.0}-{:.0}%",
            min / row.msgs_per_sec * 100.0,
            max / row.msgs_per_sec * 100.0
        ),
        _ => "-".into(),
    }
}

fn notes(rows: &[Row], idle: &[Idle], context: &Context<'_>) {
    println!();
    println!(
        "msgs/s: median repetition, first record to last; min-max: slowest and fastest repetition, % of the median; per w = vs raw / workers; vs prod = vs raw produce; vs copy = vs raw copy (consume -> produce loop, no timely)"
    );
    match context.rate {
        None => println!(
            "latency: not shown, PRELOADED run (record timestamps are load times, so the JSON's latency fields are time since the load); measure latency with --rate N"
        ),
        Some(rate) => println!(
            "latency: record timestamp (produce time, {rate} msgs/s produced during the run) -> processed; pipe: -> output acknowledged (frontier); raw copy: -> output acknowledged (delivery report); tick {} ms, commit interval {} ms",
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
    for row in rows.iter().filter(|r| r.run == RunKind::PipelineMetrics) {
        if let Some(ratio) = row.vs_metrics_off {
            println!(
                "metrics: pipeline w={} with every metric recorded (Prometheus recorder) at {:.0} msgs/s = {:.3} x without (cost {:+.1} %)",
                row.workers,
                row.msgs_per_sec,
                ratio,
                (1.0 - ratio) * 100.0
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::bench::measure::RunStats;
    use crate::cli::bench::summary::RunKind;

    #[test]
    fn latency_columns_only_with_a_rate() {
        let rows = [Row::new(RunKind::Pipe, 1, &[RunStats::default()])];
        let preloaded = table(&rows, false);
        assert!(preloaded[0].contains("vs copy") && !preloaded[0].contains("p50"));
        let fed = table(&rows, true);
        assert!(fed[0].contains("p50 ms") && fed[0].contains("p99 ms"));
        assert_eq!(fed[1].split_whitespace().count(), 15);
        assert_eq!(preloaded[1].split_whitespace().count(), 13);
        let context = Context {
            broker: "mock",
            messages: 50_000,
            size: 100,
            partitions: 8,
            reps: 3,
            rate: None,
            tick_ms: 100,
            commit_interval_ms: 1000,
            broker_peak_rss_mib: None,
        };
        assert_eq!(
            header(&context),
            "bench: 50000 records x 100 B, 8 partitions, 3 repetition(s) alternated, preloaded; broker: mock"
        );
        let mut row = rows[0].clone();
        row.rates = vec![90.0, 100.0, 120.0];
        row.msgs_per_sec = 100.0;
        assert_eq!(spread(&row), "90-120%");
        row.rates.truncate(1);
        assert_eq!(spread(&row), "-");
    }
}
