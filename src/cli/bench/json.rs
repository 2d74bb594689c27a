//! `--json PATH`: the table's results, with the machine and settings, as JSON.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::idle::Idle;
use super::summary::Row;

/// The settings a run used.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub messages: u64,
    pub size: usize,
    pub partitions: i32,
    pub reps: usize,
    pub workers: Vec<usize>,
    pub tick_ms: u64,
    pub commit_interval_ms: u64,
    pub batch_size: usize,
    pub batch_timeout_ms: u64,
    /// `Some` with `--rate`: records produced at this rate while each run reads.
    pub rate: Option<u64>,
    pub broker: String,
}

#[derive(Serialize)]
struct Machine {
    date_utc: String,
    cores: usize,
    memory_gib: Option<f64>,
    kernel: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    machine: Machine,
    settings: &'a Settings,
    /// What the latency columns mean for this run.
    latency: &'static str,
    rows: &'a [Row],
    idle_cpu: &'a [Idle],
    broker_peak_rss_mib: Option<f64>,
}

/// Writes the results to `path`.
pub fn write(
    path: &std::path::Path,
    settings: &Settings,
    rows: &[Row],
    idle: &[Idle],
    broker_peak_rss_mib: Option<f64>,
) -> Result<(), String> {
    let document = Document {
        machine: machine(),
        settings,
        latency: if settings.rate.is_some() {
            "record timestamp (produce time, at the fixed rate) to processed; pipe: to acknowledged by the output (frontier); raw copy: to acknowledged by the output (delivery report)"
        } else {
            "preloaded: record timestamps are load times, so these are time since the load, not a latency"
        },
        rows,
        idle_cpu: idle,
        broker_peak_rss_mib,
    };
    let text = serde_json::to_string_pretty(&document)
        .map_err(|e| format!("encoding the results as JSON: {e}"))?;
    std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
}

fn machine() -> Machine {
    let memory_gib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some((kb / (1 << 20) as f64 * 10.0).round() / 10.0)
    });
    Machine {
        date_utc: today_utc(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_gib,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|k| k.trim().to_owned()),
    }
}

/// Today's date, `YYYY-MM-DD`, in UTC.
fn today_utc() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
    }
}
