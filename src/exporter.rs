//! The `/metrics` and `/health` endpoint of the command and the examples (the `cli` feature).
//!
//! The figures are rendered by `metrics-exporter-prometheus` (its recorder, without its HTTP
//! listener) and served, with `/health`, by `tiny_http` on one address. The exporter's own
//! listener answers every path with the metrics and `/health` with a fixed `OK`, so it cannot
//! say whether this member holds an assignment; a second listener would need a second port.
//! `tiny_http` is synchronous and small: no async runtime is built into the command for two
//! paths.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::source::SourceControl;

/// Histogram buckets for every `_seconds` metric: 1 ms to 1 min.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How often the exporter's histograms are maintained (its "upkeep").
const UPKEEP: Duration = Duration::from_secs(5);

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// A `metrics` recorder was already installed in this process.
    #[error("a metrics recorder is already installed in this process")]
    AlreadyInstalled,
    /// The address could not be listened on.
    #[error("serving metrics on {addr}: {reason}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// Why it failed.
        reason: String,
    },
}

/// The Prometheus exporter of a process: installs the `metrics` recorder and serves
/// `/metrics` (Prometheus text format) and `/health` (JSON) over HTTP.
///
/// `/health` answers `200` with, for every source it [watches](Exporter::watch): its
/// group, whether this member has joined and holds an assignment (how many partitions), and
/// when the broker last accepted one of its commits; `503` once a source has stopped on an
/// error (the error is in the body).
///
/// ```no_run
/// use timely_kafka::exporter::Exporter;
/// let exporter = Exporter::install()?;
/// let addr = exporter.serve("127.0.0.1:9464")?;
/// println!("scrape http://{addr}/metrics");
/// # Ok::<(), timely_kafka::exporter::ExporterError>(())
/// ```
pub struct Exporter {
    handle: PrometheusHandle,
    recording: Arc<AtomicBool>,
    sources: Arc<Mutex<Vec<SourceControl>>>,
    server: Mutex<Option<Arc<tiny_http::Server>>>,
}

impl Exporter {
    /// Installs the process's `metrics` recorder (a Prometheus one; `_seconds` histograms get
    /// buckets from 1 ms to 60 s), describes every metric ([`describe`](crate::metrics::describe)),
    /// and starts its upkeep thread. Install it before building sources and sinks: they
    /// take their metric handles when built. Fails if a recorder is already installed.
    pub fn install() -> Result<Exporter, ExporterError> {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let recording = Arc::new(AtomicBool::new(true));
        let switch = Switch {
            inner: recorder,
            on: Arc::clone(&recording),
        };
        metrics::set_global_recorder(switch).map_err(|_| ExporterError::AlreadyInstalled)?;
        crate::metrics::describe();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP);
                upkeep.run_upkeep();
            });
        Ok(Exporter {
            handle,
            recording,
            sources: Arc::default(),
            server: Mutex::new(None),
        })
    }

    /// [`install`](Self::install), then [`serve`](Self::serve) on `addr`: what a command's
    /// `--metrics-addr HOST:PORT` does. Returns the exporter and the address it listens on.
    pub fn serve_at(addr: &str) -> Result<(Exporter, SocketAddr), ExporterError> {
        let exporter = Exporter::install()?;
        let bound = exporter.serve(addr)?;
        Ok((exporter, bound))
    }

    /// Serves `/metrics` and `/health` on `addr` (`HOST:PORT`; port 0 picks a free one) from
    /// a thread of its own, and returns the address it listens on.
    pub fn serve(&self, addr: &str) -> Result<SocketAddr, ExporterError> {
        let listen_error = |reason: String| ExporterError::Listen {
            addr: addr.to_owned(),
            reason,
        };
        let server = tiny_http::Server::http(addr).map_err(|e| listen_error(e.to_string()))?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| listen_error("not an IP address".into()))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let handle = self.handle.clone();
        let sources = Arc::clone(&self.sources);
        std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    respond(request, &handle, &sources);
                }
            })
            .map_err(|e| listen_error(e.to_string()))?;
        *lock(&self.server) = Some(server);
        Ok(bound)
    }

    /// Reports `control`'s source in `/health` (once, however many workers of the process
    /// call it with their control of the same source).
    pub fn watch(&self, control: &SourceControl) {
        let mut sources = lock(&self.sources);
        if !sources.iter().any(|c| c.same_source(control)) {
            sources.push(control.clone());
        }
    }

    /// The metrics in Prometheus text format, as `/metrics` serves them.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// The `/health` answer: whether every watched source is healthy, and the JSON body.
    pub fn health(&self) -> (bool, String) {
        health(&lock(&self.sources))
    }

    /// Turns recording on or off for the metric handles taken from now on (sources and sinks
    /// built while it is off record nothing, as without a recorder). For measuring what
    /// recording costs; on by default.
    pub fn set_recording(&self, on: bool) {
        self.recording.store(on, Ordering::SeqCst);
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(server) = lock(&self.server).take() {
            server.unblock();
        }
    }
}

/// Answers one request: `/metrics`, `/health`, or 404.
fn respond(
    request: tiny_http::Request,
    handle: &PrometheusHandle,
    sources: &Mutex<Vec<SourceControl>>,
) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let header = |value: &str| {
        tiny_http::Header::from_bytes(&b"Content-Type"[..], value.as_bytes())
            .expect("a valid header")
    };
    let response = match path.as_str() {
        "/metrics" => tiny_http::Response::from_string(handle.render())
            .with_header(header("text/plain; version=0.0.4; charset=utf-8")),
        "/health" => {
            let (healthy, body) = health(&lock(sources));
            tiny_http::Response::from_string(body)
                .with_status_code(if healthy { 200 } else { 503 })
                .with_header(header("application/json"))
        }
        _ => tiny_http::Response::from_string("not found: try /metrics or /health\n")
            .with_status_code(404)
            .with_header(header("text/plain; charset=utf-8")),
    };
    // A client that went away is no error of ours.
    let _ = request.respond(response);
}

/// Whether every source is healthy (none stopped on an error), and the JSON body.
fn health(sources: &[SourceControl]) -> (bool, String) {
    let now = SystemTime::now();
    let mut healthy = true;
    let reports: Vec<serde_json::Value> = sources
        .iter()
        .map(|control| {
            let progress = control.progress();
            let metrics = control.metrics();
            let error = control.error().map(|e| e.to_string());
            healthy &= error.is_none();
            let last_commit = metrics.commits.last_success;
            serde_json::json!({
                "group": metrics.group,
                "joined": progress.joined,
                "holds_assignment": !progress.assigned.is_empty(),
                "assigned_partitions": progress.assigned.len(),
                "last_commit_unix_seconds": last_commit
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64()),
                "seconds_since_last_commit": last_commit
                    .and_then(|t| now.duration_since(t).ok())
                    .map(|d| d.as_secs_f64()),
                "closed": control.is_closed(),
                "error": error,
            })
        })
        .collect();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "failed" },
        "sources": reports,
    });
    (healthy, format!("{body}\n"))
}

/// The Prometheus recorder behind a switch: handles registered while it is off are no-ops.
struct Switch {
    inner: PrometheusRecorder,
    on: Arc<AtomicBool>,
}

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.on.load(Ordering::SeqCst) {
            self.inner.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.on.load(Ordering::SeqCst) {
            self.inner.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.on.load(Ordering::SeqCst) {
            self.inner.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
