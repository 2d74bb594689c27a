//! Which worker counts to run the pipeline at: `-w N` if given (that one count), else
//! `--workers` (default 1,2). clap rejects both together.

/// The worker counts, from `-w` and `--workers`.
pub fn worker_counts(threads: Option<usize>, workers: &[usize]) -> Result<Vec<usize>, String> {
    let counts = match threads {
        Some(n) => vec![n],
        None => workers.to_vec(),
    };
    if counts.is_empty() || counts.contains(&0) {
        return Err(format!("worker counts must be at least 1 (got {counts:?})"));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn counts(line: &[&str]) -> Result<Vec<usize>, String> {
        let cli = Cli::try_parse_from(line).map_err(|e| e.to_string())?;
        let Some(Command::Bench(args)) = cli.command else {
            panic!("not bench")
        };
        worker_counts(args.threads, &args.workers)
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
        assert!(counts(&["tk", "bench", "-w", "0"]).is_err());
    }

    /// `bench --help` shows one default for the worker counts, not `-w`'s 1 beside
    /// `--workers`' 1,2.
    #[test]
    fn help_shows_one_worker_default() {
        use clap::CommandFactory;
        let mut root = Cli::command();
        let help = root
            .find_subcommand_mut("bench")
            .expect("bench exists")
            .render_long_help()
            .to_string();
        assert!(help.contains("[default: 1,2]"), "{help}");
        assert!(!help.contains("[default: 1]"), "{help}");
    }
}
