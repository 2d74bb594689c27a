//! Command-line parsing shared by all subcommands, and the subcommands themselves.
//!
//! `pipe` takes timely's own flags (`-w/--threads`, `-n/--processes`, `-p/--process`,
//! `-h/--hostfile`) and `bench` its `-w`, so no command has clap's `-h` help short flag:
//! every command gets a long-only `--help` through [`HelpFlag`] instead. Commands print
//! errors once, as `error: ...` on stderr, and their own progress as plain lines; the log
//! ([`logging`]) carries warnings and errors only unless `RUST_LOG` asks for more.

pub mod bench;
pub mod cpu;
pub mod lag;
pub mod logging;
pub mod mock_cluster;
pub mod pipe;
pub mod settings;
pub mod version;

use clap::{ArgAction, Args, Parser, Subcommand};

/// Kafka sources, ordered processing and frontier-driven commits for timely dataflow.
#[derive(Debug, Parser)]
#[command(
    name = "timely-kafka",
    disable_help_flag = true,
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print the version, librdkafka's version and its built-in features (as `version`).
    #[arg(long)]
    pub version: bool,
    #[command(flatten)]
    help: HelpFlag,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure the pipeline against a raw rdkafka consumer on the same broker.
    Bench(bench::BenchArgs),
    /// Show a consumer group's committed offsets, end offsets and lag, per partition.
    Lag(lag::LagArgs),
    /// Serve an in-process mock Kafka cluster on loopback until SIGINT or SIGTERM.
    MockCluster(mock_cluster::MockClusterArgs),
    /// Consume a topic, transform each payload, produce to another topic, at-least-once.
    Pipe(pipe::PipeArgs),
    /// Print the version, librdkafka's version and its built-in features (TLS, SASL, ...).
    Version(version::VersionArgs),
}

/// A long-only `--help` flag; `-h` is left free for timely's `--hostfile`.
/// Flatten it into every command that also sets `disable_help_flag = true`.
#[derive(Debug, Args)]
pub struct HelpFlag {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    /// `-h` is timely's `--hostfile` wherever it exists, never help.
    #[test]
    fn h_is_never_help() {
        let root = Cli::command();
        for command in std::iter::once(&root).chain(root.get_subcommands()) {
            for arg in command
                .get_arguments()
                .filter(|arg| arg.get_short() == Some('h'))
            {
                assert_eq!(
                    arg.get_long(),
                    Some("hostfile"),
                    "{}: -h is not the host file",
                    command.get_name()
                );
            }
        }
        let pipe = root.find_subcommand("pipe").expect("pipe exists");
        assert!(
            pipe.get_arguments().any(|a| a.get_short() == Some('h')),
            "pipe takes timely's -h"
        );
    }
}
