//! Runs one repetition of one measurement: resets the peak RSS, feeds the topic at the
//! rate if asked, runs the consumer side, and collects CPU, peak RSS and commit lag.

use std::collections::BTreeMap;
use std::time::Duration;

use timely_kafka::offsets::{GroupLag, OffsetReader, OffsetsError, PartitionLag, Watermarks};

use super::measure::{RunOutput, RunStats};
use super::rate::{self, FeedSpec};
use super::signals::RunSignals;
use crate::cli::cpu::{self, Proc};

/// Whose commits to check after a run.
pub struct LagTarget<'a> {
    pub bootstrap: &'a str,
    pub group: &'a str,
    pub topic: &'a str,
}

impl LagTarget<'_> {
    /// The group's lag on the topic now, read by a client that joins no group.
    fn read(&self) -> Result<GroupLag, OffsetsError> {
        let mut settings = super::connection::client_config(self.bootstrap);
        settings.set("client.id", "timely-kafka-bench-offsets");
        OffsetReader::new(self.bootstrap, self.group, &settings)?.group_lag([self.topic])
    }
}

/// The lag `now` would show had the group committed `committed` instead.
fn lag_at(now: &GroupLag, committed: &BTreeMap<i32, i64>) -> u64 {
    now.partitions
        .iter()
        .map(|p| {
            let marks = Watermarks {
                low: p.low,
                high: p.high,
            };
            let at = committed.get(&p.topic_partition.partition).copied();
            PartitionLag::new(p.topic_partition.clone(), at, marks).lag
        })
        .sum()
}

/// Runs `consume` with CPU time and peak RSS measured around it. With `feed`, a producer
/// thread writes the records at a fixed rate once the consumer says it is ready.
pub fn measure(
    broker_pid: Option<u32>,
    feed: Option<FeedSpec>,
    lag_target: Option<LagTarget<'_>>,
    consume: impl FnOnce(&RunSignals) -> Result<RunOutput, String>,
) -> Result<RunStats, String> {
    let signals = RunSignals::default();
    cpu::return_free_memory();
    let reset = Proc::This.reset_peak_rss();
    let rss_at_start = Proc::This.rss_bytes();
    let broker_before = broker_pid.and_then(|pid| Proc::Pid(pid).cpu_time());
    let before = Proc::This.cpu_time();
    let feeder = feed
        .map(|spec| rate::start(spec, signals.clone()))
        .transpose()?;
    let consumed = consume(&signals);
    if consumed.is_err() {
        signals.set_failed();
    }
    let fed = feeder.map(|thread| {
        thread
            .join()
            .unwrap_or_else(|_| Err("the rate producer thread panicked".into()))
    });
    let cpu = diff(before, Proc::This.cpu_time());
    let broker_cpu = diff(
        broker_before,
        broker_pid.and_then(|pid| Proc::Pid(pid).cpu_time()),
    );
    let peak_rss = reset.then(|| Proc::This.peak_rss_bytes()).flatten();
    // A feed failure explains a consumer failure: report it first.
    match fed {
        Some(Err(e)) => return Err(e),
        Some(Ok(report)) => eprintln!(
            "  fed {} records at {:.0} msgs/s during the run",
            report.sent,
            report.sent as f64 / report.elapsed.as_secs_f64().max(1e-9)
        ),
        None => {}
    }
    let output = consumed?;
    let (lag_at_last, lag_final) = match (lag_target, &output.committed_at_last) {
        (Some(target), Some(at_last)) => {
            let now = target.read().map_err(|e| e.to_string())?;
            (Some(lag_at(&now, at_last)), Some(now.total()))
        }
        _ => (None, None),
    };
    Ok(RunStats {
        output,
        lag_at_last,
        lag_final,
        cpu,
        peak_rss,
        rss_at_start,
        broker_cpu,
    })
}

fn diff(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    Some(after?.saturating_sub(before?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use timely_kafka::TopicPartition;

    #[test]
    fn lag_at_other_commits_keeps_the_watermarks() {
        let marks = [(0, (0, 100)), (1, (10, 50)), (2, (0, 7))];
        let now = GroupLag {
            group: "g".into(),
            partitions: marks
                .iter()
                .map(|&(p, (low, high))| {
                    PartitionLag::new(TopicPartition::new("t", p), None, Watermarks { low, high })
                })
                .collect(),
        };
        let at_last = BTreeMap::from([(0, 100), (2, 3)]);
        assert_eq!(lag_at(&now, &at_last), 40 + 4); // partition 0 is fully committed
        assert_eq!(now.total(), 100 + 40 + 7);
    }
}
