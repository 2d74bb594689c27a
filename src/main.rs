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
        Command::Bench(args) => cli::bench::run(args),
        Command::MockCluster(args) => cli::mock_cluster::run(args),
        Command::Pipe(args) => cli::pipe::run(args),
    }
}
