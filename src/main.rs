//! The `timely-kafka` command: tools around the timely-kafka library.
//!
//! A thin dispatcher: each subcommand lives in `src/cli/<command>.rs`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::logging::init();
    match cli.command {
        Some(Command::Bench(args)) => cli::bench::run(args),
        Some(Command::Lag(args)) => cli::lag::run(args),
        Some(Command::MockCluster(args)) => cli::mock_cluster::run(args),
        Some(Command::Pipe(args)) => cli::pipe::run(args),
        // `arg_required_else_help`: without a command, only `--version` gets here.
        Some(Command::Version(_)) | None => cli::version::run(),
    }
}
