//! Idle cost: CPU used by a joined source with nothing to read.

use std::time::{Duration, Instant};

use serde::Serialize;
use timely::dataflow::operators::Probe;
use timely::dataflow::ProbeHandle;
use timely_kafka::{KafkaSourceExt, SourceConfig};

use crate::cli::cpu::Proc;

/// CPU used while idle, as fractions of one core.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Idle {
    pub workers: usize,
    /// This process: the source, librdkafka's threads (and the broker if in-process).
    pub process: f64,
    /// The child broker process, if the broker runs in one.
    pub broker: Option<f64>,
}

/// Runs the source on `workers` workers over an empty topic for `window`, after it has
/// joined and found every partition at its end, and returns the CPU used over the window.
pub fn measure(
    config: SourceConfig,
    workers: usize,
    window: Duration,
    broker: Option<u32>,
) -> Result<Idle, String> {
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
        // Wait until the process has its assignment and is caught up (idle, bounded), then
        // measure: the cost of staying idle, not of joining and the first fetch round.
        let joined = Instant::now();
        while (handle.progress().assigned.is_empty() || handle.control().idle_for().is_zero())
            && joined.elapsed() < Duration::from_secs(30)
        {
            worker.step_or_park(Some(Duration::from_millis(10)));
        }
        let before = (
            Proc::This.cpu_time(),
            broker.and_then(|b| Proc::Pid(b).cpu_time()),
        );
        let start = Instant::now();
        while start.elapsed() < window {
            worker.step_or_park(Some(window.saturating_sub(start.elapsed())));
        }
        let after = (
            Proc::This.cpu_time(),
            broker.and_then(|b| Proc::Pid(b).cpu_time()),
        );
        let seconds = start.elapsed().as_secs_f64();
        handle.shutdown();
        let fraction =
            |a: Option<Duration>, b: Option<Duration>| Some((b? - a?).as_secs_f64() / seconds);
        Ok::<_, String>((fraction(before.0, after.0), fraction(before.1, after.1)))
    })?;
    let results: Vec<_> = guards.join();
    // Every worker measured the whole process over (nearly) the same window; take the first.
    match results.into_iter().next() {
        Some(Ok(Ok((Some(process), broker)))) => Ok(Idle {
            workers,
            process,
            broker,
        }),
        Some(Ok(Ok((None, _)))) => Err("CPU time is not readable from /proc on this system".into()),
        Some(Ok(Err(e))) => Err(e),
        Some(Err(e)) => Err(format!("worker failed: {e}")),
        None => Err("no worker ran".into()),
    }
}
