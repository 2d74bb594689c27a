//! Lifecycle hooks that record, per member, which partitions it was assigned and revoked.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use timely_kafka::SourceConfigBuilder;

/// Hook calls in order: `(member, assigned?, partition)`.
pub type Events = Arc<Mutex<Vec<(&'static str, bool, i32)>>>;

/// `builder` with hooks recording `member`'s assignments and revocations into `events`.
pub fn recording_hooks(
    builder: SourceConfigBuilder,
    member: &'static str,
    events: &Events,
) -> SourceConfigBuilder {
    let (on_assign, on_revoke) = (Arc::clone(events), Arc::clone(events));
    builder
        .on_assigned(move |a| {
            let p = a.topic_partition.partition;
            on_assign.lock().unwrap().push((member, true, p));
            Ok(())
        })
        .on_revoked(move |a| {
            let p = a.topic_partition.partition;
            on_revoke.lock().unwrap().push((member, false, p));
            Ok(())
        })
}

/// The partitions `member` holds after `events`.
pub fn held(events: &[(&'static str, bool, i32)], member: &str) -> BTreeSet<i32> {
    let mut held = BTreeSet::new();
    for (m, assigned, p) in events {
        if *m == member {
            if *assigned {
                held.insert(*p);
            } else {
                held.remove(p);
            }
        }
    }
    held
}
