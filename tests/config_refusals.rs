//! Settings `build()` refuses because the library could not honour them: in-flight bounds
//! too small to ever resume reading, transactions nothing initialises, and the source's own
//! end-of-partition setting.

mod common;

use common::config_error_key;
use timely_kafka::sink::SinkConfig;
use timely_kafka::{ConfigError, SourceConfig, SourceConfigBuilder};

fn source() -> SourceConfigBuilder {
    SourceConfig::builder()
        .brokers("localhost:9092")
        .group_id("g")
        .topic("t")
}

fn assert_refused(result: Result<impl std::fmt::Debug, ConfigError>, key: &str) {
    let err = result.expect_err("the setting must be refused");
    assert_eq!(config_error_key(&err), key, "{err}");
    assert!(
        err.to_string().contains(key),
        "message names `{key}`: {err}"
    );
}

/// Reading pauses at the bound and resumes below half of it: a bound of 0 or 1 never has
/// room below half, so the source would stop for good.
#[test]
fn in_flight_bounds_too_small_to_resume_are_refused() {
    for bound in [0, 1] {
        assert_refused(
            source().max_in_flight_records(bound).build(),
            "max_in_flight_records",
        );
        assert_refused(
            source().max_in_flight_bytes(bound).build(),
            "max_in_flight_bytes",
        );
    }
    source().max_in_flight_records(2).build().unwrap();
    source().max_in_flight_bytes(2).build().unwrap();
}

/// Nothing initialises transactions: a `transactional.id` would make the sink's producer
/// refuse every record, and means nothing to the source's consumer.
#[test]
fn transactional_id_is_refused() {
    assert_refused(
        source().set("transactional.id", "tx-1").build(),
        "transactional.id",
    );
    assert_refused(
        SinkConfig::builder()
            .brokers("localhost:9092")
            .set("transactional.id", "tx-1")
            .build(),
        "transactional.id",
    );
}

/// The source sets `enable.partition.eof` itself: a user's value would be silently overridden.
#[test]
fn enable_partition_eof_is_refused_in_the_source() {
    for value in ["true", "false"] {
        let result = source().set("enable.partition.eof", value).build();
        assert_refused(result, "enable.partition.eof");
    }
    let err = source()
        .set("enable.partition.eof", "false")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("end-of-partition"),
        "the error says why: {err}"
    );
}

/// A revoke drain must end below the group's rebalance timeout (`max.poll.interval.ms`),
/// or the member is evicted while it drains: at or above it is refused, naming the key;
/// just below it is accepted, against the default 300 s and a value set.
#[test]
fn a_revoke_drain_timeout_not_below_the_rebalance_timeout_is_refused() {
    use std::time::Duration;
    assert_refused(
        source()
            .revoke_drain_timeout(Duration::from_secs(300))
            .build(),
        "revoke_drain_timeout",
    );
    source()
        .revoke_drain_timeout(Duration::from_millis(299_999))
        .build()
        .unwrap();
    let with_poll_interval = |drain: Duration| {
        source()
            .set("max.poll.interval.ms", "20000")
            .revoke_drain_timeout(drain)
            .build()
    };
    assert_refused(
        with_poll_interval(Duration::from_secs(20)),
        "revoke_drain_timeout",
    );
    let err = with_poll_interval(Duration::from_secs(30)).unwrap_err();
    assert!(
        err.to_string().contains("max.poll.interval.ms"),
        "the error names the setting it conflicts with: {err}"
    );
    with_poll_interval(Duration::from_millis(19_999)).unwrap();
}
