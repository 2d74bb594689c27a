//! The results table.

use super::measure::Measurement;

/// One line of the table.
pub struct Row {
    name: String,
    workers: usize,
    rate: f64,
    mb: f64,
    ratio: f64,
    seconds: f64,
}

impl Row {
    pub fn new(name: &str, workers: usize, m: &Measurement, baseline_rate: f64) -> Self {
        Row {
            name: name.to_owned(),
            workers,
            rate: m.rate(),
            mb: m.mb_per_second(),
            ratio: m.rate() / baseline_rate,
            seconds: m.elapsed().as_secs_f64(),
        }
    }
}

/// Prints the table to stdout.
pub fn print_table(rows: &[Row]) {
    println!(
        "{:<30} {:>7} {:>12} {:>8} {:>9} {:>14} {:>8}",
        "run", "workers", "msgs/s", "MB/s", "vs raw", "per worker", "secs"
    );
    for row in rows {
        println!(
            "{:<30} {:>7} {:>12.0} {:>8.1} {:>8.0}% {:>13.0}% {:>8.2}",
            row.name,
            row.workers,
            row.rate,
            row.mb,
            row.ratio * 100.0,
            row.ratio * 100.0 / row.workers as f64,
            row.seconds
        );
    }
}
