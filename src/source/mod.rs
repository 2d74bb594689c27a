//! The Kafka source: a consumer-group member whose commits follow the dataflow's frontier.
//!
//! ```text
//!  Kafka group ──► kafka_source (worker k reads the partitions it owns, stamps each record
//!      ▲           with the current tick)
//!      │                 │
//!      │                 ▼
//!      │           your operators ──► probe ◄── commit_after(&probe)
//!      │                                │
//!      └─── commit(last processed + 1) ◄┘ once the probe's frontier passes the record's tick
//! ```
//!
//! # Guarantees
//!
//! * **Ownership.** One group membership per process. The partitions assigned to the process
//!   are dealt to its workers by [`ownership::owned_by`]: each
//!   worker gets `⌊P/W⌋` or `⌈P/W⌉`, and each partition's records are emitted by exactly one
//!   worker, in offset order.
//! * **At-least-once commits.** A partition's offset goes back to the group only once the
//!   frontier at the commit probe has passed the tick of every record below it. The commit
//!   is *last processed offset + 1*. A partition that is not owned is never committed.
//! * **Time.** Records carry `u64` ticks aligned to the wall clock (see [`clock`]),
//!   so workers and processes advance together; an idle source still moves its capability as
//!   the clock moves. A worker stopped at its in-flight bound closes its stamp early: the
//!   records it reads next carry a stamp one millisecond later, still inside the tick, so
//!   the frontier can pass what it read without waiting for the tick to end (and the
//!   process's batchers flush their open batches, see
//!   [`flush_open_batches`](timely_kafka_operators::batch::flush_open_batches)).
//! * **Idle costs nothing.** Each worker reads one librdkafka queue, which every partition
//!   it owns forwards to, and whose callback wakes it when records arrive; plus one timer per
//!   tick. No busy spin, and nothing per idle partition.
//! * **Bounded prefetch.** What librdkafka fetched and the workers have not read stays
//!   within the process-wide prefetch budget (see
//!   [`prefetch_budget_bytes`](crate::SourceConfigBuilder::prefetch_budget_bytes)), however
//!   many partitions the process owns.
//! * **Shutdown.** [`SourceControl::shutdown`] stops reading, waits (up to the drain timeout)
//!   for in-flight records to be processed, and commits synchronously; then the operator
//!   completes and the process leaves the group.
//!
//! # Errors
//!
//! Building the source fails with [`Error::BrokersUnreachable`](crate::Error) when no broker
//! answers within the connect timeout. Errors while running (fetch errors, refused commits)
//! are logged with their topic and partition, shown in [`SourceProgress::last_error`], and
//! never lose data: a refused commit is sent again, and nothing past an unprocessed record is
//! ever committed.

mod budget;
mod builder;
pub mod clock;
mod config;
mod discovery;
mod operator;
pub(crate) mod prefetch;
pub mod progress;

pub use crate::group::ownership;
pub use crate::group::{
    Assignment, ClassicAssignor, GroupProtocol, HookError, LifecycleHook, OffsetReset,
    ServerAssignor, StartPolicy,
};
pub use builder::SourceConfigBuilder;
pub use config::{CommitCadence, SourceConfig};
pub use prefetch::prefetch_limits;

/// What a record costs in memory besides its key and payload, counted with them against
/// [`max_in_flight_bytes`](SourceConfigBuilder::max_in_flight_bytes): the
/// [`KafkaRecord`] itself and its heap allocations' headers. Without it
/// a million in-flight records of 10 bytes counted as 10 MB and held about 150 MB.
///
/// ```
/// assert!(timely_kafka::source::RECORD_OVERHEAD_BYTES >= 64);
/// ```
pub const RECORD_OVERHEAD_BYTES: u64 = std::mem::size_of::<crate::KafkaRecord>() as u64 + 32;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use timely::dataflow::{ProbeHandle, Scope, StreamVec};

use crate::error::Error;
use crate::group::{GroupShared, SourceProgress};
use crate::record::KafkaRecord;

/// What [`KafkaSourceExt::kafka_source`] returns: the records this worker reads, and the
/// handle that steers the source.
pub struct KafkaSource<'scope> {
    /// The records of the partitions this worker owns, each at the tick it was read.
    pub records: StreamVec<'scope, u64, KafkaRecord>,
    /// Commit frontier, shutdown and progress.
    pub handle: SourceHandle,
}

/// Steers a source from its own worker: attaches the commit frontier and hands out
/// [`SourceControl`]s for other threads.
pub struct SourceHandle {
    commit_probes: Rc<RefCell<CommitProbes>>,
    control: SourceControl,
}

/// The probes whose frontiers gate commits.
#[derive(Default)]
pub(crate) struct CommitProbes {
    /// Attached by the user: the end of the dataflow. Without one, nothing is committed.
    pub user: Vec<ProbeHandle<u64>>,
    /// Attached by library operators that must see records before their commit (failure
    /// policies).
    pub library: Vec<ProbeHandle<u64>>,
}

impl CommitProbes {
    /// The least time any probe may still see, or `None` if all are done. `Err` if the
    /// user attached none.
    pub(crate) fn frontier(&self) -> Result<Option<u64>, ()> {
        if self.user.is_empty() {
            return Err(());
        }
        Ok(self
            .user
            .iter()
            .chain(&self.library)
            .filter_map(|p| p.with_frontier(|f| f.iter().min().copied()))
            .min())
    }
}

impl SourceHandle {
    /// Commits offsets once this probe's frontier passes them. Attach the probe at the very
    /// end of the dataflow (after your sink), so "passed the probe" means "fully processed".
    /// Without a probe the source reads but never commits (and says so in the log), and its
    /// in-flight bounds do not apply. Attach it while building the dataflow: once records
    /// were read with no probe attached, nothing says they were processed, and the source
    /// never commits.
    /// Call it more than once to wait for several ends (for example a sink and a
    /// dead-letter sink): commits then wait for all of them.
    pub fn commit_after(&self, probe: &ProbeHandle<u64>) {
        self.commit_probes.borrow_mut().user.push(probe.clone());
    }

    /// Makes commits also wait for `probe` (used by library operators such as failure
    /// policies).
    pub(crate) fn gate_commits_on(&self, probe: ProbeHandle<u64>) {
        self.commit_probes.borrow_mut().library.push(probe);
    }

    /// A thread-safe handle for shutdown and progress.
    pub fn control(&self) -> SourceControl {
        self.control.clone()
    }

    /// Asks every source of this membership in this process to stop; see
    /// [`SourceControl::shutdown`].
    pub fn shutdown(&self) {
        self.control.shutdown();
    }

    /// A snapshot of this process's progress.
    pub fn progress(&self) -> SourceProgress {
        self.control.progress()
    }
}

/// Thread-safe control of the sources of one membership in this process.
#[derive(Clone)]
pub struct SourceControl {
    shared: Arc<GroupShared>,
}

impl SourceControl {
    /// Stops the sources gracefully: they stop reading, wait for in-flight records to be
    /// processed (bounded by the drain timeout), commit synchronously, and complete. Safe to
    /// call from any thread, for example a signal handler's, and more than once.
    pub fn shutdown(&self) {
        self.shared.request_shutdown();
    }

    /// Stops the sources without waiting for in-flight records: each commits what is fully
    /// processed now and completes. For when the rest of the dataflow cannot finish (a sink
    /// failed) or a fast exit matters more than a small replay on restart.
    pub fn shutdown_now(&self) {
        self.shared.request_abort();
    }

    /// The error that stopped the sources, if any: a lifecycle hook returned it, or the group
    /// refused this member in a way no retry cures (a `session.timeout.ms` outside the
    /// broker's range, no authorization for the group, a full group, a fenced static
    /// member, members with different protocols or assignors, a fatal librdkafka error).
    /// The error names the group and what was refused; [`Error::is_retriable`] tells whether
    /// building the source again may help.
    pub fn error(&self) -> Option<Error> {
        self.shared.fatal()
    }

    /// Whether shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutdown_requested()
    }

    /// How long this process's source has been idle: caught up, with nothing new arriving.
    /// Zero while it is not idle.
    ///
    /// The process is idle while (1) the group has handed it its assignment (possibly empty)
    /// and no rebalance is under way, (2) every partition it owns is at its end (its queue is
    /// empty and its position, transaction markers included, has reached both the end its log
    /// had when it was assigned and the high watermark of its latest fetch; an open
    /// transaction under `read_committed` holds this back until it ends), and (3) every
    /// record it read has passed
    /// the commit frontier. The time counts from the moment the last of these began to hold,
    /// so joining the group, the group's initial rebalance delay, waiting for a dead member's
    /// session to expire, revoking and reading a backlog never count as idle. A worker stopped
    /// at its in-flight bound has not read its partitions to their end.
    ///
    /// This is what `timely-kafka pipe --idle-exit` and the examples' `--idle-exit` use:
    ///
    /// ```no_run
    /// # fn run(control: timely_kafka::SourceControl) {
    /// use std::time::Duration;
    /// if control.idle_for() >= Duration::from_secs(5) && !control.is_shutting_down() {
    ///     control.shutdown(); // drain, final commit, leave the group
    /// }
    /// # }
    /// ```
    pub fn idle_for(&self) -> std::time::Duration {
        self.shared.idle_for()
    }

    /// Whether every source of this membership in this process has made its final commit.
    pub fn is_closed(&self) -> bool {
        self.shared.all_closed()
    }

    /// A snapshot of this process's assignment and per-partition processed and committed
    /// offsets.
    pub fn progress(&self) -> SourceProgress {
        self.shared.progress()
    }

    /// A snapshot of this process's source figures: lag per assigned partition, commits,
    /// rebalances, reads, records in flight, failures. The same figures the `metrics`
    /// facade receives (see [`crate::metrics`]), for programs without a recorder. It reads
    /// librdkafka's cached high watermarks: no request is sent.
    ///
    /// ```no_run
    /// # fn check(control: &timely_kafka::SourceControl) {
    /// let metrics = control.metrics();
    /// if metrics.committed_lag() == 0 && metrics.in_flight_records == 0 {
    ///     println!("{}: caught up, {} commits accepted", metrics.group, metrics.commits.succeeded);
    /// }
    /// # }
    /// ```
    pub fn metrics(&self) -> crate::metrics::SourceMetrics {
        self.shared.metrics_with_reads().snapshot
    }

    /// Whether an immediate shutdown ([`shutdown_now`](Self::shutdown_now)) was requested.
    pub(crate) fn stopping_now(&self) -> bool {
        self.shared.abort_requested()
    }

    /// Whether `other` controls the same sources (the same membership) as this one.
    #[cfg(feature = "cli")]
    pub(crate) fn same_source(&self, other: &SourceControl) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Counts failed records seen by a failure policy.
    pub(crate) fn count_failures(&self, policy: crate::metrics::PolicyKind, records: u64) {
        self.shared.metrics.failures(policy, records);
    }

    /// Halts commits of a partition (see [`FailurePolicy::Stop`](crate::process::FailurePolicy)).
    pub(crate) fn halt(&self, halt: crate::HaltedPartition) {
        self.shared.halt(halt);
    }
}

/// Adds [`kafka_source`](KafkaSourceExt::kafka_source) to timely scopes.
pub trait KafkaSourceExt<'scope> {
    /// Joins the consumer group of `config` (once per process, shared by all workers that use
    /// the same config) and returns the records of the partitions this worker owns.
    ///
    /// Call it on every worker, with the same config, once per worker: a second source of
    /// one config (or a clone of it) on one worker would read the same partition queues, and
    /// is refused with [`Error::SourceAlreadyBuilt`]. Fails if no broker answers within the
    /// config's connect timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use timely::dataflow::operators::{Inspect, Probe};
    /// use timely::dataflow::ProbeHandle;
    /// use timely_kafka::testing::{EmbeddedCluster, TestRecord};
    /// use timely_kafka::{KafkaSourceExt, SourceConfig};
    ///
    /// let cluster = EmbeddedCluster::new(1).unwrap();
    /// cluster.create_topic("numbers", 2).unwrap();
    /// cluster.load("numbers", (0..10).map(|i| TestRecord::new(i.to_string()).partition(i % 2))).unwrap();
    ///
    /// let config = SourceConfig::builder()
    ///     .brokers(cluster.bootstrap_servers())
    ///     .group_id("doc-example")
    ///     .topic("numbers")
    ///     .tick(Duration::from_millis(10))
    ///     .build()
    ///     .unwrap();
    ///
    /// let seen = timely::execute(timely::Config::thread(), move |worker| {
    ///     let probe = ProbeHandle::new();
    ///     let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    ///     let handle = worker.dataflow(|scope| {
    ///         let source = scope.kafka_source(&config).unwrap();
    ///         let counter = seen.clone();
    ///         source.records
    ///             .inspect(move |_record| counter.set(counter.get() + 1))
    ///             .probe_with(&probe);
    ///         source.handle.commit_after(&probe);
    ///         source.handle
    ///     });
    ///     while seen.get() < 10 {
    ///         worker.step_or_park(None);
    ///     }
    ///     handle.shutdown();
    ///     seen.get()
    /// })
    /// .unwrap()
    /// .join();
    /// assert_eq!(seen[0].as_ref().unwrap(), &10);
    /// ```
    fn kafka_source(&self, config: &SourceConfig) -> Result<KafkaSource<'scope>, Error>;
}

impl<'scope> KafkaSourceExt<'scope> for Scope<'scope, u64> {
    fn kafka_source(&self, config: &SourceConfig) -> Result<KafkaSource<'scope>, Error> {
        let membership = config
            .membership
            .get_or_create(&config.group, self.peers())?;
        let claim = membership.claim(self.index())?;
        let control = SourceControl {
            shared: Arc::clone(&membership.shared),
        };
        let commit_probes = Rc::new(RefCell::new(CommitProbes::default()));
        let records = operator::build_source(
            *self,
            membership,
            config.source.clone(),
            claim,
            Rc::clone(&commit_probes),
        );
        Ok(KafkaSource {
            records,
            handle: SourceHandle {
                commit_probes,
                control,
            },
        })
    }
}
