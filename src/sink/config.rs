//! [`SinkConfig`]: producer settings, each with a documented default, validated at once.

use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::partitioner::Partitioner;
use crate::client::{
    check_client_config, check_security, merge_security, millis, positive, required,
    validate_topic_name, Forced, Managed, Passthrough, Refused, Security,
};
use crate::error::ConfigError;

/// How many replicas must acknowledge a write (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: no acknowledgement; a record counts as delivered once sent. Loses data on
    /// any broker failure; incompatible with idempotence.
    None,
    /// `acks=1`: the partition leader alone.
    Leader,
    /// `acks=all`: every in-sync replica. The default, and required by idempotence.
    #[default]
    All,
}

impl Acks {
    fn as_str(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }
}

/// Record batch compression (`compression.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// Validated settings of a Kafka sink.
#[derive(Clone)]
pub struct SinkConfig {
    pub(crate) brokers: String,
    pub(crate) default_topic: Option<String>,
    pub(crate) acks: Acks,
    pub(crate) request_timeout: Duration,
    pub(crate) delivery_timeout: Duration,
    pub(crate) linger: Duration,
    pub(crate) linger_messages: u32,
    pub(crate) max_batch_bytes: u32,
    pub(crate) max_in_flight: u32,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) compression: Compression,
    pub(crate) idempotence: bool,
    pub(crate) partitioner: Partitioner,
    pub(crate) queue_max_messages: u32,
    pub(crate) queue_max_kbytes: u32,
    pub(crate) metadata_timeout: Duration,
    pub(crate) passthrough: Passthrough,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("brokers", &self.brokers)
            .field("default_topic", &self.default_topic)
            .field("acks", &self.acks)
            .field("idempotence", &self.idempotence)
            .field("compression", &self.compression)
            .field("partitioner", &self.partitioner)
            .field("passthrough", &self.passthrough)
            .finish_non_exhaustive()
    }
}

const MANAGED: &[Managed] = &[
    Managed {
        key: "bootstrap.servers",
        setter: "brokers",
    },
    Managed {
        key: "metadata.broker.list",
        setter: "brokers",
    },
    Managed {
        key: "acks",
        setter: "acks",
    },
    Managed {
        key: "request.required.acks",
        setter: "acks",
    },
    Managed {
        key: "request.timeout.ms",
        setter: "request_timeout",
    },
    Managed {
        key: "message.timeout.ms",
        setter: "delivery_timeout",
    },
    Managed {
        key: "delivery.timeout.ms",
        setter: "delivery_timeout",
    },
    Managed {
        key: "linger.ms",
        setter: "linger",
    },
    Managed {
        key: "queue.buffering.max.ms",
        setter: "linger",
    },
    Managed {
        key: "batch.num.messages",
        setter: "linger_messages",
    },
    Managed {
        key: "batch.size",
        setter: "max_batch_bytes",
    },
    Managed {
        key: "max.in.flight",
        setter: "max_in_flight",
    },
    Managed {
        key: "max.in.flight.requests.per.connection",
        setter: "max_in_flight",
    },
    Managed {
        key: "retries",
        setter: "retries",
    },
    Managed {
        key: "message.send.max.retries",
        setter: "retries",
    },
    Managed {
        key: "retry.backoff.ms",
        setter: "retry_backoff",
    },
    Managed {
        key: "compression.type",
        setter: "compression",
    },
    Managed {
        key: "compression.codec",
        setter: "compression",
    },
    Managed {
        key: "enable.idempotence",
        setter: "idempotence",
    },
    Managed {
        key: "partitioner",
        setter: "partitioner",
    },
    Managed {
        key: "queue.buffering.max.messages",
        setter: "queue_max_messages",
    },
    Managed {
        key: "queue.buffering.max.kbytes",
        setter: "queue_max_kbytes",
    },
];

const FORCED: &[Forced] = &[Forced {
    key: "delivery.report.only.error",
    value: "false",
    reason: "the sink's frontier advances on successful delivery reports",
}];

const REFUSED: &[Refused] = &[Refused {
    key: "transactional.id",
    reason: "the sink does not use Kafka transactions: nothing would initialise them, and a \
             transactional producer refuses every record until they are",
}];

impl SinkConfig {
    /// Starts a builder with the defaults documented on each setter.
    pub fn builder() -> SinkConfigBuilder {
        SinkConfigBuilder {
            config: SinkConfig {
                brokers: String::new(),
                default_topic: None,
                acks: Acks::All,
                request_timeout: Duration::from_secs(30),
                delivery_timeout: Duration::from_secs(120),
                linger: Duration::from_millis(5),
                linger_messages: 10_000,
                max_batch_bytes: 1_000_000,
                max_in_flight: 5,
                retries: i32::MAX as u32,
                retry_backoff: Duration::from_millis(100),
                compression: Compression::None,
                idempotence: true,
                partitioner: Partitioner::Murmur2,
                queue_max_messages: 100_000,
                queue_max_kbytes: 65_536,
                metadata_timeout: Duration::from_secs(10),
                passthrough: Passthrough::default(),
            },
            brokers: None,
            security: None,
        }
    }

    /// The topic of records that name none.
    pub fn default_topic(&self) -> Option<&str> {
        self.default_topic.as_deref()
    }

    /// The librdkafka configuration of the sink's producer.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        self.passthrough.apply_to(&mut config);
        let librdkafka_partitioner = match self.partitioner {
            // librdkafka computes these itself, with the same hashes (see partitioner.rs).
            Partitioner::Murmur2 => "murmur2_random",
            Partitioner::Crc32 => "consistent_random",
            _ => "random",
        };
        config
            .set("bootstrap.servers", &self.brokers)
            .set("acks", self.acks.as_str())
            .set("request.timeout.ms", millis(self.request_timeout))
            .set("message.timeout.ms", millis(self.delivery_timeout))
            .set("linger.ms", millis(self.linger))
            .set("batch.num.messages", self.linger_messages.to_string())
            .set("batch.size", self.max_batch_bytes.to_string())
            .set(
                "max.in.flight.requests.per.connection",
                self.max_in_flight.to_string(),
            )
            .set("message.send.max.retries", self.retries.to_string())
            .set("retry.backoff.ms", millis(self.retry_backoff))
            .set("compression.type", self.compression.as_str())
            .set("enable.idempotence", self.idempotence.to_string())
            .set("partitioner", librdkafka_partitioner)
            .set(
                "queue.buffering.max.messages",
                self.queue_max_messages.to_string(),
            )
            .set(
                "queue.buffering.max.kbytes",
                self.queue_max_kbytes.to_string(),
            )
            .set("delivery.report.only.error", "false");
        config
    }
}

/// Builds a [`SinkConfig`].
///
/// ```
/// use std::time::Duration;
/// use timely_kafka::sink::{Acks, Compression, Partitioner, SinkConfig};
///
/// let config = SinkConfig::builder()
///     .brokers("localhost:9092")
///     .default_topic("orders-enriched")
///     .acks(Acks::All)
///     .compression(Compression::Lz4)
///     .linger(Duration::from_millis(10))
///     .partitioner(Partitioner::Md5)
///     .build()
///     .unwrap();
/// assert_eq!(config.default_topic(), Some("orders-enriched"));
///
/// // Idempotence (on by default) needs acks=all: the error names the key.
/// let err = SinkConfig::builder().brokers("b:9092").acks(Acks::Leader).build().unwrap_err();
/// assert!(err.to_string().contains("acks"));
/// ```
#[derive(Clone)]
pub struct SinkConfigBuilder {
    config: SinkConfig,
    brokers: Option<String>,
    security: Option<Security>,
}

impl SinkConfigBuilder {
    /// Bootstrap servers (`bootstrap.servers`). Required.
    pub fn brokers(mut self, brokers: impl Into<String>) -> Self {
        self.brokers = Some(brokers.into());
        self
    }

    /// The topic for records that do not name one. Default: none (such a record is an error).
    pub fn default_topic(mut self, topic: impl Into<String>) -> Self {
        self.config.default_topic = Some(topic.into());
        self
    }

    /// Acknowledgements per write (`acks`). Default: [`Acks::All`].
    pub fn acks(mut self, acks: Acks) -> Self {
        self.config.acks = acks;
        self
    }

    /// How long the broker may take to answer a produce request (`request.timeout.ms`).
    /// Default: 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How long a record may take to be delivered, retries included, before it fails
    /// (`message.timeout.ms`, the Java client's `delivery.timeout.ms`). Default: 120 s.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.config.delivery_timeout = timeout;
        self
    }

    /// How long to wait for more records before sending a batch (`linger.ms`). Default: 5 ms.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// Send a batch once it holds this many records (`batch.num.messages`). Default: 10,000.
    pub fn linger_messages(mut self, messages: u32) -> Self {
        self.config.linger_messages = messages;
        self
    }

    /// The largest record batch in bytes (`batch.size`). Default: 1,000,000.
    pub fn max_batch_bytes(mut self, bytes: u32) -> Self {
        self.config.max_batch_bytes = bytes;
        self
    }

    /// Produce requests in flight per broker connection
    /// (`max.in.flight.requests.per.connection`). Default: 5, the most idempotence allows.
    pub fn max_in_flight(mut self, requests: u32) -> Self {
        self.config.max_in_flight = requests;
        self
    }

    /// How often a failed send is retried (`message.send.max.retries`), within the delivery
    /// timeout. Default: 2,147,483,647 (the delivery timeout is the real bound).
    pub fn retries(mut self, retries: u32) -> Self {
        self.config.retries = retries;
        self
    }

    /// Backoff between retries (`retry.backoff.ms`). Default: 100 ms.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.config.retry_backoff = backoff;
        self
    }

    /// Batch compression (`compression.type`). Default: [`Compression::None`].
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// The idempotent producer (`enable.idempotence`): no duplicates or reordering from
    /// retries. Needs `acks=all`, at most 5 requests in flight and retries. Default: on.
    pub fn idempotence(mut self, on: bool) -> Self {
        self.config.idempotence = on;
        self
    }

    /// How records without an explicit partition are placed. Default:
    /// [`Partitioner::Murmur2`], Java-compatible.
    pub fn partitioner(mut self, partitioner: Partitioner) -> Self {
        self.config.partitioner = partitioner;
        self
    }

    /// The most records waiting in the producer's queue (`queue.buffering.max.messages`);
    /// beyond it the sink stops taking input until deliveries free room. Default: 100,000.
    pub fn queue_max_messages(mut self, messages: u32) -> Self {
        self.config.queue_max_messages = messages;
        self
    }

    /// The most KiB waiting in the producer's queue (`queue.buffering.max.kbytes`): the
    /// sink's memory bound. Default: 65,536 (64 MiB).
    pub fn queue_max_kbytes(mut self, kbytes: u32) -> Self {
        self.config.queue_max_kbytes = kbytes;
        self
    }

    /// How long to wait for topic metadata when a partitioner needs the partition count
    /// (md5, round-robin, custom). Default: 10 s.
    pub fn metadata_timeout(mut self, timeout: Duration) -> Self {
        self.config.metadata_timeout = timeout;
        self
    }

    /// How the producer connects: TLS, SASL, certificates and credentials. Default:
    /// plaintext, or what the `security.*`, `ssl.*` and `sasl.*` keys passed through
    /// [`set`](Self::set) say; a key given both ways is an error naming it.
    pub fn security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// Passes any other librdkafka producer key through (security, `client.id`, ...).
    /// Refused: `transactional.id` (the sink uses no transactions).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.passthrough.set(key, value);
        self
    }

    /// Validates everything and returns the configuration, or the first problem, naming its
    /// key.
    pub fn build(self) -> Result<SinkConfig, ConfigError> {
        let mut config = self.config;
        config.brokers = required(
            self.brokers,
            "bootstrap.servers",
            "call `.brokers(\"host:port\")`",
        )?;
        if let Some(topic) = &config.default_topic {
            validate_topic_name(topic)?;
        }
        positive(
            config.request_timeout,
            "request_timeout",
            Duration::from_millis(1),
        )?;
        positive(
            config.delivery_timeout,
            "delivery_timeout",
            Duration::from_millis(1),
        )?;
        positive(
            config.metadata_timeout,
            "metadata_timeout",
            Duration::from_millis(1),
        )?;
        let invalid = |key: &str, value: String, reason: &str| ConfigError::Invalid {
            key: key.into(),
            value,
            reason: reason.into(),
        };
        if config.max_in_flight == 0 {
            return Err(invalid("max_in_flight", "0".into(), "must be at least 1"));
        }
        if config.idempotence {
            if config.acks != Acks::All {
                return Err(invalid(
                    "acks",
                    config.acks.as_str().into(),
                    "idempotence needs acks=all; set acks(Acks::All) or idempotence(false)",
                ));
            }
            if config.max_in_flight > 5 {
                return Err(invalid(
                    "max_in_flight",
                    config.max_in_flight.to_string(),
                    "idempotence allows at most 5 requests in flight",
                ));
            }
            if config.retries == 0 {
                return Err(invalid("retries", "0".into(), "idempotence needs retries"));
            }
        }
        config.passthrough.validate(MANAGED, FORCED, REFUSED)?;
        if let Some(security) = &self.security {
            merge_security(&mut config.passthrough, security)?;
        }
        let max_message = config
            .passthrough
            .get("message.max.bytes")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1_000_000);
        if u64::from(config.queue_max_kbytes) * 1024 < max_message {
            return Err(invalid(
                "queue_max_kbytes",
                config.queue_max_kbytes.to_string(),
                "must hold at least one record of message.max.bytes, or such a record never fits",
            ));
        }
        // Security first: its errors say what a setting means for the connection.
        check_security(&config.passthrough, &config.brokers)?;
        check_client_config(&config.client_config())?;
        Ok(config)
    }
}
