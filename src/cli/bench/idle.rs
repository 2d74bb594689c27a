//! Idle cost: CPU used by a joined source with nothing to read.

use std::time::{Duration, Instant};

use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely_kafka::{KafkaSourceExt, SourceConfig};

use crate::cli::cpu::process_cpu_time;

/// Runs the source on `workers` workers over an empty topic for `window`, after it has
/// joined, and returns the CPU used as a fraction of one core.
pub fn cpu_fraction(config: SourceConfig, workers: usize, window: Duration) -> Result<f64, String> {
    let timely_config = if workers > 1 {
        timely::Config::process(workers)
    } else {
        timely::Config::thread()
    };
    let guards = timely::execute(timely_config, move |worker| {
        let probe = ProbeHandle::new();
        let handle = worker.dataflow(|scope| {
            let source = scope.kafka_source(&config).map_err(|e| e.to_string())?;
            source.records.probe_with(&probe);
            source.handle.commit_after(&probe);
            Ok::<_, String>(source.handle)
        })?;
        // Wait until the process has its assignment (bounded), then measure.
        let joined = Instant::now();
        while handle.progress().assigned.is_empty() && joined.elapsed() < Duration::from_secs(30) {
            worker.step_or_park(Some(Duration::from_millis(10)));
        }
        let start_cpu = process_cpu_time();
        let start = Instant::now();
        while start.elapsed() < window {
            worker.step_or_park(Some(window.saturating_sub(start.elapsed())));
        }
        let used = match (start_cpu, process_cpu_time()) {
            (Some(a), Some(b)) => Some((b - a).as_secs_f64() / start.elapsed().as_secs_f64()),
            _ => None,
        };
        handle.shutdown();
        Ok::<_, String>(used)
    })?;
    let results: Vec<_> = guards.join();
    // Every worker measured the whole process over (nearly) the same window; take the first.
    match results.into_iter().next() {
        Some(Ok(Ok(Some(fraction)))) => Ok(fraction),
        Some(Ok(Ok(None))) => Err("CPU time is not readable from /proc on this system".into()),
        Some(Ok(Err(e))) => Err(e),
        Some(Err(e)) => Err(format!("worker failed: {e}")),
        None => Err("no worker ran".into()),
    }
}
