//! Which worker counts to run the pipeline at: timely's `-w N` if given (that one count),
//! else `--workers` (default 1,2).
//!
//! clap fills `-w` with its default 1 when absent, so whether the user typed it is asked of
//! clap itself: the command line is parsed again and the flag's value source checked.

use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::CommandFactory;
use timely_kafka::timely_args::TimelyArgs;

use crate::cli::Cli;

/// The worker counts, from the parsed flags and the command line they came from.
pub fn worker_counts(
    timely: &TimelyArgs,
    workers: &[usize],
    command_line: impl IntoIterator<Item = OsString>,
) -> Result<Vec<usize>, String> {
    if timely.processes != 1 || timely.process != 0 || timely.hostfile.is_some() {
        return Err(
            "bench measures one process: -n, -p and -h are not supported (use -w N or --workers)"
                .into(),
        );
    }
    let given = |id: &str, matches: &clap::ArgMatches| {
        matches
            .subcommand_matches("bench")
            .is_some_and(|m| m.value_source(id) == Some(ValueSource::CommandLine))
    };
    let (threads_given, workers_given) = match Cli::command().try_get_matches_from(command_line) {
        Ok(matches) => (given("threads", &matches), given("workers", &matches)),
        Err(_) => (false, false),
    };
    if threads_given && workers_given {
        return Err("give either -w N or --workers LIST, not both".into());
    }
    let counts = if threads_given {
        vec![timely.threads]
    } else {
        workers.to_vec()
    };
    if counts.is_empty() || counts.contains(&0) {
        return Err(format!("worker counts must be at least 1 (got {counts:?})"));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use clap::Parser;

    fn counts(line: &[&str]) -> Result<Vec<usize>, String> {
        let os: Vec<OsString> = line.iter().map(OsString::from).collect();
        let cli = Cli::try_parse_from(&os).map_err(|e| e.to_string())?;
        let Command::Bench(args) = cli.command else {
            panic!("not bench")
        };
        worker_counts(&args.timely, &args.workers, os)
    }

    #[test]
    fn w_picks_one_count_and_the_list_is_the_default() {
        assert_eq!(counts(&["tk", "bench"]), Ok(vec![1, 2]));
        assert_eq!(counts(&["tk", "bench", "-w", "1"]), Ok(vec![1]));
        assert_eq!(counts(&["tk", "bench", "-w2"]), Ok(vec![2]));
        assert_eq!(counts(&["tk", "bench", "--threads", "3"]), Ok(vec![3]));
        assert_eq!(
            counts(&["tk", "bench", "--workers", "1,2,4"]),
            Ok(vec![1, 2, 4])
        );
        assert!(counts(&["tk", "bench", "-w", "2", "--workers", "1"]).is_err());
        assert!(counts(&["tk", "bench", "-n", "2"]).is_err());
        assert!(counts(&["tk", "bench", "--workers", "0"]).is_err());
    }
}
