//! [`EmbeddedCluster`]: librdkafka's mock cluster, owned and shared safely.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka_sys::types::RDKafkaMockCluster;
use tracing::info;

use super::error::ClusterError;
use super::load::Loader;
use super::offsets::{self, REQUEST_TIMEOUT};
use super::record::{LoadReport, TestRecord};
use crate::offsets::Watermarks;
use crate::position::TopicPartition;

/// The most replicas a topic gets, when the cluster has that many brokers.
const MAX_REPLICATION_FACTOR: i32 = 3;

/// An in-process Kafka cluster for tests and local development.
///
/// It is librdkafka's mock cluster: brokers that speak the Kafka protocol on real TCP
/// listeners on `127.0.0.1`, so any Kafka client, in this process or another, can use
/// [`bootstrap_servers`](Self::bootstrap_servers). It supports producing, fetching,
/// consumer groups (subscribe, rebalances, commits) and fault injection through
/// [`mock`](Self::mock). It does not support the admin API: create topics with
/// [`create_topic`](Self::create_topic). Dropping the cluster stops the brokers.
///
/// The cluster is `Send + Sync`: share it with `Arc` or borrow it across threads. The
/// [`MockCluster`] handle from [`mock`](Self::mock) is not `Send`; take a new one where
/// you need it (it is a cheap borrow).
///
/// Limits of the mock worth knowing:
/// - A partition keeps only about 5 MiB of record batches (and at most 100,000 batches);
///   older data is dropped silently. [`load`](Self::load) compresses with lz4 and batches
///   large, but a big incompressible load needs more partitions.
/// - A new consumer group normally waits 3 s before its first rebalance; `new` sets that
///   delay to zero (see [`set_group_initial_rebalance_delay`](Self::set_group_initial_rebalance_delay)).
///
/// # Example
///
/// ```rust
/// use timely_kafka::testing::{EmbeddedCluster, TestRecord};
///
/// let cluster = EmbeddedCluster::new(1)?;
/// cluster.create_topic("events", 2)?;
/// let report = cluster.load(
///     "events",
///     (0..10).map(|i| TestRecord::new(format!("event {i}")).partition(i % 2)),
/// )?;
/// assert_eq!(report.records, 10);
///
/// let ends = cluster.end_offsets("events")?;
/// assert_eq!(ends.into_iter().collect::<Vec<_>>(), vec![(0, 5), (1, 5)]);
///
/// // Any Kafka client can connect to the brokers:
/// let bootstrap = cluster.bootstrap_servers();
/// assert!(bootstrap.starts_with("127.0.0.1:"));
/// # Ok::<(), timely_kafka::testing::ClusterError>(())
/// ```
pub struct EmbeddedCluster {
    // Field order is drop order: the loader must disconnect before the host destroys
    // the mock brokers it talks to.
    loader: Loader,
    /// The client that owns the mock cluster (librdkafka creates it for
    /// `test.mock.num.brokers` and destroys it with the client). Threaded, so the
    /// mock's log lines and errors are served even when nobody calls into the cluster.
    host: ThreadedProducer<DefaultProducerContext>,
    bootstrap_servers: String,
    brokers: i32,
}

impl EmbeddedCluster {
    /// Starts a mock cluster with `brokers` brokers (at least 1), each listening on a
    /// free port on `127.0.0.1`.
    ///
    /// The group initial rebalance delay is set to zero, so consumer groups join at once
    /// instead of after the mock's default 3 s. Restore a delay with
    /// [`set_group_initial_rebalance_delay`](Self::set_group_initial_rebalance_delay)
    /// to test behaviour that depends on it.
    pub fn new(brokers: i32) -> Result<Self, ClusterError> {
        if brokers < 1 {
            return Err(ClusterError::InvalidBrokerCount { brokers });
        }
        let host: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("test.mock.num.brokers", brokers.to_string())
            .set("client.id", "timely-kafka-embedded-cluster")
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|source| ClusterError::Client {
                role: "mock-hosting",
                source: Box::new(source),
            })?;
        let bootstrap_servers = host
            .client()
            .mock_cluster()
            .ok_or(ClusterError::NoMockCluster { brokers })?
            .bootstrap_servers();
        let loader = Loader::new(&bootstrap_servers, &[])?;
        let cluster = EmbeddedCluster {
            loader,
            host,
            bootstrap_servers,
            brokers,
        };
        cluster.set_group_initial_rebalance_delay(Duration::ZERO);
        info!(
            brokers,
            bootstrap_servers = %cluster.bootstrap_servers,
            "embedded Kafka cluster started"
        );
        Ok(cluster)
    }

    /// The brokers' addresses, comma separated, for a client's `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap_servers.clone()
    }

    /// How many brokers the cluster started with.
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    /// Creates `topic` with `partitions` partitions (at least 1), replicated on up to
    /// three brokers. Fails if the topic already exists.
    ///
    /// The topic is visible to clients as soon as this returns.
    pub fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), ClusterError> {
        if partitions < 1 {
            return Err(ClusterError::InvalidPartitionCount {
                topic: topic.to_owned(),
                partitions,
            });
        }
        let replication_factor = self.brokers.min(MAX_REPLICATION_FACTOR);
        self.mock()
            .create_topic(topic, partitions, replication_factor)
            .map_err(|source| ClusterError::CreateTopic {
                topic: topic.to_owned(),
                partitions,
                source: Box::new(source),
            })?;
        info!(topic, partitions, replication_factor, "created topic");
        Ok(())
    }

    /// A handle on the mock cluster for fault injection: `request_errors`,
    /// `broker_down` / `broker_up`, `partition_leader`, `coordinator`,
    /// `broker_round_trip_time` and more. See [`MockCluster`].
    ///
    /// The handle borrows the cluster and is not `Send`; call `mock()` again on another
    /// thread. For librdkafka mock functions rdkafka does not wrap, see
    /// [`mock_ptr`](Self::mock_ptr).
    pub fn mock(&self) -> MockCluster<'_, DefaultProducerContext> {
        // `new` checked that the host client has a mock cluster; librdkafka keeps it
        // attached until the client is destroyed, which `&self` rules out.
        self.host
            .client()
            .mock_cluster()
            .expect("the host client of an EmbeddedCluster always has a mock cluster")
    }

    /// The raw librdkafka mock cluster, for `rdkafka_sys::rd_kafka_mock_*` functions that
    /// rdkafka does not wrap (request tracking, broker decommission, ...).
    ///
    /// The pointer is valid while `self` is alive. The mock API is thread safe: each call
    /// is handed to the mock's own thread or guarded by its lock. Using the pointer is
    /// `unsafe`; obtaining it is not.
    pub fn mock_ptr(&self) -> *mut RDKafkaMockCluster {
        // SAFETY: `native_ptr` is the live `rd_kafka_t` of `self.host`, which outlives
        // this call; `rd_kafka_handle_mock_cluster` only reads the handle's mock field.
        unsafe { rdkafka_sys::rd_kafka_handle_mock_cluster(self.host.client().native_ptr()) }
    }

    /// Sets how long the first member of a new consumer group waits for others before
    /// the group's first rebalance. The mock's default is 3 s; [`new`](Self::new) sets
    /// it to zero. Applies to groups created after the call. Saturates at `i32::MAX` ms.
    pub fn set_group_initial_rebalance_delay(&self, delay: Duration) {
        let delay_ms = i32::try_from(delay.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `mock_ptr` is non-null (`new` checked that the host has a mock cluster)
        // and stays valid while `self.host` lives, which `&self` guarantees. The function
        // only stores the value under the cluster's own mutex, so concurrent calls from
        // any thread are fine.
        unsafe {
            rdkafka_sys::rd_kafka_mock_group_initial_rebalance_delay_ms(self.mock_ptr(), delay_ms)
        }
    }

    /// Sets the session timeout and heartbeat interval the cluster hands to members of
    /// groups using the KIP-848 `consumer` protocol (`group.protocol=consumer`), where these
    /// are the broker's to choose. The mock's defaults are 30 s and 3 s. Applies to groups
    /// created after the call. Each saturates at `i32::MAX` ms.
    pub fn set_consumer_group_timeouts(&self, session: Duration, heartbeat: Duration) {
        let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: as in `set_group_initial_rebalance_delay`: the pointer is valid while
        // `self` lives, and both functions only store a value under the cluster's mutex.
        unsafe {
            rdkafka_sys::rd_kafka_mock_set_group_consumer_session_timeout_ms(
                self.mock_ptr(),
                ms(session),
            );
            rdkafka_sys::rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(
                self.mock_ptr(),
                ms(heartbeat),
            );
        }
    }

    /// Makes broker `broker_id` answer its next requests of kind `api` with `errors`, in
    /// order, one error per request (`NO_ERROR` lets a request through). Unlike
    /// [`MockCluster::request_errors`], which applies to whichever broker gets the request,
    /// this targets one broker: lead a test's output topic from one broker and its input
    /// from another to fail only the writes under test.
    pub fn broker_request_errors(
        &self,
        broker_id: i32,
        api: rdkafka::types::RDKafkaApiKey,
        errors: &[rdkafka::types::RDKafkaRespErr],
    ) -> Result<(), ClusterError> {
        for error in errors {
            // SAFETY: the mock pointer is valid while `self` lives (see
            // `set_group_initial_rebalance_delay`). The variadic tail is exactly `cnt` = 1
            // pair of (error code, round-trip time in ms), both C ints, as the C function
            // reads them; the call only appends to a list under the cluster's mutex.
            let result = unsafe {
                rdkafka_sys::rd_kafka_mock_broker_push_request_error_rtts(
                    self.mock_ptr(),
                    broker_id,
                    api as i16,
                    1,
                    *error as std::ffi::c_int,
                    0 as std::ffi::c_int,
                )
            };
            if result != rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err(ClusterError::MockOperation {
                    operation: format!("push request errors to broker {broker_id}"),
                    code: format!("{result:?}"),
                });
            }
        }
        Ok(())
    }

    /// Produces `records` to `topic` and waits until the broker acknowledged every one.
    ///
    /// Tuned for bulk: lz4 compression, large batches, and when librdkafka's queue is
    /// full it serves delivery reports and retries, so no record is ever dropped. Records
    /// without a partition go where librdkafka's default partitioner puts them (a hash of
    /// the key; unkeyed records to a random partition).
    ///
    /// Mind the mock's retention of ~5 MiB per partition: a large load that does not
    /// compress well silently loses its oldest records. Spread it over more partitions.
    ///
    /// Fails before producing if the topic does not exist; fails on a record naming a
    /// partition the topic does not have, or on the first failed delivery (naming its
    /// partition). On failure, records before the failing one may have been written.
    /// Safe to call from several threads at once.
    ///
    /// All loads share one producer, so client-side state left by an injected fault
    /// carries over: after a `TOPIC_AUTHORIZATION_FAILED` on Produce, librdkafka refuses
    /// further records for that topic until its next metadata refresh.
    pub fn load<I>(&self, topic: &str, records: I) -> Result<LoadReport, ClusterError>
    where
        I: IntoIterator<Item = TestRecord>,
    {
        let partitions = self.partition_count(topic)?;
        self.loader.load(topic, partitions, records)
    }

    /// The end offset (high watermark) of every partition of `topic`: the offset the next
    /// record will get, which equals the number of records written to an unpruned
    /// partition.
    pub fn end_offsets(&self, topic: &str) -> Result<BTreeMap<i32, i64>, ClusterError> {
        Ok(self
            .watermarks(topic)?
            .into_iter()
            .map(|(tp, marks)| (tp.partition, marks.high))
            .collect())
    }

    /// The start offset (low watermark) of every partition of `topic`: 0 until the mock
    /// drops old record batches to stay within its ~5 MiB per partition. A test that
    /// loads a lot can check this is still 0 to know nothing was lost.
    pub fn start_offsets(&self, topic: &str) -> Result<BTreeMap<i32, i64>, ClusterError> {
        Ok(self
            .watermarks(topic)?
            .into_iter()
            .map(|(tp, marks)| (tp.partition, marks.low))
            .collect())
    }

    /// The offsets `group` has committed for every partition of `topic`; `None` where it
    /// has committed none.
    ///
    /// Reads through a short-lived consumer that joins no group (it never subscribes),
    /// so it does not disturb the group's members.
    pub fn committed_offsets(
        &self,
        group: &str,
        topic: &str,
    ) -> Result<BTreeMap<i32, Option<i64>>, ClusterError> {
        let partitions = self.partition_count(topic)?;
        offsets::committed_offsets(&self.bootstrap_servers, group, topic, partitions)
    }

    /// How many partitions `topic` has, from a fresh metadata request.
    pub fn partition_count(&self, topic: &str) -> Result<i32, ClusterError> {
        Ok(crate::offsets::partition_count(
            self.host.client(),
            topic,
            REQUEST_TIMEOUT,
        )?)
    }

    /// The watermarks of every partition of `topic`, from fresh requests.
    fn watermarks(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<TopicPartition, Watermarks>, ClusterError> {
        let client = self.host.client();
        let partitions = crate::offsets::partitions(client, topic, REQUEST_TIMEOUT)?;
        Ok(crate::offsets::watermarks(
            client,
            &partitions,
            REQUEST_TIMEOUT,
        )?)
    }
}

impl std::fmt::Debug for EmbeddedCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCluster")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("brokers", &self.brokers)
            .finish_non_exhaustive()
    }
}

// The documentation promises `Send + Sync`: fail the build if a field ever breaks that.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<EmbeddedCluster>();
};
