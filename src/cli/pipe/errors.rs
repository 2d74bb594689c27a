//! The pipe's errors in the command's own terms: what the user can change on its command
//! line, not the library setting behind it.

use timely_kafka::Error;

/// A source error as the command reports it.
pub fn source_error(error: &Error) -> String {
    match error {
        Error::BrokersUnreachable {
            brokers,
            waited,
            source,
            cause: Some(cause),
        } => format!(
            "no broker answered at `{brokers}` within {waited:?}: {cause} ({source}); check --brokers and the security settings, or wait longer with --connect-timeout SECONDS"
        ),
        Error::BrokersUnreachable {
            brokers,
            waited,
            source,
            cause: None,
        } => format!(
            "no broker answered at `{brokers}` within {waited:?} ({source}); check --brokers, or wait longer with --connect-timeout SECONDS"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use std::time::Duration;

    #[test]
    fn unreachable_brokers_name_the_flags_not_the_library_setting() {
        let error = Error::BrokersUnreachable {
            brokers: "127.0.0.1:1".into(),
            waited: Duration::from_secs(3),
            source: Box::new(KafkaError::MetadataFetch(
                RDKafkaErrorCode::BrokerTransportFailure,
            )),
            cause: None,
        };
        let message = source_error(&error);
        assert!(message.contains("`127.0.0.1:1` within 3s"), "{message}");
        assert!(message.contains("--connect-timeout"), "{message}");
        assert!(!message.contains("connect_timeout"), "{message}");
    }
}
