//! Unique names for topics and groups, so tests sharing a cluster never collide.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Returns `prefix` followed by the process id and a per-process counter, for example
/// `orders-4242-0`, then `orders-4242-1`.
///
/// Names differ between calls in one process and between processes alive at the same
/// time, so tests can create topics and consumer groups without coordinating.
/// The result is a valid Kafka topic name when `prefix` is one (letters, digits, `.`,
/// `_`, `-`).
pub fn unique_name(prefix: &str) -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}
