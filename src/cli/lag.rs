//! `timely-kafka lag`: where a consumer group stands, per partition, as Kafka's
//! `kafka-consumer-groups --describe` shows it: the committed offset, the end offset (high
//! watermark) and the lag between them, with the total. `--json` prints the same as one
//! JSON document.
//!
//! It reads through [`timely_kafka::offsets`] with a consumer that joins no group, so
//! running it never disturbs the group's members. Without `--topic`, the group's topics are
//! those it has committed offsets on (every topic's partitions are asked for the group's
//! commits: a cluster's worth of partitions in one request).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use clap::Args;
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use timely_kafka::offsets::{GroupLag, OffsetReader, OffsetsError};

use super::settings::{parse_setting, ClusterSettings};
use super::HelpFlag;

/// Arguments of `lag`.
#[derive(Debug, Args)]
#[command(
    disable_help_flag = true,
    after_help = "Columns: COMMITTED is the offset the group resumes from (last processed + 1; \
`-` where it has committed nothing), END-OFFSET the partition's high watermark (the offset the \
next record gets), LAG the records between them (a partition without a commit counts every \
record it still holds). The group is read, never joined. Exit status 1: a setting refused, no \
broker reachable, a topic that does not exist, or (without --topic) a group with no commits."
)]
pub struct LagArgs {
    /// Kafka bootstrap servers, `host:port[,host:port...]`. Required unless --config gives
    /// `bootstrap.servers`; overrides it when both do.
    #[arg(long)]
    brokers: Option<String>,
    /// The consumer group to describe.
    #[arg(long)]
    group: String,
    /// A topic to describe the group on; repeat as needed. Without it: every topic the group
    /// has committed offsets on.
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
    /// A client properties file (`key=value` lines, as Kafka's tools and kcat read):
    /// bootstrap servers, security protocol, certificates, SASL credentials. A value may be
    /// `${env:NAME}`, read from the environment. --set overrides it.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// A librdkafka setting for the client, `key=value`; repeat as needed.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Give up on a request (and on brokers that do not answer) after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    #[command(flatten)]
    help: HelpFlag,
}

/// Prints the group's lag; exit status 0, or 1 on failure.
pub fn run(args: LagArgs) -> ExitCode {
    match lag(&args) {
        Ok(lag) => {
            if args.json {
                println!("{}", json(&lag));
            } else {
                print!("{}", table(&lag));
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn lag(args: &LagArgs) -> Result<GroupLag, String> {
    let cluster = ClusterSettings::read(args.brokers.as_deref(), args.config.as_deref())?;
    let mut settings = ClientConfig::new();
    settings.set("client.id", "timely-kafka-lag");
    for (key, value) in cluster.file.iter().chain(&args.settings) {
        settings.set(key, value);
    }
    let timeout = Duration::from_secs(args.timeout);
    let reader =
        OffsetReader::with_context(&cluster.brokers, &args.group, &settings, Quiet::default())
            .map_err(|e| e.to_string())?
            .timeout(timeout);
    let failed = |error: OffsetsError| explain(error, &reader, &cluster.brokers, timeout);
    let topics = if args.topics.is_empty() {
        let topics = reader.group_topics().map_err(failed)?;
        if topics.is_empty() {
            return Err(format!(
                "group `{}` has no committed offsets on any topic (a group that never \
                 committed, or a misspelt --group); name its topics with --topic to see their \
                 end offsets",
                args.group
            ));
        }
        topics
    } else {
        args.topics.clone()
    };
    reader.group_lag(&topics).map_err(failed)
}

/// An error in the command's own terms.
fn explain(
    error: OffsetsError,
    reader: &OffsetReader<Quiet>,
    brokers: &str,
    timeout: Duration,
) -> String {
    use RDKafkaErrorCode::{AllBrokersDown, BrokerTransportFailure, OperationTimedOut, Resolve};
    match error {
        OffsetsError::UnknownTopic { topic } => {
            format!("topic `{topic}` does not exist on `{brokers}`; check --topic")
        }
        error
            if matches!(
                error.code(),
                Some(BrokerTransportFailure | OperationTimedOut | AllBrokersDown | Resolve)
            ) =>
        {
            // librdkafka queues its logs and errors for the client to serve: serve them.
            for _ in 0..20 {
                if reader.consumer().poll(Duration::from_millis(50)).is_none() {
                    break;
                }
            }
            let cause = reader
                .consumer()
                .context()
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .map(|cause| format!(": {cause}"))
                .unwrap_or_default();
            format!(
                "no broker answered at `{brokers}` within {timeout:?}{cause} ({error}); check \
                 --brokers and the security settings, or wait longer with --timeout SECONDS"
            )
        }
        other => other.to_string(),
    }
}

/// The group's lag as a table, one row per partition, and the total.
fn table(lag: &GroupLag) -> String {
    let header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "COMMITTED",
        "END-OFFSET",
        "LAG",
    ];
    let rows: Vec<[String; 6]> = lag
        .partitions
        .iter()
        .map(|p| {
            [
                lag.group.clone(),
                p.topic_partition.topic().to_owned(),
                p.topic_partition.partition.to_string(),
                p.committed.map_or("-".to_owned(), |c| c.to_string()),
                p.high.to_string(),
                p.lag.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    let _ = writeln!(out, "TOTAL LAG {}", lag.total());
    out
}

/// The group's lag as one JSON document.
fn json(lag: &GroupLag) -> serde_json::Value {
    let partitions: Vec<serde_json::Value> = lag
        .partitions
        .iter()
        .map(|p| {
            serde_json::json!({
                "topic": p.topic_partition.topic(),
                "partition": p.topic_partition.partition,
                "committed": p.committed,
                "start_offset": p.low,
                "end_offset": p.high,
                "lag": p.lag,
            })
        })
        .collect();
    let mut topics: Vec<&str> = lag
        .partitions
        .iter()
        .map(|p| p.topic_partition.topic())
        .collect();
    topics.dedup();
    serde_json::json!({
        "group": lag.group,
        "topics": topics,
        "partitions": partitions,
        "total_lag": lag.total(),
    })
}

/// A client context that keeps librdkafka's last error (a failed connection: refused, TLS,
/// authentication) for the command's own error message, instead of logging each retry.
/// librdkafka queues its logs and error events for the consumer to serve
/// ([`explain`] does, once a request failed).
#[derive(Default)]
struct Quiet {
    last_error: Mutex<Option<String>>,
}

impl Quiet {
    fn keep(&self, error: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error.to_owned());
    }
}

impl ClientContext for Quiet {
    timely_kafka::oauth_token_refresh!();

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        tracing::debug!(target: "librdkafka", ?level, fac, "{message}");
        use RDKafkaLogLevel::{Alert, Critical, Emerg, Error};
        if matches!(level, Emerg | Alert | Critical | Error) {
            // `[thrd:host:port/bootstrap]: host:port/bootstrap: Connect to ... failed: ...`
            let message = match message.split_once("]: ") {
                Some((thread, rest)) if thread.starts_with("[thrd:") => rest,
                _ => message,
            };
            self.keep(message);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", "{error}: {reason}");
        if !matches!(error, KafkaError::Global(RDKafkaErrorCode::AllBrokersDown)) {
            self.keep(reason);
        }
    }
}

impl ConsumerContext for Quiet {}

#[cfg(test)]
mod tests {
    use super::*;
    use timely_kafka::offsets::{PartitionLag, Watermarks};
    use timely_kafka::TopicPartition;

    fn sample() -> GroupLag {
        let marks = Watermarks { low: 0, high: 120 };
        GroupLag {
            group: "billing".into(),
            partitions: vec![
                PartitionLag::new(TopicPartition::new("orders", 0), Some(100), marks),
                PartitionLag::new(TopicPartition::new("orders", 1), None, marks),
            ],
        }
    }

    #[test]
    fn the_table_has_a_row_per_partition_and_the_total() {
        let text = table(&sample());
        let lines: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines,
            [
                vec![
                    "GROUP",
                    "TOPIC",
                    "PARTITION",
                    "COMMITTED",
                    "END-OFFSET",
                    "LAG"
                ],
                vec!["billing", "orders", "0", "100", "120", "20"],
                vec!["billing", "orders", "1", "-", "120", "120"],
                vec!["TOTAL", "LAG", "140"],
            ]
        );
        let column = text.find("END-OFFSET").unwrap();
        for row in text.lines().skip(1).take(2) {
            assert!(row[column..].starts_with("120"), "aligned:\n{text}");
        }
    }

    #[test]
    fn the_json_says_null_where_nothing_is_committed() {
        let value = json(&sample());
        assert_eq!(value["group"], "billing");
        assert_eq!(value["topics"], serde_json::json!(["orders"]));
        assert_eq!(value["partitions"][0]["committed"], 100);
        assert!(value["partitions"][1]["committed"].is_null());
        assert_eq!(value["partitions"][1]["end_offset"], 120);
        assert_eq!(value["total_lag"], 140);
    }
}
