//! What one `pipe` process did, said on stderr when it ends, so that a run which copied
//! nothing cannot pass unnoticed:
//!
//! ```text
//! pipe: read 800 records from `in`, wrote 800 to `out` (acknowledged), in 2.3s
//! pipe: held in/0, in/1, in/2, in/3; committed in/0@200, in/1@200, in/2@200, in/3@200
//! ```
//!
//! *Read* counts the records this process's sources emitted (before any `--exchange`),
//! *wrote* the output records the broker acknowledged to this process's sinks, *held* every
//! input partition assigned to this process during the run, and *committed* the last offset
//! the broker acknowledged as committed for each partition this process committed. With
//! `--exchange` across processes, a process writes what its workers received, which need
//! not be what it read. Also here: the one "stopping gracefully" line per process. In a
//! cluster of several processes each line starts `pipe[P]:`, P the process index. Each
//! message is written to stderr in one piece, so processes sharing a terminal do not
//! interleave within a line.

use std::collections::BTreeSet;
use std::fmt::{self, Display};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use timely_kafka::sink::SinkHandle;
use timely_kafka::source::HookError;
use timely_kafka::{Assignment, KafkaRecord, Position, SourceControl, TopicPartition};

/// At most this many partitions are named on a line; the rest are counted.
const NAMED: usize = 16;

/// Collects a run's counts from every local worker; clones share them.
#[derive(Clone)]
pub struct RunSummary {
    inner: Arc<Inner>,
}

struct Inner {
    /// What each line starts with: `pipe`, or `pipe[P]` in a cluster of processes.
    label: String,
    read: AtomicU64,
    held: Mutex<BTreeSet<TopicPartition>>,
    sinks: Mutex<Vec<SinkHandle>>,
    source: Mutex<Option<SourceControl>>,
    stopping: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl RunSummary {
    /// A summary of process `process` of a timely cluster of `processes`.
    pub fn new(process: usize, processes: usize) -> Self {
        let label = if processes > 1 {
            format!("pipe[{process}]")
        } else {
            "pipe".to_owned()
        };
        RunSummary {
            inner: Arc::new(Inner {
                label,
                read: AtomicU64::new(0),
                held: Mutex::default(),
                sinks: Mutex::default(),
                source: Mutex::default(),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    /// Counts each record it sees as read; put it on the source's records, before any
    /// exchange.
    pub fn read_counter(&self) -> impl FnMut(&KafkaRecord) + 'static {
        let inner = Arc::clone(&self.inner);
        move |_| {
            inner.read.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A source `on_assigned` hook that notes each partition assigned to this process.
    pub fn on_assigned(
        &self,
    ) -> impl Fn(&Assignment) -> Result<(), HookError> + Send + Sync + 'static {
        let inner = Arc::clone(&self.inner);
        move |assignment| {
            lock(&inner.held).insert(assignment.topic_partition.clone());
            Ok(())
        }
    }

    /// Watches a worker's source (for its committed offsets) and sink (for its
    /// acknowledged records).
    pub fn watch(&self, source: SourceControl, sink: SinkHandle) {
        lock(&self.inner.source).get_or_insert(source);
        lock(&self.inner.sinks).push(sink);
    }

    /// Says something on stderr, in one piece, as this process (`pipe:` or `pipe[P]:`).
    pub fn say(&self, what: impl Display) {
        let line = format!("{}: {what}\n", self.inner.label);
        eprint!("{line}");
    }

    /// Says once per process that the pipe is stopping gracefully, and why; later calls
    /// (other workers, a signal after an idle stop) print nothing.
    pub fn stopping(&self, reason: impl Display) {
        if !self.inner.stopping.swap(true, Ordering::SeqCst) {
            let line = format!("{}: {reason}: stopping gracefully\n", self.inner.label);
            eprint!("{line}");
        }
    }

    /// Prints the summary on stderr, unless no source ever started (a failure before it
    /// joined the group says everything already).
    pub fn print(&self, input: &str, output: &str, elapsed: Duration) {
        if let Some(totals) = self.totals(input, output, elapsed) {
            let text = totals.to_string();
            eprint!("{text}");
        }
    }

    fn totals(&self, input: &str, output: &str, elapsed: Duration) -> Option<Totals> {
        let progress = lock(&self.inner.source).as_ref()?.progress();
        Some(Totals {
            label: self.inner.label.clone(),
            input: input.to_owned(),
            output: output.to_owned(),
            elapsed,
            read: self.inner.read.load(Ordering::Relaxed),
            written: lock(&self.inner.sinks).iter().map(|s| s.delivered()).sum(),
            held: lock(&self.inner.held).iter().cloned().collect(),
            committed: progress
                .partitions
                .iter()
                .filter_map(|p| Some(p.topic_partition.at(p.committed?)))
                .collect(),
        })
    }
}

/// A finished run's numbers, rendered as the summary's lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Totals {
    label: String,
    input: String,
    output: String,
    elapsed: Duration,
    read: u64,
    written: u64,
    /// Partitions assigned to this process during the run, in order.
    held: Vec<TopicPartition>,
    /// The last commit the broker acknowledged, per partition, in order.
    committed: Vec<Position>,
}

impl Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: read {} records from `{}`, wrote {} to `{}` (acknowledged), in {:.1?}",
            self.label, self.read, self.input, self.written, self.output, self.elapsed
        )?;
        if self.held.is_empty() {
            return writeln!(
                f,
                "{}: held no partition of `{}`: none was assigned before the stop (does the topic exist? has the group more members than it has partitions?)",
                self.label, self.input
            );
        }
        let held = names(self.held.iter().map(TopicPartition::to_string));
        let committed = if self.committed.is_empty() {
            "nothing".to_owned()
        } else {
            names(self.committed.iter().map(Position::to_string))
        };
        writeln!(f, "{}: held {held}; committed {committed}", self.label)?;
        if self.read == 0 {
            writeln!(
                f,
                "{}: nothing was read: the partitions held had no records past the group's committed offsets",
                self.label
            )?;
        }
        Ok(())
    }
}

/// `a, b, c`, or the first [`NAMED`] and how many more.
fn names(items: impl ExactSizeIterator<Item = String>) -> String {
    let more = items.len().saturating_sub(NAMED);
    let mut text = items.take(NAMED).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(read: u64, held: &[i32], committed: &[(i32, i64)]) -> Totals {
        Totals {
            label: "pipe".into(),
            input: "in".into(),
            output: "out".into(),
            elapsed: Duration::from_millis(2345),
            read,
            written: read,
            held: held.iter().map(|p| TopicPartition::new("in", *p)).collect(),
            committed: committed
                .iter()
                .map(|(p, o)| Position::new("in", *p, *o))
                .collect(),
        }
    }

    #[test]
    fn says_what_was_read_written_held_and_committed() {
        assert_eq!(
            totals(400, &[0, 1], &[(0, 200), (1, 200)]).to_string(),
            "pipe: read 400 records from `in`, wrote 400 to `out` (acknowledged), in 2.3s\n\
             pipe: held in/0, in/1; committed in/0@200, in/1@200\n"
        );
    }

    #[test]
    fn a_run_that_read_nothing_says_so() {
        let text = totals(0, &[0], &[]).to_string();
        assert!(text.contains("committed nothing"), "{text}");
        assert!(text.contains("nothing was read"), "{text}");
        let text = totals(0, &[], &[]).to_string();
        assert!(text.contains("held no partition of `in`"), "{text}");
    }

    #[test]
    fn processes_of_a_cluster_say_which_they_are() {
        assert_eq!(RunSummary::new(0, 1).inner.label, "pipe");
        assert_eq!(RunSummary::new(1, 2).inner.label, "pipe[1]");
    }

    #[test]
    fn long_lists_are_cut() {
        let held: Vec<i32> = (0..20).collect();
        let text = totals(1, &held, &[]).to_string();
        assert!(text.contains("in/15 and 4 more;"), "{text}");
    }
}
