//! One repetition of each measurement, set up from the command line: which topic, which
//! configs, which feed, and the line it logs.

use std::time::Duration;

use timely_kafka::sink::SinkConfig;
use timely_kafka::SourceConfig;

use super::connection;
use super::copy::{self, CopySpec};
use super::measure::RunStats;
use super::rate::FeedSpec;
use super::runner::{self, LagTarget};
use super::{pipe, pipeline, produce, raw, BenchArgs};

/// What every run needs.
pub struct Runs<'a> {
    pub args: &'a BenchArgs,
    /// `--set` librdkafka settings for the consumers.
    pub settings: &'a [(String, String)],
    pub bootstrap: &'a str,
    pub pid: Option<u32>,
    pub limit: Duration,
    pub latency_every: u64,
}

impl Runs<'_> {
    pub fn raw(&self, rep: usize, topic: &str) -> Result<RunStats, String> {
        let a = self.args;
        let stats = runner::measure(self.pid, self.feed(topic), None, |signals| {
            raw::consume(
                self.bootstrap,
                &self.raw_settings(),
                topic,
                a.partitions,
                a.messages,
                self.latency_every,
                signals,
                self.limit,
            )
        })?;
        eprintln!("rep {rep}: raw consumer {:.0} msgs/s", stats.rate());
        Ok(stats)
    }

    pub fn pipeline(&self, rep: usize, topic: &str, workers: usize) -> Result<RunStats, String> {
        let a = self.args;
        let config = self.source_config(topic)?;
        let group = config.group_id().to_owned();
        let target = self.lag_target(&group, topic);
        let batch_timeout = Duration::from_millis(a.batch_timeout_ms);
        let stats = runner::measure(self.pid, self.feed(topic), Some(target), |signals| {
            pipeline::consume(
                config,
                workers,
                a.messages,
                batch_timeout,
                signals,
                self.limit,
            )
        })?;
        let millis = |d: Option<Duration>| {
            d.map_or_else(
                || "-".to_owned(),
                |d| format!("{:.0} ms", d.as_secs_f64() * 1e3),
            )
        };
        eprintln!(
            "rep {rep}: pipeline w={workers} {:.0} msgs/s (assignment to first record {}, \
             shutdown with final commit {})",
            stats.rate(),
            millis(stats.output.assignment_to_first_record()),
            millis(stats.output.shutdown),
        );
        Ok(stats)
    }

    pub fn produce(&self, rep: usize, topic: &str) -> Result<RunStats, String> {
        let a = self.args;
        let stats = runner::measure(self.pid, None, None, |_| {
            produce::produce(self.bootstrap, topic, a.messages, a.size)
        })?;
        eprintln!("rep {rep}: raw produce {:.0} msgs/s", stats.rate());
        Ok(stats)
    }

    /// The pipe's baseline: a raw consume→produce loop from `input` to `output`.
    pub fn copy(&self, rep: usize, input: &str, output: &str) -> Result<RunStats, String> {
        let a = self.args;
        let group = timely_kafka::testing::unique_name("bench-copy-group");
        let target = self.lag_target(&group, input);
        let settings = self.raw_settings();
        let spec = CopySpec {
            bootstrap: self.bootstrap,
            settings: &settings,
            input,
            output,
            partitions: a.partitions,
            group: &group,
            expected: a.messages,
            latency_every: self.latency_every,
            commit_interval: Duration::from_millis(a.commit_interval_ms),
        };
        let stats = runner::measure(self.pid, self.feed(input), Some(target), |signals| {
            copy::copy(&spec, signals, self.limit)
        })?;
        eprintln!("rep {rep}: raw copy {:.0} msgs/s", stats.rate());
        Ok(stats)
    }

    pub fn pipe(
        &self,
        rep: usize,
        input: &str,
        output: &str,
        workers: usize,
    ) -> Result<RunStats, String> {
        let a = self.args;
        let source = self.source_config(input)?;
        let group = source.group_id().to_owned();
        let mut sink = SinkConfig::builder()
            .brokers(self.bootstrap)
            .default_topic(output);
        for (key, value) in connection::settings() {
            sink = sink.set(key, value);
        }
        let sink = sink.build().map_err(|e| e.to_string())?;
        let target = self.lag_target(&group, input);
        let stats = runner::measure(self.pid, self.feed(input), Some(target), |signals| {
            pipe::pipe(
                source,
                sink,
                workers,
                a.messages,
                self.latency_every,
                signals,
                self.limit,
            )
        })?;
        eprintln!("rep {rep}: pipe w={workers} {:.0} msgs/s", stats.rate());
        Ok(stats)
    }

    /// The raw consumer's settings: the source's fetch wait, then `--set`.
    fn raw_settings(&self) -> Vec<(String, String)> {
        let wait = (
            "fetch.wait.max.ms".to_owned(),
            self.args.fetch_wait_ms.to_string(),
        );
        let limits = match self.args.raw_limits {
            super::RawLimits::Large => Vec::new(),
            super::RawLimits::Source => timely_kafka::source::prefetch_limits(
                self.args.prefetch_budget_mib.unwrap_or(64) << 20,
            )
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
        };
        std::iter::once(wait)
            .chain(limits)
            .chain(self.settings.iter().cloned())
            .collect()
    }

    /// The rate producer for a run's topic, with `--rate`.
    fn feed(&self, topic: &str) -> Option<FeedSpec> {
        let a = self.args;
        a.rate.map(|rate| FeedSpec {
            bootstrap: self.bootstrap.to_owned(),
            topic: topic.to_owned(),
            partitions: a.partitions,
            messages: a.messages,
            size: a.size,
            rate,
        })
    }

    fn lag_target<'b>(&'b self, group: &'b str, topic: &'b str) -> LagTarget<'b> {
        LagTarget {
            bootstrap: self.bootstrap,
            group,
            topic,
        }
    }

    pub fn source_config(&self, topic: &str) -> Result<SourceConfig, String> {
        let mut builder = SourceConfig::builder()
            .brokers(self.bootstrap)
            .group_id(timely_kafka::testing::unique_name("bench-group"))
            .topic(topic)
            .tick(Duration::from_millis(self.args.tick_ms))
            .fetch_max_wait(Duration::from_millis(self.args.fetch_wait_ms))
            .commit_interval(Duration::from_millis(self.args.commit_interval_ms));
        if let Some(mib) = self.args.prefetch_budget_mib {
            builder = builder.prefetch_budget_bytes(mib << 20);
        }
        if let Some(mib) = self.args.max_in_flight_mib {
            builder = builder.max_in_flight_bytes(mib << 20);
        }
        for (key, value) in connection::settings().iter().chain(self.settings) {
            builder = builder.set(key, value);
        }
        builder.build().map_err(|e| e.to_string())
    }
}
