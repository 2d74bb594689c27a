//! A client context for readers that read a topic to its end: librdkafka raises each
//! end-of-partition event also as an error event, which rdkafka's default context logs at
//! ERROR, so a reader that stops there on purpose printed one red line per partition.

use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Treats `PartitionEOF` as the end signal it is (the reader sees it from `poll` too);
/// other client errors are logged as warnings, as the group's own consumer logs them.
pub(super) struct EndOfPartitionIsExpected;

impl ClientContext for EndOfPartitionIsExpected {
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::trace!(target: "librdkafka", "{error}: {reason}");
        } else {
            tracing::warn!(target: "librdkafka", "{error}: {reason}");
        }
    }
}

impl ConsumerContext for EndOfPartitionIsExpected {}
