//! [`Failure`]: a record that could not be processed, and where it was.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::message::Origin;

/// A record whose processing failed, with its position: what Broadway's `handle_failed`
/// receives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Failure<E> {
    /// The topic of the failed record.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// What went wrong.
    pub error: E,
}

impl<E: fmt::Display> fmt::Display for Failure<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} at offset {}: {}",
            self.topic, self.partition, self.offset, self.error
        )
    }
}

impl<E> Origin for Failure<E> {
    fn topic(&self) -> &Arc<str> {
        &self.topic
    }
    fn partition(&self) -> i32 {
        self.partition
    }
    fn offset(&self) -> i64 {
        self.offset
    }
}
