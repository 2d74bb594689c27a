//! The broker a benchmark runs against: the embedded cluster in a child process (default,
//! `--embedded child`), in this process (`--embedded in-process`), or an external Kafka
//! (`--brokers`).
//!
//! The child process is this binary's `mock-cluster` command, librdkafka's mock cluster
//! like the in-process one. It keeps the broker's CPU time and its in-memory topics out of
//! the benchmark process, so the CPU and peak-RSS columns describe the pipeline alone, and
//! the broker's own CPU is read from `/proc/<pid>`. The mock cluster cannot create topics
//! on request from another process, so every topic of the run is named up front and
//! created when the child starts.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::ValueEnum;
use rdkafka::producer::{BaseProducer, Producer};
use timely_kafka::testing::EmbeddedCluster;

use timely_kafka::client::{create, BasicContext};

use super::topics::TopicPlan;

/// Where the embedded cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrokerMode {
    /// A child process (`timely-kafka mock-cluster`): CPU and RSS columns exclude it.
    Child,
    /// Inside the benchmark process: CPU and RSS columns include it.
    InProcess,
}

/// A running broker.
pub enum Broker {
    Child(ChildBroker),
    InProcess(EmbeddedCluster),
    External(ExternalBroker),
}

/// A broker the bench did not start, and the topics the bench created on it (deleted when
/// the bench ends, so repeated runs and sweeps do not pile partitions up on a cluster).
pub struct ExternalBroker {
    bootstrap: String,
    created: Vec<String>,
}

impl Drop for ExternalBroker {
    fn drop(&mut self) {
        if self.created.is_empty() {
            return;
        }
        if let Err(err) = delete_topics(&self.bootstrap, &self.created) {
            eprintln!(
                "bench: could not delete the topics it created ({}): {err}",
                self.created.join(", ")
            );
        }
    }
}

impl Broker {
    /// Starts (or connects to) the broker and makes sure every topic of `plan` exists; the
    /// topics consumers read must have the plan's partition count.
    pub fn start(
        mode: BrokerMode,
        external: Option<&str>,
        plan: &TopicPlan,
    ) -> Result<Self, String> {
        match (external, mode) {
            (Some(bootstrap), _) => {
                let mut external = ExternalBroker {
                    bootstrap: bootstrap.to_owned(),
                    created: Vec::new(),
                };
                for topic in plan.read() {
                    let (found, created) = ensure_exists(bootstrap, &topic, plan.partitions)?;
                    if created {
                        external.created.push(topic.clone());
                    }
                    if found != plan.partitions {
                        return Err(format!(
                            "topic {topic} on {bootstrap} has {found} partitions, not --partitions {}: pass --partitions {found} or create the topics with {} partitions",
                            plan.partitions, plan.partitions
                        ));
                    }
                }
                for topic in plan.any_partitions() {
                    if ensure_exists(bootstrap, &topic, plan.partitions)?.1 {
                        external.created.push(topic);
                    }
                }
                Ok(Broker::External(external))
            }
            (None, BrokerMode::Child) => ChildBroker::spawn(&plan.all()).map(Broker::Child),
            (None, BrokerMode::InProcess) => {
                let cluster = EmbeddedCluster::new(1).map_err(|e| e.to_string())?;
                for (topic, partitions) in plan.all() {
                    cluster
                        .create_topic(&topic, partitions)
                        .map_err(|e| e.to_string())?;
                }
                Ok(Broker::InProcess(cluster))
            }
        }
    }

    /// The bootstrap servers.
    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Child(child) => child.bootstrap.clone(),
            Broker::InProcess(cluster) => cluster.bootstrap_servers(),
            Broker::External(external) => external.bootstrap.clone(),
        }
    }

    /// The broker's process id when it runs as a child.
    pub fn child_pid(&self) -> Option<u32> {
        match self {
            Broker::Child(child) => Some(child.child.id()),
            _ => None,
        }
    }

    /// How the table describes the broker.
    pub fn describe(&self) -> &'static str {
        match self {
            Broker::Child(_) => "embedded cluster in a child process (not in the CPU/RSS columns)",
            Broker::InProcess(_) => "embedded cluster in this process (in the CPU/RSS columns)",
            Broker::External(_) => "external broker (--brokers)",
        }
    }
}

/// `timely-kafka mock-cluster` as a child process, killed when dropped.
pub struct ChildBroker {
    child: Child,
    bootstrap: String,
}

impl ChildBroker {
    fn spawn(topics: &[(String, i32)]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("locating this program: {e}"))?;
        let mut command = Command::new(exe);
        command.arg("mock-cluster");
        for (topic, partitions) in topics {
            command.arg("--topic").arg(format!("{topic}:{partitions}"));
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "warn");
        }
        // SAFETY: prctl is async-signal-safe and touches only the child's own state. It
        // makes the child exit with the benchmark even if the benchmark is killed.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting the mock-cluster child process: {e}"))?;
        let mut line = String::new();
        let read = match child.stdout.take() {
            Some(stdout) => BufReader::new(stdout).read_line(&mut line),
            None => Ok(0),
        };
        let bootstrap = line.trim().to_owned();
        if read.is_err() || bootstrap.is_empty() {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            return Err(format!(
                "the mock-cluster child process printed no bootstrap servers ({status})"
            ));
        }
        tracing::info!(pid = child.id(), %bootstrap, "mock cluster child process started");
        Ok(ChildBroker { child, bootstrap })
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        // An in-memory mock: nothing to shut down gracefully.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that `topic` exists on an external broker, creating it with `partitions`
/// partitions (and the cluster's default replication factor) when it does not, and returns
/// its partition count and whether the bench created it. Where the cluster refuses the creation (no `CREATE` permission), a
/// metadata request that allows auto-creation is the fallback, as brokers with
/// `auto.create.topics.enable` create topics on it (with their default partition count).
fn ensure_exists(bootstrap: &str, topic: &str, partitions: i32) -> Result<(i32, bool), String> {
    let mut config = super::connection::client_config(bootstrap);
    config.set("allow.auto.create.topics", "true");
    let producer: BaseProducer<BasicContext> = create(&config, BasicContext)
        .map_err(|e| format!("metadata client for {bootstrap}: {e}"))?;
    // With OAUTHBEARER, the token is asked for on the event queue before connecting.
    producer.poll(Duration::ZERO);
    let count = |allow_create: bool| -> Result<Option<i32>, String> {
        let metadata = if allow_create {
            producer
                .client()
                .fetch_metadata(Some(topic), Duration::from_secs(10))
        } else {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(10))
        }
        .map_err(|e| format!("metadata of {topic} on {bootstrap}: {e}"))?;
        Ok(metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.partitions().len() as i32))
    };
    if let Some(found) = count(false)? {
        return Ok((found, false));
    }
    let created = create_topic(&config, topic, partitions);
    if let Err(err) = &created {
        eprintln!(
            "bench: creating {topic} with {partitions} partitions: {err}; trying auto-creation"
        );
    }
    // Creation is asynchronous on the broker: ask a few times, backing off.
    for attempt in 0..10 {
        if let Some(found) = count(created.is_err())? {
            return Ok((found, created.is_ok()));
        }
        std::thread::sleep(Duration::from_millis(100 << attempt.min(4)));
    }
    Err(format!(
        "topic {topic} does not exist on {bootstrap} and could not be created: create it (with --partitions partitions) or allow auto-creation"
    ))
}

/// Deletes `topics`.
fn delete_topics(bootstrap: &str, topics: &[String]) -> Result<(), String> {
    use rdkafka::admin::{AdminClient, AdminOptions};
    let config = super::connection::client_config(bootstrap);
    let admin: AdminClient<BasicContext> =
        create(&config, BasicContext).map_err(|e| format!("admin client: {e}"))?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in
        pollster::block_on(admin.delete_topics(&names, &options)).map_err(|e| e.to_string())?
    {
        if let Err((name, code)) = result {
            return Err(format!("{name}: {code}"));
        }
    }
    Ok(())
}

/// Creates `topic` with `partitions` partitions and the cluster's default replication factor.
fn create_topic(
    config: &rdkafka::ClientConfig,
    topic: &str,
    partitions: i32,
) -> Result<(), String> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<BasicContext> =
        create(config, BasicContext).map_err(|e| format!("admin client: {e}"))?;
    // -1: the broker's `default.replication.factor` (KIP-464, Kafka 2.4 and later).
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results =
        pollster::block_on(admin.create_topics([&new], &options)).map_err(|e| e.to_string())?;
    for result in results {
        if let Err((name, code)) = result {
            if code != rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists {
                return Err(format!("{name}: {code}"));
            }
        }
    }
    Ok(())
}
