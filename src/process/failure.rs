//! [`Failure`]: a record that could not be processed, and where it was.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::message::Origin;
use crate::position::Position;

/// A record whose processing failed, with its position: what Broadway's `handle_failed`
/// receives. Displays as `topic/partition at offset N: error`.
///
/// ```
/// use timely_kafka::process::Failure;
/// use timely_kafka::Position;
///
/// let failure = Failure { position: Position::new("orders", 1, 9), error: "bad total" };
/// assert_eq!(failure.to_string(), "orders/1 at offset 9: bad total");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Failure<E> {
    /// The position of the failed record.
    pub position: Position,
    /// What went wrong.
    pub error: E,
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.position.topic_partition, self.position.offset, self.error
        )
    }
}

impl<E> Origin for Failure<E> {
    fn topic(&self) -> &Arc<str> {
        &self.position.topic_partition.topic
    }
    fn partition(&self) -> i32 {
        self.position.topic_partition.partition
    }
    fn offset(&self) -> i64 {
        self.position.offset
    }
    fn position(&self) -> Position {
        self.position.clone()
    }
}
