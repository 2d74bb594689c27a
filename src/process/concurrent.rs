//! [`process_concurrent`](ConcurrentExt::process_concurrent): I/O-bound processing with
//! many records in flight per worker, in order where it matters, with timeouts and retries.
//!
//! ```text
//!  records ──► process_concurrent ──► ok:     Message<O>               ──► sink
//!   (tick t)     │    ▲          └──► failed: Failure<StageError<E>>   ──► dead letters
//!                ▼    │ results wake the worker (SyncActivator)
//!        tokio runtime: handler(record).await, timeout, retry with backoff
//! ```
//!
//! A timely worker that calls a 10 ms service in line handles 100 records a second. This
//! stage hands each record to an async handler running on a tokio runtime (one the process
//! shares, made on first use, or yours through [`ConcurrentConfig::runtime`]) and keeps up
//! to `max_in_flight` calls running per worker. The worker does not wait: it parks, and each
//! completed call wakes it through a `SyncActivator`. There is no polling loop.
//!
//! # Order
//!
//! [`Ordering`] says which records may run at the same time:
//!
//! * [`Ordering::PerPartition`] (the default): one call at a time per partition, so a
//!   partition's records are handled, and leave, in offset order; partitions run
//!   concurrently. Concurrency is at most the number of partitions the worker owns.
//! * [`Ordering::PerKey`]: one call at a time per (partition, key); the keys of a partition
//!   run concurrently, each key in offset order. Records with no key share one lane.
//! * [`Ordering::OrderedResults`]: any record may run with any other, but a partition's
//!   results leave in offset order: a finished record waits for the ones before it in its
//!   partition (Flink's ordered async I/O). The choice for a hot partition when the handler
//!   may run out of order (a lookup, an idempotent write) but what follows must see the
//!   partition in order. A slow record holds back its partition's later results, not its
//!   calls, and they count against `max_in_flight` while they wait.
//! * [`Ordering::Unordered`]: any record may run with any other; results leave as they
//!   complete.
//!
//! A record being retried keeps its place: under an ordered mode the records behind it in
//! its partition or key wait for it.
//!
//! # Commits
//!
//! Whatever the ordering, the stage holds a capability at the least tick of any record it
//! has taken and not yet emitted (waiting, running, under retry), and emits every result at
//! that least tick. So its output frontier never passes the tick of a record still in
//! flight, and the source never commits past one. Emission times never decrease on a worker,
//! which keeps the operators downstream (that take their input grouped by time) in order.
//!
//! # Backpressure
//!
//! Once `max_in_flight` records are waiting or running on a worker, the stage stops reading
//! its input (what one activation delivers is taken whole). The records left unread count as
//! in flight at the source, which stops reading when its budget is spent.
//!
//! # Failures
//!
//! An attempt fails when the handler returns `Err` ([`StageError::Handler`]), outlives the
//! timeout ([`StageError::TimedOut`]) or panics ([`StageError::Panicked`]). The
//! [`RetryPolicy`] decides whether to try again. A record that fails for good goes to the
//! failure output as a [`Failure`] carrying the original record, its error and the attempts
//! made; it advances the commit position once the failure output is handled (see
//! [`dead_letter`](crate::sink::DeadLetterExt::dead_letter)).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::core::OkErr;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;
use timely::scheduling::SyncActivator;
use tokio::runtime::{Handle, Runtime};
use tokio::task::AbortHandle;

use super::{Failure, Message, Origin, Processed, RetryPolicy};

/// Which records of a worker may be handled at the same time; see the [module
/// docs](self#order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ordering {
    /// One record at a time per partition, in offset order; partitions concurrently.
    #[default]
    PerPartition,
    /// One record at a time per (partition, key), in offset order; keys concurrently.
    PerKey,
    /// Every record may run concurrently; each partition's results leave in offset order.
    OrderedResults,
    /// No order: every record may run concurrently, results leave as they complete.
    Unordered,
}

/// Why a record failed in [`process_concurrent`](ConcurrentExt::process_concurrent).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, thiserror::Error,
)]
pub enum StageError<E> {
    /// The handler returned this error.
    #[error("{0}")]
    Handler(E),
    /// The attempt did not finish within the timeout.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The handler panicked.
    #[error("the handler panicked")]
    Panicked,
}

impl<E> StageError<E> {
    /// A short name for the kind of error: `handler`, `timeout` or `panic`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use timely_kafka::process::StageError;
    /// assert_eq!(StageError::<String>::TimedOut(Duration::from_secs(1)).kind(), "timeout");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            StageError::Handler(_) => "handler",
            StageError::TimedOut(_) => "timeout",
            StageError::Panicked => "panic",
        }
    }
}

/// Settings of [`process_concurrent`](ConcurrentExt::process_concurrent).
///
/// ```
/// use std::time::Duration;
/// use timely_kafka::process::{ConcurrentConfig, Ordering, RetryPolicy};
///
/// let config = ConcurrentConfig::<String>::new(256)
///     .ordering(Ordering::PerKey)
///     .timeout(Duration::from_secs(2))
///     .retry(RetryPolicy::exponential(5));
/// assert_eq!(config.max_in_flight_records(), 256);
/// ```
pub struct ConcurrentConfig<E> {
    max_in_flight: usize,
    ordering: Ordering,
    timeout: Option<Duration>,
    retry: RetryPolicy<E>,
    runtime: Option<Handle>,
}

impl<E> Clone for ConcurrentConfig<E> {
    fn clone(&self) -> Self {
        ConcurrentConfig {
            max_in_flight: self.max_in_flight,
            ordering: self.ordering,
            timeout: self.timeout,
            retry: self.retry.clone(),
            runtime: self.runtime.clone(),
        }
    }
}

impl<E> fmt::Debug for ConcurrentConfig<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentConfig")
            .field("max_in_flight", &self.max_in_flight)
            .field("ordering", &self.ordering)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("runtime", &self.runtime.as_ref().map(|_| "given"))
            .finish()
    }
}

impl<E> ConcurrentConfig<E> {
    /// At most `max_in_flight` handler calls running per worker (at least 1), per-partition
    /// order, no timeout, no retries, on the [shared runtime](shared_runtime).
    pub fn new(max_in_flight: usize) -> Self {
        ConcurrentConfig {
            max_in_flight: max_in_flight.max(1),
            ordering: Ordering::default(),
            timeout: None,
            retry: RetryPolicy::none(),
            runtime: None,
        }
    }

    /// Sets which records may run together. Default: [`Ordering::PerPartition`].
    pub fn ordering(mut self, ordering: Ordering) -> Self {
        self.ordering = ordering;
        self
    }

    /// Sets a time limit for each attempt. Default: none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the retry policy. Default: [`RetryPolicy::none`].
    pub fn retry(mut self, retry: RetryPolicy<E>) -> Self {
        self.retry = retry;
        self
    }

    /// Runs the handlers on this runtime instead of the [shared one](shared_runtime).
    pub fn runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// The bound on handler calls running per worker.
    pub fn max_in_flight_records(&self) -> usize {
        self.max_in_flight
    }
}

/// The multi-thread tokio runtime the handlers of every stage in this process run on when
/// no runtime is given: made on first use (one thread per core, named `timely-kafka-io`),
/// with every driver the build's tokio has (`enable_all`: timers, and sockets once anything
/// in the build turns on tokio's `net` feature, as every tokio HTTP or database client
/// does), and kept for the life of the process.
///
/// # Panics
///
/// If the operating system refuses the runtime's threads.
pub fn shared_runtime() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("timely-kafka-io")
                .build()
                .unwrap_or_else(|e| panic!("timely-kafka: starting the tokio runtime: {e}"))
        })
        .handle()
        .clone()
}

/// Adds [`process_concurrent`](ConcurrentExt::process_concurrent) to streams of Kafka
/// records and messages.
pub trait ConcurrentExt<'scope, D> {
    /// Runs the async `handler` on each record, up to `config`'s bound at a time per worker,
    /// in the [`Ordering`] it names, with its timeout and retries; see the [module
    /// docs](self). `Ok` values continue as [`Message`]s; records that fail for good go to
    /// the failure output as [`Failure`]s carrying the record, the error and the attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use timely::dataflow::operators::{Capture, ToStream};
    /// use timely::dataflow::operators::capture::Extract;
    /// use timely_kafka::process::{ConcurrentConfig, ConcurrentExt, Ordering};
    /// use timely_kafka::{KafkaRecord, RecordTimestamp};
    ///
    /// let record = |partition: i32, offset: i64| KafkaRecord {
    ///     topic: "calls".into(), partition, offset, key: None,
    ///     payload: Some(offset.to_string().into_bytes()), timestamp: RecordTimestamp::NotAvailable,
    ///     headers: vec![],
    /// };
    /// let records: Vec<_> = (0..2).flat_map(|p| (0..20).map(move |o| record(p, o))).collect();
    /// let (ok, failed) = timely::example(move |scope| {
    ///     let processed = records
    ///         .to_stream(scope)
    ///         .container::<Vec<_>>()
    ///         .process_concurrent(
    ///             ConcurrentConfig::new(16).ordering(Ordering::PerPartition),
    ///             |record: std::sync::Arc<KafkaRecord>| async move {
    ///                 // A slow service: later offsets answer sooner.
    ///                 tokio::time::sleep(Duration::from_millis(20 - record.offset as u64)).await;
    ///                 if record.offset == 13 { Err("unlucky") } else { Ok(record.offset * 10) }
    ///             },
    ///         );
    ///     (processed.ok.capture(), processed.failed.capture())
    /// });
    /// let ok: Vec<_> = ok.extract().into_iter().flat_map(|(_, m)| m).collect();
    /// for p in 0..2 {
    ///     let offsets: Vec<i64> = ok.iter().filter(|m| m.position.topic_partition.partition == p)
    ///         .map(|m| m.position.offset).collect();
    ///     assert_eq!(offsets, (0..20).filter(|o| *o != 13).collect::<Vec<_>>(), "offset order");
    /// }
    /// let failed: Vec<_> = failed.extract().into_iter().flat_map(|(_, f)| f).collect();
    /// assert_eq!(failed.len(), 2);
    /// assert_eq!(failed[0].record.as_ref().unwrap().offset, 13);
    /// ```
    fn process_concurrent<O, E, F, Fut>(
        self,
        config: ConcurrentConfig<E>,
        handler: F,
    ) -> Processed<'scope, O, StageError<E>>
    where
        O: Send + 'static,
        E: Send + 'static,
        F: Fn(Arc<D>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static;
}

impl<'scope, D> ConcurrentExt<'scope, D> for StreamVec<'scope, u64, D>
where
    D: Origin + Clone + Send + Sync + 'static,
{
    fn process_concurrent<O, E, F, Fut>(
        self,
        config: ConcurrentConfig<E>,
        handler: F,
    ) -> Processed<'scope, O, StageError<E>>
    where
        O: Send + 'static,
        E: Send + 'static,
        F: Fn(Arc<D>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static,
    {
        let scope = self.scope();
        let handler = Arc::new(handler);
        let results = self.unary_frontier::<CapacityContainerBuilder<Vec<Outcome<O, E>>>, _, _, _>(
            Pipeline,
            "ProcessConcurrent",
            move |capability, info| {
                let activator = scope.worker().sync_activator_for(info.address.to_vec());
                let mut stage = Stage::new(config, handler, activator);
                // Held at the least tick of the input frontier and of the records the
                // stage holds: results are emitted at it, so emission times never
                // decrease and the output frontier never passes a record in flight.
                let mut floor = Some(capability);
                move |(input, frontier), output| {
                    let mut ready = stage.collect();
                    if stage.buffered < stage.max_in_flight {
                        input.for_each(|cap, data| {
                            let Some(tick) = cap.least().copied() else {
                                tracing::error!(
                                    "process_concurrent: {} records arrived with an empty \
                                         stamp and cannot be held",
                                    data.len()
                                );
                                return;
                            };
                            for record in data.drain(..) {
                                stage.accept(tick, record);
                            }
                        });
                    }
                    stage.start();
                    let input_least = frontier.frontier().iter().next().copied();
                    stage.lower_floor(&mut floor, input_least);
                    if !ready.is_empty() {
                        if let Some(cap) = floor.as_ref() {
                            let mut session = output.session(cap);
                            for (_, item) in ready.iter_mut() {
                                if let Some(item) = item.take() {
                                    session.give(item);
                                }
                            }
                        }
                        for (tick, _) in ready.drain(..) {
                            stage.release(tick);
                        }
                    }
                    stage.lower_floor(&mut floor, input_least);
                }
            },
        );
        let (ok, failed) = results.ok_err(|outcome| outcome);
        Processed { ok, failed }
    }
}

/// What the stage emits for one record.
type Outcome<O, E> = Result<Message<O>, Failure<StageError<E>>>;

/// A partition, as ordered results group records.
type PartitionKey = (Arc<str>, i32);

/// Ordered results: a record taken (by its sequence number) and, once it finished, its tick
/// and outcome.
type Pending<O, E> = (u64, Option<(u64, Outcome<O, E>)>);

/// A finished record, as a task reports it.
struct Completion<O, E> {
    seq: u64,
    result: Result<O, StageError<E>>,
    attempts: u32,
}

/// A lane: the records that must run one at a time, in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LaneKey {
    topic: Arc<str>,
    partition: i32,
    key: Option<Box<[u8]>>,
}

struct Lane<D> {
    queue: VecDeque<Queued<D>>,
    running: bool,
}

struct Queued<D> {
    seq: u64,
    tick: u64,
    record: Arc<D>,
}

struct Running<D> {
    tick: u64,
    record: Arc<D>,
    lane: Option<LaneKey>,
    abort: AbortHandle,
}

/// One worker's state of the stage.
struct Stage<D, O, E, F> {
    max_in_flight: usize,
    ordering: Ordering,
    timeout: Option<Duration>,
    retry: Arc<RetryPolicy<E>>,
    runtime: Handle,
    handler: Arc<F>,
    activator: Arc<SyncActivator>,
    sender: mpsc::Sender<Completion<O, E>>,
    receiver: mpsc::Receiver<Completion<O, E>>,
    /// Ordered modes: records waiting behind their lane's running record.
    lanes: HashMap<LaneKey, Lane<D>>,
    /// Ordered modes: lanes whose next record may start.
    startable: VecDeque<LaneKey>,
    /// Unordered and ordered results: records waiting for room.
    waiting: VecDeque<Queued<D>>,
    /// Ordered results: per partition, the records taken and not yet emitted, in offset
    /// order, each with its outcome once it has one.
    reorder: HashMap<PartitionKey, VecDeque<Pending<O, E>>>,
    running: HashMap<u64, Running<D>>,
    /// Records held (waiting, running, completed and not yet emitted) per tick.
    held: BTreeMap<u64, usize>,
    /// Records held in all.
    buffered: usize,
    next_seq: u64,
}

impl<D, O, E, F, Fut> Stage<D, O, E, F>
where
    D: Origin + Clone + Send + Sync + 'static,
    O: Send + 'static,
    E: Send + 'static,
    F: Fn(Arc<D>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
{
    fn new(config: ConcurrentConfig<E>, handler: Arc<F>, activator: SyncActivator) -> Self {
        let ConcurrentConfig {
            max_in_flight,
            ordering,
            timeout,
            retry,
            runtime,
        } = config;
        let (sender, receiver) = mpsc::channel();
        Stage {
            max_in_flight,
            ordering,
            timeout,
            retry: Arc::new(retry),
            runtime: runtime.unwrap_or_else(shared_runtime),
            handler,
            activator: Arc::new(activator),
            sender,
            receiver,
            lanes: HashMap::new(),
            startable: VecDeque::new(),
            waiting: VecDeque::new(),
            reorder: HashMap::new(),
            running: HashMap::new(),
            held: BTreeMap::new(),
            buffered: 0,
            next_seq: 0,
        }
    }

    /// Takes a record stamped `tick`: it waits for room (and for its lane).
    fn accept(&mut self, tick: u64, record: D) {
        *self.held.entry(tick).or_default() += 1;
        self.buffered += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        let lane_key = match self.ordering {
            Ordering::Unordered => None,
            Ordering::OrderedResults => {
                self.reorder
                    .entry((Arc::clone(record.topic()), record.partition()))
                    .or_default()
                    .push_back((seq, None));
                None
            }
            Ordering::PerPartition => Some(LaneKey {
                topic: Arc::clone(record.topic()),
                partition: record.partition(),
                key: None,
            }),
            Ordering::PerKey => Some(LaneKey {
                topic: Arc::clone(record.topic()),
                partition: record.partition(),
                key: record.record_key().map(Box::from),
            }),
        };
        let queued = Queued {
            seq,
            tick,
            record: Arc::new(record),
        };
        match lane_key {
            None => self.waiting.push_back(queued),
            Some(key) => match self.lanes.get_mut(&key) {
                Some(lane) => {
                    let idle = !lane.running && lane.queue.is_empty();
                    lane.queue.push_back(queued);
                    if idle {
                        self.startable.push_back(key);
                    }
                }
                None => {
                    let mut lane = Lane {
                        queue: VecDeque::new(),
                        running: false,
                    };
                    lane.queue.push_back(queued);
                    self.lanes.insert(key.clone(), lane);
                    self.startable.push_back(key);
                }
            },
        }
    }

    /// Starts waiting records while there is room.
    fn start(&mut self) {
        while self.running.len() < self.max_in_flight {
            let (queued, lane) = if let Some(queued) = self.waiting.pop_front() {
                (queued, None)
            } else if let Some(key) = self.startable.pop_front() {
                let Some(lane) = self.lanes.get_mut(&key) else {
                    continue;
                };
                let Some(queued) = lane.queue.pop_front() else {
                    continue;
                };
                lane.running = true;
                (queued, Some(key))
            } else {
                break;
            };
            self.spawn(queued, lane);
        }
    }

    fn spawn(&mut self, queued: Queued<D>, lane: Option<LaneKey>) {
        let Queued { seq, tick, record } = queued;
        let handler = Arc::clone(&self.handler);
        let retry = Arc::clone(&self.retry);
        let timeout = self.timeout;
        let mut report = Report {
            seq,
            attempts: 0,
            sender: Some(self.sender.clone()),
            activator: Arc::clone(&self.activator),
        };
        let task_record = Arc::clone(&record);
        let task = self.runtime.spawn(async move {
            let result = loop {
                report.attempts += 1;
                let call = handler(Arc::clone(&task_record));
                let result = match timeout {
                    Some(limit) => match tokio::time::timeout(limit, call).await {
                        Ok(result) => result.map_err(StageError::Handler),
                        Err(_) => Err(StageError::TimedOut(limit)),
                    },
                    None => call.await.map_err(StageError::Handler),
                };
                match result {
                    Ok(value) => break Ok(value),
                    Err(error) if retry.should_retry(&error, report.attempts) => {
                        tokio::time::sleep(retry.backoff(report.attempts)).await;
                    }
                    Err(error) => break Err(error),
                }
            };
            // Let go of the record first, so a failure can take it back without a copy.
            drop(task_record);
            report.send(result);
        });
        self.running.insert(
            seq,
            Running {
                tick,
                record,
                lane,
                abort: task.abort_handle(),
            },
        );
    }

    /// The records completed since the last call, with their ticks, in completion order.
    /// Their lanes may start their next records.
    fn collect(&mut self) -> Vec<(u64, Option<Outcome<O, E>>)> {
        let mut ready = Vec::new();
        while let Ok(completion) = self.receiver.try_recv() {
            let Some(running) = self.running.remove(&completion.seq) else {
                continue;
            };
            if let Some(key) = running.lane {
                if let Some(lane) = self.lanes.get_mut(&key) {
                    lane.running = false;
                    if lane.queue.is_empty() {
                        self.lanes.remove(&key);
                    } else {
                        self.startable.push_back(key);
                    }
                }
            }
            let position = running.record.position();
            let outcome = match completion.result {
                Ok(data) => Ok(Message { position, data }),
                Err(error) => {
                    let record =
                        Arc::try_unwrap(running.record).unwrap_or_else(|shared| (*shared).clone());
                    Err(Failure {
                        position,
                        error,
                        attempts: completion.attempts,
                        record: record.into_record().map(Box::new),
                    })
                }
            };
            if self.ordering == Ordering::OrderedResults {
                self.hold_for_order(&mut ready, completion.seq, running.tick, outcome);
            } else {
                ready.push((running.tick, Some(outcome)));
            }
        }
        ready
    }

    /// Ordered results: files the outcome of `seq` in its partition, then moves the
    /// partition's finished prefix to `ready`, in offset order.
    fn hold_for_order(
        &mut self,
        ready: &mut Vec<(u64, Option<Outcome<O, E>>)>,
        seq: u64,
        tick: u64,
        outcome: Outcome<O, E>,
    ) {
        let position = match &outcome {
            Ok(message) => &message.position,
            Err(failure) => &failure.position,
        };
        let partition = (
            Arc::clone(&position.topic_partition.topic),
            position.topic_partition.partition,
        );
        let Some(pending) = self.reorder.get_mut(&partition) else {
            ready.push((tick, Some(outcome)));
            return;
        };
        // Records finish roughly in the order they started: search from the back.
        match pending.iter_mut().rev().find(|(s, _)| *s == seq) {
            Some(slot) => slot.1 = Some((tick, outcome)),
            None => {
                ready.push((tick, Some(outcome)));
                return;
            }
        }
        while pending.front().is_some_and(|(_, done)| done.is_some()) {
            if let Some((_, Some((tick, outcome)))) = pending.pop_front() {
                ready.push((tick, Some(outcome)));
            }
        }
        if pending.is_empty() {
            self.reorder.remove(&partition);
        }
    }

    /// Forgets one emitted record of `tick`.
    fn release(&mut self, tick: u64) {
        if let Some(count) = self.held.get_mut(&tick) {
            *count -= 1;
            if *count == 0 {
                self.held.remove(&tick);
            }
        }
        self.buffered -= 1;
    }

    /// Moves `floor` up to the least of `input_least` and the held ticks, or drops it when
    /// there is neither.
    fn lower_floor(
        &self,
        floor: &mut Option<timely::dataflow::operators::Capability<u64>>,
        input_least: Option<u64>,
    ) {
        let least = match (input_least, self.held.keys().next().copied()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match least {
            Some(tick) => {
                if let Some(cap) = floor.as_mut() {
                    if *cap.time() < tick {
                        cap.downgrade(&tick);
                    }
                }
            }
            None => *floor = None,
        }
    }
}

impl<D, O, E, F> Drop for Stage<D, O, E, F> {
    fn drop(&mut self) {
        // The dataflow is gone: nobody will read these results.
        for running in self.running.values() {
            running.abort.abort();
        }
    }
}

/// Sends a task's result and wakes the worker; a task that ends without sending (its
/// handler panicked) reports [`StageError::Panicked`] when dropped.
struct Report<O, E> {
    seq: u64,
    attempts: u32,
    sender: Option<mpsc::Sender<Completion<O, E>>>,
    activator: Arc<SyncActivator>,
}

impl<O, E> Report<O, E> {
    fn send(&mut self, result: Result<O, StageError<E>>) {
        if let Some(sender) = self.sender.take() {
            let completion = Completion {
                seq: self.seq,
                result,
                attempts: self.attempts,
            };
            // Errors mean the dataflow is gone: nothing to report to.
            if sender.send(completion).is_ok() {
                let _ = self.activator.activate();
            }
        }
    }
}

impl<O, E> Drop for Report<O, E> {
    fn drop(&mut self) {
        if self.sender.is_some() {
            self.send(Err(StageError::Panicked));
        }
    }
}
