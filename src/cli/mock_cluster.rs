//! `timely-kafka mock-cluster`: serve an [`EmbeddedCluster`] to other processes.
//!
//! Creates the requested topics, then prints the bootstrap servers as the first line of
//! stdout (so a script or test can read it and connect), and serves until SIGINT or
//! SIGTERM, then prints each created topic's record count (`TOPIC records=N`) and exits 0.
//! Topics exist, and `--load` records are in them, before the bootstrap line is printed.
//! A note on stderr says how the mock's classic group protocol deviates from Kafka's (a
//! group stalls after a member leaves) and that the consumer protocol avoids it.

use std::io::{self, Write};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use timely_kafka::testing::{ClusterError, EmbeddedCluster, TestRecord};
use tracing::info;

use super::HelpFlag;

/// Arguments of `mock-cluster`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct MockClusterArgs {
    /// How many brokers to start.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    brokers: i32,
    /// Create a topic with this many partitions; repeat for more topics.
    #[arg(long = "topic", value_name = "NAME:PARTITIONS")]
    topics: Vec<TopicSpec>,
    /// How long a new group's first rebalance waits for more members, in milliseconds, so
    /// members started together share the first assignment. Kafka's
    /// `group.initial.rebalance.delay.ms` default is the default here too.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    initial_rebalance_delay_ms: u64,
    /// Load this many records (key `key-{i}`, payload `record-{i}`) into a topic created
    /// with `--topic`, before the bootstrap line is printed; repeat for more topics.
    #[arg(long = "load", value_name = "NAME:COUNT")]
    loads: Vec<LoadSpec>,
    #[command(flatten)]
    help: HelpFlag,
}

/// A `--topic NAME:PARTITIONS` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    name: String,
    partitions: i32,
}

impl FromStr for TopicSpec {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let Some((name, partitions)) = value.split_once(':') else {
            return Err("expected NAME:PARTITIONS, for example orders:8 (missing ':')".into());
        };
        if name.is_empty() {
            return Err("the topic name before ':' is empty".into());
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!(
                "topic name {name:?} contains {bad:?}; Kafka allows only letters, digits, '.', '_' and '-'"
            ));
        }
        let partitions = match partitions.parse::<i32>() {
            Ok(partitions) if partitions >= 1 => partitions,
            _ => {
                return Err(format!(
                "the partition count {partitions:?} after ':' must be a whole number of at least 1"
            ))
            }
        };
        Ok(TopicSpec {
            name: name.to_owned(),
            partitions,
        })
    }
}

/// A `--load NAME:COUNT` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSpec {
    topic: String,
    count: u64,
}

impl FromStr for LoadSpec {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let Some((topic, count)) = value.rsplit_once(':') else {
            return Err("expected NAME:COUNT, for example orders:100000 (missing ':')".into());
        };
        let count = count
            .parse::<u64>()
            .map_err(|_| format!("the record count {count:?} after ':' must be a whole number"))?;
        Ok(LoadSpec {
            topic: topic.to_owned(),
            count,
        })
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("could not register handlers for SIGINT and SIGTERM: {0}")]
    Signals(#[source] io::Error),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("could not write to stdout: {0}")]
    Stdout(#[source] io::Error),
    #[error("--load {0}: the topic is not created by a --topic option")]
    LoadUnknownTopic(String),
}

/// Runs the command; exit code 0 after a clean shutdown on SIGINT or SIGTERM.
pub fn run(args: MockClusterArgs) -> ExitCode {
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &MockClusterArgs) -> Result<(), ServeError> {
    // Register before anything is printed, so a signal sent as soon as the bootstrap
    // line is read still shuts down cleanly.
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(ServeError::Signals)?;
    let cluster = EmbeddedCluster::new(args.brokers)?;
    cluster
        .set_group_initial_rebalance_delay(Duration::from_millis(args.initial_rebalance_delay_ms));
    for topic in &args.topics {
        cluster.create_topic(&topic.name, topic.partitions)?;
    }
    for load in &args.loads {
        if !args.topics.iter().any(|t| t.name == load.topic) {
            return Err(ServeError::LoadUnknownTopic(load.topic.clone()));
        }
        let records =
            (0..load.count).map(|i| TestRecord::new(format!("record-{i}")).key(format!("key-{i}")));
        cluster.load(&load.topic, records)?;
        info!(topic = %load.topic, records = load.count, "loaded");
    }
    let bootstrap_servers = cluster.bootstrap_servers();
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{bootstrap_servers}").map_err(ServeError::Stdout)?;
        stdout.flush().map_err(ServeError::Stdout)?;
    }
    eprintln!(
        "note: librdkafka's mock cluster stalls a classic-protocol group after a member \
         leaves: its next assignment waits about session.timeout.ms - 1 s (44 s by default). \
         Clients that restart often should use `--group-protocol consumer` (KIP-848), which \
         has no such wait here."
    );
    info!(
        %bootstrap_servers,
        brokers = args.brokers,
        topics = args.topics.len(),
        "mock cluster serving; stop it with SIGINT or SIGTERM"
    );
    // Blocks until a signal arrives.
    let signal = signals.forever().next();
    info!(?signal, "signal received, shutting down");
    report(&cluster, &args.topics)?;
    drop(cluster);
    Ok(())
}

/// Prints one line per created topic on shutdown: `TOPIC records=N`, the sum of its
/// partitions' end offsets, so a script can check what a pipeline wrote.
fn report(cluster: &EmbeddedCluster, topics: &[TopicSpec]) -> Result<(), ServeError> {
    let mut stdout = io::stdout().lock();
    for topic in topics {
        let records: i64 = cluster.end_offsets(&topic.name)?.values().sum();
        writeln!(stdout, "{} records={records}", topic.name).map_err(ServeError::Stdout)?;
    }
    stdout.flush().map_err(ServeError::Stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_and_partitions() {
        assert_eq!(
            "orders.v1:8".parse::<TopicSpec>(),
            Ok(TopicSpec {
                name: "orders.v1".into(),
                partitions: 8
            })
        );
    }

    #[test]
    fn rejects_bad_values() {
        for bad in ["x", ":3", "t:", "t:0", "t:-1", "t:two", "a b:1", "t:1:2"] {
            assert!(bad.parse::<TopicSpec>().is_err(), "{bad} was accepted");
        }
    }
}
