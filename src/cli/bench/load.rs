//! Loading the input topic before the preloaded runs, with a progress bar when stderr is a
//! terminal (none in CI or when piped).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use timely_kafka::testing::{load_into_with, LoadReport};

use super::data::records;

/// Loads `messages` records of `size` bytes into `topic` (lz4-compressed by the loader) and
/// waits until the broker acknowledged every one.
pub fn preload(
    bootstrap: &str,
    topic: &str,
    messages: u64,
    size: usize,
    partitions: i32,
) -> Result<LoadReport, String> {
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(messages);
        if let Ok(style) = ProgressStyle::with_template(
            "loading {wide_bar} {human_pos}/{human_len} records, {eta} left",
        ) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let progress = bar.clone();
    let loaded = load_into_with(
        bootstrap,
        super::connection::settings(),
        topic,
        records(messages, size, partitions)
            .enumerate()
            .map(move |(i, record)| {
                if i.is_multiple_of(4096) {
                    progress.set_position(i as u64);
                }
                record
            }),
    )
    .map_err(|e| format!("loading {topic}: {e}"))?;
    bar.finish_and_clear();
    eprintln!(
        "loaded {} records ({:.1} MB) into {topic} ({partitions} partitions) in {:.2?}",
        loaded.records,
        loaded.bytes as f64 / 1e6,
        started.elapsed()
    );
    Ok(loaded)
}
