//! Where a partition starts when the source is assigned it.

use std::fmt;

/// Where to start a partition that has no usable committed offset.
///
/// The choice is logged for every partition it applies to. A missing committed offset never
/// silently means "latest": the policy decides, and the default is [`OffsetReset::Earliest`],
/// so a new group reads everything already in the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The oldest record still retained.
    Earliest,
    /// The end of the partition: only records produced after the assignment.
    Latest,
    /// The first record whose timestamp is at or after this many milliseconds since the Unix
    /// epoch (the end of the partition if there is none).
    Timestamp(i64),
}

impl OffsetReset {
    /// The value of librdkafka's `auto.offset.reset` that matches this policy, used when a
    /// fetch position falls out of range. A timestamp policy falls back to `earliest`, so
    /// an out-of-range position never skips data.
    pub(crate) fn auto_offset_reset(self) -> &'static str {
        match self {
            OffsetReset::Latest => "latest",
            OffsetReset::Earliest | OffsetReset::Timestamp(_) => "earliest",
        }
    }
}

impl fmt::Display for OffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffsetReset::Earliest => f.write_str("earliest"),
            OffsetReset::Latest => f.write_str("latest"),
            OffsetReset::Timestamp(ms) => write!(f, "timestamp {ms} ms"),
        }
    }
}

/// How the start position of each newly assigned partition is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPolicy {
    /// Resume at the group's committed offset; use the reset policy only where there is none.
    Committed {
        /// Where to start a partition without a committed offset.
        reset: OffsetReset,
    },
    /// Ignore committed offsets and always start where the reset policy says
    /// (broadway_kafka's `begin_offset: :reset`).
    Reset(OffsetReset),
}

impl StartPolicy {
    /// The reset policy that applies when there is no committed offset (or always, for
    /// [`StartPolicy::Reset`]).
    pub fn reset(self) -> OffsetReset {
        match self {
            StartPolicy::Committed { reset } | StartPolicy::Reset(reset) => reset,
        }
    }
}

impl Default for StartPolicy {
    fn default() -> Self {
        StartPolicy::Committed {
            reset: OffsetReset::Earliest,
        }
    }
}
