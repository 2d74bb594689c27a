//! Decoding payloads: UTF-8 text and JSON. A bad payload is an error naming its topic,
//! partition and offset, never a panic.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::position::Position;
use crate::record::KafkaRecord;

/// A payload that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{} at offset {}: {reason}", position.topic_partition, position.offset)]
pub struct DecodeError {
    /// The position of the record.
    pub position: Position,
    /// What is wrong with the payload.
    pub reason: String,
}

impl DecodeError {
    fn at(record: &KafkaRecord, reason: impl Into<String>) -> Self {
        DecodeError {
            position: record.position(),
            reason: reason.into(),
        }
    }
}

/// The payload as UTF-8 text. A null payload or invalid UTF-8 is an error.
///
/// ```
/// use timely_kafka::{process::utf8, KafkaRecord, RecordTimestamp};
/// let record = KafkaRecord { topic: "t".into(), partition: 1, offset: 7, key: None,
///     payload: Some(vec![0xff]), timestamp: RecordTimestamp::NotAvailable, headers: vec![] };
/// let err = utf8(record).unwrap_err();
/// assert_eq!(err.position.to_string(), "t/1@7");
/// assert!(err.to_string().starts_with("t/1 at offset 7: payload is not UTF-8"));
/// ```
pub fn utf8(record: KafkaRecord) -> Result<String, DecodeError> {
    match record.payload {
        None => Err(DecodeError::at(&record, "the payload is null")),
        Some(bytes) => String::from_utf8(bytes).map_err(|e| DecodeError {
            // From the fields: the payload is moved out of the record.
            position: Position::new(Arc::clone(&record.topic), record.partition, record.offset),
            reason: format!("payload is not UTF-8: {}", e.utf8_error()),
        }),
    }
}

/// The payload parsed as JSON into `T`. A null payload or invalid JSON is an error.
///
/// ```
/// use timely_kafka::{process::json, KafkaRecord, RecordTimestamp};
/// #[derive(serde::Deserialize)]
/// struct Order { total: u32 }
/// let record = KafkaRecord { topic: "orders".into(), partition: 0, offset: 3, key: None,
///     payload: Some(br#"{"total": 12}"#.to_vec()), timestamp: RecordTimestamp::NotAvailable, headers: vec![] };
/// assert_eq!(json::<Order>(record).unwrap().total, 12);
/// ```
pub fn json<T: DeserializeOwned>(record: KafkaRecord) -> Result<T, DecodeError> {
    match record.payload.as_deref() {
        None => Err(DecodeError::at(&record, "the payload is null")),
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| DecodeError::at(&record, format!("invalid JSON: {e}"))),
    }
}
