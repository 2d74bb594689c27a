//! timely's own command-line flags (`-w`, `-n`, `-p`, `-h`), for programs that also parse
//! flags of their own with clap.
//!
//! `timely::execute_from_args` rejects flags it does not know, so a program with its own
//! flags flattens [`TimelyArgs`] into its clap parser and calls [`TimelyArgs::config`]. timely
//! itself interprets the values, so they mean exactly what they mean to any timely program.
//! `-h` is timely's host file, so such a program turns clap's `-h` help off and keeps
//! `--help`.
//!
//! ```
//! use clap::Parser;
//! use timely_kafka::timely_args::TimelyArgs;
//!
//! #[derive(Parser)]
//! #[command(disable_help_flag = true)]
//! struct Args {
//!     #[arg(long, default_value = "orders")]
//!     topic: String,
//!     #[command(flatten)]
//!     timely: TimelyArgs,
//! }
//!
//! let args = Args::parse_from(["prog", "--topic", "payments", "-w", "2"]);
//! assert_eq!(args.timely.threads, 2);
//! let config = args.timely.config().unwrap();
//! # let _ = config;
//! ```

use std::path::PathBuf;

/// timely's worker and cluster flags.
#[derive(Debug, Clone, clap::Args)]
pub struct TimelyArgs {
    /// Worker threads per process (timely's `-w`).
    #[arg(short = 'w', long = "threads", default_value_t = 1, value_name = "NUM")]
    pub threads: usize,
    /// Number of processes in the timely cluster (timely's `-n`).
    #[arg(
        short = 'n',
        long = "processes",
        default_value_t = 1,
        value_name = "NUM"
    )]
    pub processes: usize,
    /// This process's index, `0..processes` (timely's `-p`).
    #[arg(short = 'p', long = "process", default_value_t = 0, value_name = "IDX")]
    pub process: usize,
    /// File of `host:port` lines, one per process (timely's `-h`); default: localhost ports
    /// from 2101.
    #[arg(short = 'h', long = "hostfile", value_name = "FILE")]
    pub hostfile: Option<PathBuf>,
    /// Report timely's connection progress (timely's `-r`).
    #[arg(long = "report")]
    pub report: bool,
}

impl TimelyArgs {
    /// The timely configuration these flags describe, as timely itself parses them.
    pub fn config(&self) -> Result<timely::Config, String> {
        timely::Config::from_args(self.to_args().into_iter())
    }

    /// The flags in timely's own syntax.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "-w".to_owned(),
            self.threads.to_string(),
            "-n".to_owned(),
            self.processes.to_string(),
            "-p".to_owned(),
            self.process.to_string(),
        ];
        if let Some(hostfile) = &self.hostfile {
            args.push("-h".to_owned());
            args.push(hostfile.display().to_string());
        }
        if self.report {
            args.push("--report".to_owned());
        }
        args
    }
}
