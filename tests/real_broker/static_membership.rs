//! RELIABILITY row 20 on Apache Kafka, classic protocol, default session (45 s): a static
//! member (`group.instance.id`) that stops cleanly and starts again within the session gets
//! its partitions back without a rebalance (the other member sees no revocation and no
//! assignment), and re-reads nothing. librdkafka's mock cannot show this for the classic
//! protocol (its classic groups rebalance on every join); `tests/static_membership.rs` covers
//! the `consumer` protocol there.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::broker::*;
use crate::common::hooks::{held, recording_hooks, Events};
use crate::common::*;
use timely_kafka::testing::unique_name;
use timely_kafka::SourceConfig;

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_static_member_restart_within_the_session_causes_no_rebalance_and_no_duplicates() {
    let (topic, group) = (unique_name("rb-static"), unique_name("rb-static-group"));
    create_topic(&topic, PARTITIONS);
    produce(&topic, 0, 0..PER_PARTITION);
    let events: Events = Arc::default();
    let make = |name: &'static str, index: usize| -> SourceConfig {
        let defaults = SourceConfig::builder()
            .brokers(brokers())
            .group_id(&group)
            .topic(&topic);
        recording_hooks(defaults, name, &events)
            .static_membership("rb-static", index)
            .build()
            .unwrap()
    };
    let seen: Processed = Arc::default();
    let distinct = || {
        seen.lock()
            .unwrap()
            .iter()
            .map(|(_, p, o)| (*p, *o))
            .collect::<BTreeSet<_>>()
            .len()
    };
    let member = |name: &'static str, index: usize, stop: &Arc<AtomicBool>| {
        spawn_member(
            name,
            make(name, index),
            1,
            Arc::clone(&seen),
            Arc::clone(stop),
        )
    };
    // `a` joins first and leads the group; `b` is the member that restarts.
    let stop_a = Arc::new(AtomicBool::new(false));
    let a = member("a", 1, &stop_a);
    wait_for("a to hold partitions", || {
        !held(&events.lock().unwrap(), "a").is_empty()
    });
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = member("b", 0, &stop_b);
    wait_for("both members to share the partitions", || {
        let events = events.lock().unwrap();
        let (a, b) = (held(&events, "a"), held(&events, "b"));
        !b.is_empty() && a.len() + b.len() == PARTITIONS as usize
    });
    wait_for("the first load", || {
        distinct() == (PER_PARTITION * PARTITIONS as u64) as usize
    });
    let b_before = held(&events.lock().unwrap(), "b");

    // b stops cleanly (final commit; a static member does not leave the group) and starts
    // again at once, well within the 45 s session, while new records arrive.
    stop_b.store(true, Ordering::SeqCst);
    b.join().unwrap();
    let mark = events.lock().unwrap().len();
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = member("b", 0, &stop_b);
    produce(&topic, 1, 0..PER_PARTITION);
    wait_for("b to hold partitions again", || {
        !held(&events.lock().unwrap()[mark..], "b").is_empty()
    });
    wait_for("the second load", || {
        distinct() == (2 * PER_PARTITION * PARTITIONS as u64) as usize
    });
    let events = events.lock().unwrap().clone();
    stop_a.store(true, Ordering::SeqCst);
    stop_b.store(true, Ordering::SeqCst);
    a.join().unwrap();
    b.join().unwrap();

    let a_events: Vec<_> = events[mark..].iter().filter(|e| e.0 == "a").collect();
    assert!(
        a_events.is_empty(),
        "the other member saw a rebalance: {a_events:?}"
    );
    assert_eq!(
        held(&events, "b"),
        b_before,
        "b got its own partitions back"
    );
    let processed = seen.lock().unwrap().len();
    assert_eq!(processed, distinct(), "a clean restart re-reads nothing");
    assert_committed_to_end(
        &committed(&brokers(), &group, &topic, PARTITIONS),
        2 * PER_PARTITION,
    );
}
