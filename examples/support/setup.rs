//! What the examples do before building their dataflow: logging, the Kafka cluster (an
//! embedded one unless brokers are given) and the optional metrics endpoint.
//!
//! `support/mod.rs` (the differential views) uses it as `support::setup`; an example that
//! needs only this part includes it alone with `#[path = "support/setup.rs"] mod setup;`.

use std::error::Error;
use std::sync::Arc;

use timely_kafka::exporter::Exporter;
use timely_kafka::testing::EmbeddedCluster;

/// Sends the library's logs to stderr, at `warn` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

/// The Kafka an example runs against.
pub struct Kafka {
    /// The embedded cluster, when no brokers were given: it lives as long as this value.
    // The views only keep it alive; each example crate compiles this file on its own.
    #[allow(dead_code)]
    pub embedded: Option<EmbeddedCluster>,
    /// The bootstrap servers, given or the embedded cluster's.
    pub brokers: String,
}

impl Kafka {
    /// The `given` brokers, or else a one-broker embedded cluster that `prepare` sets up
    /// (creates its topics, loads sample input). External brokers get nothing done to them.
    pub fn given_or_embedded(
        given: Option<String>,
        prepare: impl FnOnce(&EmbeddedCluster) -> Result<(), Box<dyn Error>>,
    ) -> Result<Self, Box<dyn Error>> {
        match given {
            Some(brokers) => Ok(Kafka {
                embedded: None,
                brokers,
            }),
            None => {
                let cluster = EmbeddedCluster::new(1)?;
                prepare(&cluster)?;
                Ok(Kafka {
                    brokers: cluster.bootstrap_servers(),
                    embedded: Some(cluster),
                })
            }
        }
    }
}

/// Serves Prometheus metrics at `http://ADDR/metrics` and a health report at `/health`, as
/// `timely-kafka pipe --metrics-addr` does, when `addr` is given. Call it before building
/// the sources and sinks: they take their metric handles then.
pub fn serve_metrics(addr: Option<&str>) -> Result<Option<Arc<Exporter>>, Box<dyn Error>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let (exporter, bound) = Exporter::serve_at(addr)?;
    eprintln!("metrics on http://{bound}/metrics, health on http://{bound}/health");
    Ok(Some(Arc::new(exporter)))
}
