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
    crate::oauth_token_refresh!();

    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::Global(RDKafkaErrorCode::PartitionEOF)) {
            tracing::trace!(target: "librdkafka", "{error}: {reason}");
        } else {
            tracing::warn!(target: "librdkafka", "{error}: {reason}");
        }
    }
}

impl ConsumerContext for EndOfPartitionIsExpected {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// What a context logs while `f` runs, as the fmt subscriber writes it.
    fn logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn end_of_partition_is_not_logged_other_errors_are() {
        let eof = KafkaError::Global(RDKafkaErrorCode::PartitionEOF);
        let quiet = logged(|| EndOfPartitionIsExpected.error(eof, "reached end of partition"));
        assert_eq!(quiet, "");
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        let loud = logged(|| EndOfPartitionIsExpected.error(down, "1/1 brokers are down"));
        assert!(loud.contains("WARN"), "{loud}");
    }
}
