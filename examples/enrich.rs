//! Orders enriched by an HTTP service: each order's customer profile is fetched with
//! `process_concurrent`, failed calls are retried, and the orders whose calls still fail go
//! to a dead-letter topic.
//!
//! ```text
//!  orders ──► kafka_source ──► process_concurrent ──► ok ────► kafka_sink ──► orders.enriched
//!                                   │     ▲      └──► failed ─► dead_letter ─► orders.dlq
//!       GET /customers/{key}        ▼     │ 200 profile / 503 / 500                │
//!                          enrichment service (hyper, loopback)                    │
//!  commits ◄── probe ◄── both sinks' acknowledgements ◄────────────────────────────┘
//! ```
//!
//! ```text
//! cargo run --release --example enrich                       # embedded Kafka, 5,000 orders
//! cargo run --release --example enrich -- --latency-ms 50 --in-flight 256 -w 2
//! cargo run --release --example enrich -- --failure-rate 0.5 --attempts 2   # retries lose
//! cargo run --release --example enrich -- --brokers localhost:9092 --records 100000
//! ```
//!
//! With no `--brokers` (and no `bootstrap.servers` in `--config`) it starts an embedded
//! cluster (librdkafka's mock) with the three topics, so it runs offline. On your own
//! brokers the three topics must exist (or the brokers create them on first use).
//!
//! # The service
//!
//! The example starts a small HTTP service on loopback, on a tokio runtime of its own:
//! `GET /customers/{customer}` answers the customer's profile as JSON after `--latency-ms`.
//! It fails on purpose, and deterministically (the same `--seed` and input fail the same
//! way, whatever the concurrency):
//!
//! * Every request for a customer whose [`chance`]`(seed, customer)` is below
//!   `--permanent-failure-rate` is answered `500 Internal Server Error`. Retrying does not
//!   help: that customer's orders are dead-lettered after `--attempts` attempts.
//! * Any other request is answered `503 Service Unavailable` when `chance(seed, "{id}#{n}")`
//!   is below `--failure-rate`, where `id` is the `x-request-id` header the client sends
//!   (the record's position, `orders/2@17`) and `n` counts the requests with that id the
//!   service has seen, 1 for the first. Each retry throws the dice again, so retries
//!   overcome these, unless all `--attempts` of a record lose.
//!
//! `tests/enrich_example.rs` computes the same rules to know which orders must end up in
//! the dead-letter topic.
//!
//! # The pipeline
//!
//! The handler sends the record's key to the service with reqwest, adds the profile to the
//! order (`"profile": {...}`) and returns the enriched record; at most `--in-flight` calls
//! run at a time per worker, one at a time per customer with `--ordering per-key` (the
//! default: each customer's orders keep their order in the output). 5xx answers, 429 and
//! connection errors are retried with exponential backoff and full jitter, up to
//! `--attempts` attempts of at most `--timeout-ms` each (`RetryPolicy::classified`); other
//! answers (404 for a key that is no customer) and payloads that are no JSON object are
//! not. Enriched records go to the output topic, records that failed for good to the
//! dead-letter topic with `x-dead-letter-*` headers (error, kind, source topic, partition,
//! offset, attempts, time). The source commits an offset once the record's enriched copy
//! or dead letter is acknowledged.
//!
//! The handlers run on the stage's shared tokio runtime: reqwest turns on tokio's socket
//! driver, which that runtime enables with the rest.
//!
//! The example exits once it has handled as many records as it loaded (or, with `--records
//! 0`, once the input has been idle for `--idle-exit` seconds), and prints a summary: records
//! in, enriched, dead-lettered, the time from the first record read to the last one handled,
//! and the rate; then what the service answered and the offsets committed. On the embedded
//! cluster it checks the commits reached the input's end offsets.

#[path = "support/setup.rs"]
mod setup;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely_kafka::client::ClientProperties;
use timely_kafka::process::{ConcurrentConfig, ConcurrentExt, Ordering, Retriable, RetryPolicy};
use timely_kafka::sink::{DeadLetterExt, KafkaSinkExt, SinkConfig, SinkRecord};
use timely_kafka::testing::{load_into_with, TestRecord};
use timely_kafka::timely_args::TimelyArgs;
use timely_kafka::{KafkaRecord, KafkaSourceExt, SourceConfig};

/// Customers the orders are spread over: order `i` is customer `i % CUSTOMERS`'s.
const CUSTOMERS: u64 = 1000;

/// Orders enriched by an HTTP service, with retries and a dead-letter topic.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true)]
struct Args {
    /// Kafka bootstrap servers; without it (and without `bootstrap.servers` in --config), an
    /// embedded cluster is started.
    #[arg(long)]
    brokers: Option<String>,
    /// A client properties file, as `timely-kafka pipe --config` reads it: bootstrap
    /// servers, TLS, SASL; `${env:NAME}` values come from the environment.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// The consumer group.
    #[arg(long, default_value = "enrich")]
    group: String,
    /// The topic of orders to enrich.
    #[arg(long, default_value = "orders")]
    input: String,
    /// The topic enriched orders are written to.
    #[arg(long, default_value = "orders.enriched")]
    output: String,
    /// The topic orders that fail for good are written to.
    #[arg(long, default_value = "orders.dlq")]
    dead_letter: String,
    /// How many orders to load into the input first; 0 loads none.
    #[arg(long, default_value_t = 5000)]
    records: u64,
    /// Calls to the service running at a time, per worker.
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// Which records may be handled at the same time.
    #[arg(long, value_enum, default_value_t = OrderingArg::PerKey)]
    ordering: OrderingArg,
    /// The service's latency per request, in milliseconds.
    #[arg(long, default_value_t = 10)]
    latency_ms: u64,
    /// The fraction of requests the service answers 503 (retries overcome these).
    #[arg(long, default_value_t = 0.1, value_parser = fraction)]
    failure_rate: f64,
    /// The fraction of customers whose every request the service answers 500 (their orders
    /// are dead-lettered).
    #[arg(long, default_value_t = 0.02, value_parser = fraction)]
    permanent_failure_rate: f64,
    /// The seed of the service's failures.
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Attempts per record, the first included, before it is dead-lettered.
    #[arg(long, default_value_t = 4)]
    attempts: u32,
    /// The time limit of each attempt, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// With `--records 0`: exit once caught up with nothing new arriving for this many
    /// seconds (joining the group and rebalances do not count).
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    idle_exit: u64,
    /// Serve Prometheus metrics at `http://HOST:PORT/metrics` and the member's health at
    /// `/health` while it runs, as `timely-kafka pipe --metrics-addr` does.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    #[command(flatten)]
    timely: TimelyArgs,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderingArg {
    /// One call at a time per partition.
    PerPartition,
    /// One call at a time per customer (the record key).
    PerKey,
    /// Calls concurrently, each partition's results in offset order.
    OrderedResults,
    /// No order.
    Unordered,
}

/// A number in `0.0..=1.0`.
fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a number from 0 to 1")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    setup::init_logging();
    let args = Args::parse();
    let file = ClientProperties::read(args.config.as_deref())?;
    let kafka =
        setup::Kafka::given_or_embedded(args.brokers.clone().or(file.bootstrap_servers), |c| {
            c.create_topic(&args.input, 3)?;
            c.create_topic(&args.output, 3)?;
            c.create_topic(&args.dead_letter, 1)?;
            Ok(())
        })?;

    // The service, on a runtime of its own, as if it were another process.
    let service = Arc::new(Service {
        latency: Duration::from_millis(args.latency_ms),
        failure_rate: args.failure_rate,
        permanent_failure_rate: args.permanent_failure_rate,
        seed: args.seed,
        seen: Mutex::new(HashMap::new()),
        requests: AtomicU64::new(0),
        unavailable: AtomicU64::new(0),
        broken: AtomicU64::new(0),
    });
    let service_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("enrich-service")
        .enable_all()
        .build()?;
    let listener = service_runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let address = listener.local_addr()?;
    service_runtime.spawn(serve(listener, Arc::clone(&service)));
    println!(
        "enrichment service on http://{address}: {} ms a request, {}% answered 503, \
         {}% of customers answered 500, seed {}",
        args.latency_ms,
        args.failure_rate * 100.0,
        args.permanent_failure_rate * 100.0,
        args.seed
    );

    if args.records > 0 {
        let orders = (0..args.records).map(order);
        let loaded = match &kafka.embedded {
            Some(cluster) => cluster.load(&args.input, orders)?,
            None => load_into_with(&kafka.brokers, &file.settings, &args.input, orders)?,
        };
        println!("loaded {} orders into `{}`", loaded.records, args.input);
    }

    let source_config = file
        .settings
        .iter()
        .fold(SourceConfig::builder(), |builder, (key, value)| {
            builder.set(key, value)
        })
        .brokers(&kafka.brokers)
        .group_id(&args.group)
        .topic(&args.input)
        .tick(Duration::from_millis(50))
        .build()?;
    let sink_config = file
        .settings
        .iter()
        .fold(SinkConfig::builder(), |builder, (key, value)| {
            builder.set(key, value)
        })
        .brokers(&kafka.brokers)
        .default_topic(&args.output)
        .build()?;

    let client = reqwest::Client::builder().build()?;
    let stage = ConcurrentConfig::new(args.in_flight)
        .ordering(match args.ordering {
            OrderingArg::PerPartition => Ordering::PerPartition,
            OrderingArg::PerKey => Ordering::PerKey,
            OrderingArg::OrderedResults => Ordering::OrderedResults,
            OrderingArg::Unordered => Ordering::Unordered,
        })
        .timeout(Duration::from_millis(args.timeout_ms))
        .retry(
            RetryPolicy::classified(args.attempts)
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(500)),
        );
    let base: Arc<str> = format!("http://{address}").into();
    let handler = move |record: Arc<KafkaRecord>| enrich(client.clone(), Arc::clone(&base), record);

    let tally = Arc::new(Tally::default());
    let expected = args.records;
    let idle_exit = Duration::from_secs(args.idle_exit);
    let dead_letter_topic = args.dead_letter.clone();
    // Before the source and sinks are built: they take their metric handles then.
    let exporter = setup::serve_metrics(args.metrics_addr.as_deref())?;
    let worker_tally = Arc::clone(&tally);
    let guards = timely::execute(args.timely.config()?, move |worker| {
        let tally = Arc::clone(&worker_tally);
        let probe = ProbeHandle::new();
        let dataflow = worker.next_dataflow_index();
        let built = worker.dataflow(|scope| {
            let source = scope
                .kafka_source(&source_config)
                .map_err(|e| format!("joining the consumer group: {e}"))?;
            let control = source.handle.control();
            let (on_read, on_enriched, on_dead) =
                (Arc::clone(&tally), Arc::clone(&tally), Arc::clone(&tally));
            let processed = source
                .records
                .inspect(move |_| on_read.read())
                .process_concurrent(stage.clone(), handler.clone());
            let enriched = processed
                .ok
                .inspect(move |_| on_enriched.handled(&on_enriched.enriched))
                .map(|message| message.data)
                .kafka_sink(&sink_config)
                .map_err(|e| format!("starting the sink: {e}"))?;
            let dead = processed
                .failed
                .inspect(move |failure| {
                    tracing::info!("dead letter: {failure}");
                    on_dead.handled(&on_dead.dead_lettered);
                })
                .dead_letter(&sink_config, &dead_letter_topic)
                .map_err(|e| format!("starting the dead-letter sink: {e}"))?;
            let sinks = [enriched, dead].map(|sink| {
                sink.acknowledged.probe_with(&probe);
                sink.handle.stop_with(&control);
                sink.handle
            });
            source.handle.commit_after(&probe);
            Ok::<_, String>((source.handle, sinks))
        });
        let (handle, sinks) = match built {
            Ok(handles) => handles,
            Err(error) => {
                // What was built (the source) must not keep the worker running.
                worker.drop_dataflow(dataflow);
                return Err(error);
            }
        };
        let control = handle.control();
        if let Some(exporter) = &exporter {
            exporter.watch(&control);
        }
        loop {
            worker.step_or_park(Some(Duration::from_millis(100)));
            if sinks.iter().any(|sink| sink.error().is_some()) || control.error().is_some() {
                // A failed sink holds its records' ticks: nothing after them can drain.
                control.shutdown_now();
                break;
            }
            let handled = tally.enriched.load(AtomicOrdering::SeqCst)
                + tally.dead_lettered.load(AtomicOrdering::SeqCst);
            // Idle: assigned, caught up, everything handled and acknowledged, nothing new
            // for `idle_exit`. Waiting for the group never counts.
            if (expected > 0 && handled >= expected) || control.idle_for() >= idle_exit {
                // Stop reading, let what is in flight finish, commit.
                control.shutdown();
                break;
            }
        }
        Ok::<_, String>((control, sinks))
    })?;
    let mut progress = None;
    for result in guards.join() {
        let (control, sinks) = result.map_err(|e| format!("a worker failed: {e}"))??;
        if let Some(error) = sinks.iter().find_map(|sink| sink.error()) {
            return Err(format!("a sink failed: {error}").into());
        }
        if let Some(error) = control.error() {
            return Err(format!("the source failed: {error}").into());
        }
        progress.get_or_insert_with(|| control.progress());
    }

    let read = tally.read.load(AtomicOrdering::SeqCst);
    let enriched = tally.enriched.load(AtomicOrdering::SeqCst);
    let dead_lettered = tally.dead_lettered.load(AtomicOrdering::SeqCst);
    let elapsed = tally.elapsed();
    println!(
        "{read} records in, {enriched} enriched out, {dead_lettered} dead-lettered, \
         {:.2} s, {:.0} records/s",
        elapsed.as_secs_f64(),
        (enriched + dead_lettered) as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    let requests = service.requests.load(AtomicOrdering::SeqCst);
    println!(
        "service: {requests} requests ({} retries), {} answered 503, {} answered 500",
        requests.saturating_sub(read),
        service.unavailable.load(AtomicOrdering::SeqCst),
        service.broken.load(AtomicOrdering::SeqCst)
    );
    let committed: BTreeMap<i32, i64> = progress
        .iter()
        .flat_map(|progress| &progress.partitions)
        .filter(|p| *p.topic_partition.topic == *args.input)
        .filter_map(|p| Some((p.topic_partition.partition, p.committed?)))
        .collect();
    let listed: Vec<String> = committed
        .iter()
        .map(|(partition, offset)| format!("{}/{partition}@{offset}", args.input))
        .collect();
    match &kafka.embedded {
        Some(cluster) => {
            let ends: BTreeMap<i32, i64> = cluster
                .end_offsets(&args.input)?
                .into_iter()
                .filter(|(_, end)| *end > 0)
                .collect();
            if committed != ends {
                return Err(format!(
                    "the group committed {committed:?}, not the input's end offsets {ends:?}"
                )
                .into());
            }
            println!("committed: {} (the input's end offsets)", listed.join(", "));
        }
        None => println!("committed: {}", listed.join(", ")),
    }
    Ok(())
}

/// Order `i`: customer `i % CUSTOMERS`'s, keyed by the customer (so a customer's orders
/// share a partition), a small JSON object as payload.
fn order(i: u64) -> TestRecord {
    let customer = format!("customer-{:04}", i % CUSTOMERS);
    let cents = 100 + i * 7919 % 99_900;
    TestRecord::new(format!(
        r#"{{"order":{i},"customer":"{customer}","amount_cents":{cents}}}"#
    ))
    .key(customer)
}

/// What the run saw, over every worker.
#[derive(Default)]
struct Tally {
    read: AtomicU64,
    enriched: AtomicU64,
    dead_lettered: AtomicU64,
    first_read: OnceLock<Instant>,
    last_handled: Mutex<Option<Instant>>,
}

impl Tally {
    fn read(&self) {
        self.first_read.get_or_init(Instant::now);
        self.read.fetch_add(1, AtomicOrdering::SeqCst);
    }

    /// Counts a record handled in `outcome` (`enriched` or `dead_lettered`).
    fn handled(&self, outcome: &AtomicU64) {
        *self.last_handled.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        outcome.fetch_add(1, AtomicOrdering::SeqCst);
    }

    /// From the first record read to the last one handled.
    fn elapsed(&self) -> Duration {
        let last = *self.last_handled.lock().unwrap_or_else(|e| e.into_inner());
        match (self.first_read.get(), last) {
            (Some(first), Some(last)) => last.saturating_duration_since(*first),
            _ => Duration::ZERO,
        }
    }
}

/// Why a call for a record failed.
#[derive(Debug)]
enum CallError {
    /// The record is no order: no call can help.
    BadRecord(&'static str),
    /// The request did not complete (refused, reset).
    Transport(reqwest::Error),
    /// The service answered with an error status.
    Status { code: u16, body: String },
    /// The service's answer is no profile.
    BadAnswer(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::BadRecord(why) => write!(f, "bad record: {why}"),
            CallError::Transport(error) => write!(f, "calling the service: {error}"),
            CallError::Status { code, body } => write!(f, "HTTP {code}: {body}"),
            CallError::BadAnswer(why) => write!(f, "the service's answer: {why}"),
        }
    }
}

impl Retriable for CallError {
    fn is_retriable(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Status { code, .. } => *code >= 500 || *code == 429,
            CallError::BadRecord(_) | CallError::BadAnswer(_) => false,
        }
    }
}

/// The handler: fetches the profile of the record's customer (its key) and returns the
/// order with the profile added, for the output topic.
async fn enrich(
    client: reqwest::Client,
    service: Arc<str>,
    record: Arc<KafkaRecord>,
) -> Result<SinkRecord, CallError> {
    let customer = record
        .key_str()
        .ok_or(CallError::BadRecord("no customer key"))?;
    let mut order: serde_json::Value = record
        .payload
        .as_deref()
        .and_then(|payload| serde_json::from_slice(payload).ok())
        .filter(serde_json::Value::is_object)
        .ok_or(CallError::BadRecord("the payload is no JSON object"))?;
    let response = client
        .get(format!("{service}/customers/{customer}"))
        .header("x-request-id", record.position().to_string())
        .send()
        .await
        .map_err(CallError::Transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(CallError::Transport)?;
    if !status.is_success() {
        return Err(CallError::Status {
            code: status.as_u16(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let profile: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| CallError::BadAnswer(e.to_string()))?;
    order["profile"] = profile;
    let payload = serde_json::to_vec(&order).map_err(|e| CallError::BadAnswer(e.to_string()))?;
    Ok(SinkRecord {
        topic: None,
        partition: None,
        key: record.key.clone(),
        payload: Some(payload),
        headers: record.headers.clone(),
        timestamp_ms: record.timestamp.millis(),
        origin: Some(record.position()),
    })
}

/// The enrichment service: how it answers, and what it has answered.
struct Service {
    latency: Duration,
    failure_rate: f64,
    permanent_failure_rate: f64,
    seed: u64,
    /// Requests seen per `x-request-id`.
    seen: Mutex<HashMap<String, u32>>,
    requests: AtomicU64,
    /// Answered 503.
    unavailable: AtomicU64,
    /// Answered 500.
    broken: AtomicU64,
}

impl Service {
    /// Answers `GET /customers/{customer}` after the latency: see the [module
    /// docs](self#the-service) for when it fails. A request with no `x-request-id` header,
    /// or for no `customer-N`, is answered at once (400, 404).
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        // Counted on arrival: an attempt the client gives up on (a timeout) was still seen.
        self.requests.fetch_add(1, AtomicOrdering::SeqCst);
        let Some(customer) = request.uri().path().strip_prefix("/customers/") else {
            return respond(StatusCode::NOT_FOUND, "no such resource".into());
        };
        let Some(number) = customer
            .strip_prefix("customer-")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return respond(StatusCode::NOT_FOUND, format!("no customer {customer:?}"));
        };
        let Some(id) = request
            .headers()
            .get("x-request-id")
            .and_then(|id| id.to_str().ok())
        else {
            return respond(StatusCode::BAD_REQUEST, "no x-request-id header".into());
        };
        let attempt = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let count = seen.entry(id.to_owned()).or_default();
            *count += 1;
            *count
        };
        tokio::time::sleep(self.latency).await;
        if chance(self.seed, customer) < self.permanent_failure_rate {
            self.broken.fetch_add(1, AtomicOrdering::SeqCst);
            return respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{customer}: the profile store cannot read this customer"),
            );
        }
        if chance(self.seed, &format!("{id}#{attempt}")) < self.failure_rate {
            self.unavailable.fetch_add(1, AtomicOrdering::SeqCst);
            return respond(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded, try again".into(),
            );
        }
        let tier = ["bronze", "silver", "gold"][(number % 3) as usize];
        let region = ["eu-west", "us-east", "ap-south", "sa-east"][(number % 4) as usize];
        let profile = serde_json::json!({
            "customer": customer,
            "name": format!("Customer {number}"),
            "tier": tier,
            "region": region,
        });
        let mut response = respond(StatusCode::OK, profile.to_string());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// A plain-text response.
fn respond(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// Accepts connections on `listener` and serves each with HTTP/1.1 (keep-alive) until the
/// runtime is dropped.
async fn serve(listener: tokio::net::TcpListener, service: Arc<Service>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!("the enrichment service cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let answer = service_fn(move |request| {
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(service.answer(request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), answer)
                .await
            {
                tracing::debug!("an enrichment service connection ended: {error}");
            }
        });
    }
}

/// A number in `[0, 1)` that depends only on `seed` and `text`: FNV-1a over the seed's
/// eight little-endian bytes and then the text's bytes, finished with splitmix64's mixer,
/// its top 53 bits scaled down. The service's dice.
fn chance(seed: u64, text: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(text.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}
