//! Checks shared by the source and sink configurations.

use std::time::Duration;

use crate::error::ConfigError;

/// A duration in whole milliseconds, as librdkafka takes it.
pub(crate) fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

pub(crate) fn required(
    value: Option<String>,
    key: &str,
    hint: &str,
) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(v) => Err(ConfigError::Invalid {
            key: key.into(),
            value: v,
            reason: "must not be empty".into(),
        }),
        None => Err(ConfigError::Missing {
            key: key.into(),
            hint: hint.into(),
        }),
    }
}

pub(crate) fn positive(value: Duration, key: &str, least: Duration) -> Result<(), ConfigError> {
    if value < least {
        return Err(ConfigError::Invalid {
            key: key.into(),
            value: format!("{value:?}"),
            reason: format!("must be at least {least:?}"),
        });
    }
    Ok(())
}

/// Kafka's rule for topic names: 1 to 249 characters from `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_topic_name(topic: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        key: "topics".into(),
        value: topic.into(),
        reason: reason.into(),
    };
    if topic.is_empty() || topic.len() > 249 {
        return Err(invalid("a topic name has 1 to 249 characters"));
    }
    if topic == "." || topic == ".." {
        return Err(invalid("`.` and `..` are not topic names"));
    }
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid(&format!(
            "`{c}` is not allowed; topic names use only letters, digits, `.`, `_` and `-`"
        )));
    }
    Ok(())
}
