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
