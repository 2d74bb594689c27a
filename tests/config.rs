//! Every invalid source configuration is rejected by `build()` with an error naming its key.

mod common;

use std::time::Duration;

use common::config_error_key;

use timely_kafka::{OffsetReset, SourceConfig, SourceConfigBuilder};

fn valid() -> SourceConfigBuilder {
    SourceConfig::builder()
        .brokers("localhost:9092")
        .group_id("g")
        .topic("t")
}

fn assert_rejected(builder: SourceConfigBuilder, key: &str) {
    let err = builder.build().expect_err("the config must be rejected");
    assert_eq!(config_error_key(&err), key, "{err}");
    assert!(
        err.to_string().contains(key),
        "message names `{key}`: {err}"
    );
}

#[test]
fn a_valid_config_builds() {
    let config = valid().build().unwrap();
    assert_eq!(config.group_id(), "g");
    assert_eq!(config.topics(), ["t"]);
    assert_eq!(config.tick(), Duration::from_millis(100));
}

#[test]
fn missing_required_settings_name_their_key() {
    assert_rejected(
        SourceConfig::builder().group_id("g").topic("t"),
        "bootstrap.servers",
    );
    assert_rejected(
        SourceConfig::builder().brokers("b:1").topic("t"),
        "group.id",
    );
    assert_rejected(
        SourceConfig::builder().brokers("b:1").group_id("g"),
        "topics",
    );
    assert_rejected(valid().brokers(" "), "bootstrap.servers");
}

#[test]
fn invalid_values_name_their_key() {
    assert_rejected(valid().topic("bad topic!"), "topics");
    assert_rejected(valid().topic(""), "topics");
    assert_rejected(valid().tick(Duration::ZERO), "tick");
    assert_rejected(valid().commit_interval(Duration::ZERO), "commit_interval");
    assert_rejected(valid().connect_timeout(Duration::ZERO), "connect_timeout");
    assert_rejected(
        valid().max_records_per_activation(0),
        "max_records_per_activation",
    );
    assert_rejected(
        valid().offset_reset(OffsetReset::Timestamp(-5)),
        "offset_reset",
    );
}

#[test]
fn forced_settings_cannot_be_turned_back_on() {
    assert_rejected(
        valid().set("enable.auto.commit", "true"),
        "enable.auto.commit",
    );
    assert_rejected(
        valid().set("enable.auto.offset.store", "true"),
        "enable.auto.offset.store",
    );
    // Setting them to the forced value is harmless.
    valid().set("enable.auto.commit", "false").build().unwrap();
}

#[test]
fn keys_owned_by_typed_setters_are_refused_in_passthrough() {
    for key in [
        "bootstrap.servers",
        "group.id",
        "auto.offset.reset",
        "fetch.wait.max.ms",
    ] {
        assert_rejected(valid().set(key, "x"), key);
    }
}

#[test]
fn librdkafka_rejects_unknown_keys_and_bad_values_by_name() {
    assert_rejected(valid().set("no.such.setting", "1"), "no.such.setting");
    assert_rejected(
        valid().set("session.timeout.ms", "soon"),
        "session.timeout.ms",
    );
    assert_rejected(
        valid().max_partition_fetch_bytes(0),
        "max.partition.fetch.bytes",
    );
}

#[test]
fn secrets_never_print() {
    let config = valid()
        .set("security.protocol", "sasl_plaintext")
        .set("sasl.mechanisms", "PLAIN")
        .set("sasl.username", "svc")
        .set("sasl.password", "hunter2")
        .build()
        .unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("sasl.username"), "{printed}");
    // Nor in errors, whichever check fails.
    let err = valid()
        .set("ssl.key.password", "hunter2")
        .set("enable.auto.commit", "yes")
        .build()
        .expect_err("enable.auto.commit=yes is refused");
    assert_eq!(config_error_key(&err), "enable.auto.commit");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    let err = valid()
        .set("sasl.password", "hunter2")
        .max_in_flight_records(1)
        .build()
        .expect_err("an in-flight bound of 1 is refused");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
}
