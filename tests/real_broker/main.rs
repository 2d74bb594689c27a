//! The end-to-end suite against a real Kafka broker at `KAFKA_BROKERS`: Apache Kafka, the
//! reference broker, which `scripts/real-broker-tests.sh` starts (`scripts/kafka-broker.sh`)
//! and points this suite at. Without `KAFKA_BROKERS` every test here fails, so they are
//! `#[ignore]`d by default.
//!
//! - [`pipeline`]: the source, the sink and `pipe`, each checked with the
//!   [`Checker`](timely_kafka::testing::Checker); aborted transactions (row 17).
//! - [`groups`]: two `pipe` processes rebalancing, a `pipe` SIGKILLed and restarted, three
//!   members churning with one killed, each under the classic and the KIP-848 `consumer`
//!   group protocols.
//! - [`kafka_broker_script`]: `scripts/kafka-broker.sh` starts, serves, stops and fails as documented.
//! - [`start`]: a start at a timestamp, and partitions added while the source runs (row 19).
//! - [`refusals`]: settings Kafka refuses stop the source with an error naming them.
//! - [`security`]: TLS, mutual TLS and SASL (PLAIN, SCRAM, OAUTHBEARER) through `pipe --config`, and their failures.
//! - [`oidc`]: SASL OAUTHBEARER with OIDC client credentials (a token endpoint served by the test).
//! - [`static_membership`]: a static member's restart within the session timeout (row 20).
//!
//! Reads of a topic go to its end offsets, never to a quiet period. Commits are read
//! repeatedly while the processes run, so the checker's monotonicity check (I3) sees the
//! sequence of commits, not one reading.

#[path = "../common/mod.rs"]
mod common;

mod broker;
mod groups;
mod kafka_broker_script;
mod oidc;
mod pipeline;
mod refusals;
mod security;
mod start;
mod static_membership;
