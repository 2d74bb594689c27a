//! `timely-kafka mock-cluster`: serve an [`EmbeddedCluster`] to other processes.
//!
//! Creates the requested topics, then prints the bootstrap servers as the first line of
//! stdout (so a script or test can read it and connect), and serves until SIGINT or
//! SIGTERM, then exits 0. Topics exist before the line is printed.

use std::io::{self, Write};
use std::process::ExitCode;
use std::str::FromStr;

use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use timely_kafka::testing::{ClusterError, EmbeddedCluster};
use tracing::{error, info};

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

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("could not register handlers for SIGINT and SIGTERM: {0}")]
    Signals(#[source] io::Error),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("could not write the bootstrap servers to stdout: {0}")]
    Stdout(#[source] io::Error),
}

/// Runs the command; exit code 0 after a clean shutdown on SIGINT or SIGTERM.
pub fn run(args: MockClusterArgs) -> ExitCode {
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!("mock-cluster failed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &MockClusterArgs) -> Result<(), ServeError> {
    // Register before anything is printed, so a signal sent as soon as the bootstrap
    // line is read still shuts down cleanly.
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(ServeError::Signals)?;
    let cluster = EmbeddedCluster::new(args.brokers)?;
    for topic in &args.topics {
        cluster.create_topic(&topic.name, topic.partitions)?;
    }
    let bootstrap_servers = cluster.bootstrap_servers();
    {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{bootstrap_servers}").map_err(ServeError::Stdout)?;
        stdout.flush().map_err(ServeError::Stdout)?;
    }
    info!(
        %bootstrap_servers,
        brokers = args.brokers,
        topics = args.topics.len(),
        "mock cluster serving; stop it with SIGINT or SIGTERM"
    );
    // Blocks until a signal arrives.
    let signal = signals.forever().next();
    info!(?signal, "signal received, shutting down");
    drop(cluster);
    Ok(())
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
