//! `timely-kafka version` (and `--version`): what this build is and can do.

use std::process::ExitCode;

use clap::Args;

use super::HelpFlag;

/// `version` takes no arguments but `--help`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct VersionArgs {
    #[command(flatten)]
    help: HelpFlag,
}

/// Prints [`timely_kafka::BuildInfo`] to stdout.
pub fn run() -> ExitCode {
    println!("{}", timely_kafka::BuildInfo::current());
    ExitCode::SUCCESS
}
