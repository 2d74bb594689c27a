//! Static membership (RELIABILITY row 20): a member with a `group.instance.id` that restarts
//! within the session timeout gets its own partitions back without a rebalance: the other
//! members see no revocation and no assignment, and a clean restart re-reads nothing.
//!
//! librdkafka's mock implements static membership only for the KIP-848 `consumer` group
//! protocol (its classic-protocol group rebalances on every join, static or not), so these
//! tests run with the consumer protocol (`GroupProtocol::consumer()`). The same scenario with a dynamic member is the
//! control: there the other member does see the rebalance.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::hooks::held;
use common::*;
use timely_kafka::testing::unique_name;
use timely_kafka::{GroupProtocol, SourceConfig};

const PARTITIONS: i32 = 4;
/// The group's session timeout: a static member restarting within it keeps its partitions.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `b` stays down between stopping and starting again.
const DOWNTIME: Duration = Duration::from_secs(1);

/// What the other member saw while `b` restarted.
struct Restart {
    /// Hook calls on `a` between `b`'s stop and `b` holding its partitions again.
    a_events: Vec<(&'static str, bool, i32)>,
    /// `b`'s partitions before and after the restart.
    b_before: BTreeSet<i32>,
    b_after: BTreeSet<i32>,
    /// Records processed more than once.
    duplicates: usize,
}

/// Members `a` and `b` share a topic; `b` stops cleanly and starts again while records keep
/// arriving. `static_b` gives `b` a `group.instance.id`.
fn restart_b(static_b: bool) -> Restart {
    init_logging();
    let topic = unique_name("static");
    let group = unique_name("static-group");
    let cluster = loaded_cluster(&topic, PARTITIONS, 50);
    // Heartbeats every 100 ms: a rebalance reaches the other member well within DOWNTIME.
    cluster.set_consumer_group_timeouts(SESSION_TIMEOUT, Duration::from_millis(100));
    let bootstrap = cluster.bootstrap_servers();
    let events: hooks::Events = Arc::default();
    let make = |name: &'static str, index: Option<usize>| {
        let mut builder = hooks::recording_hooks(
            SourceConfig::builder()
                .brokers(&bootstrap)
                .group_id(&group)
                .topic(&topic)
                .tick(Duration::from_millis(10))
                .commit_interval(Duration::from_millis(50))
                .group_protocol(GroupProtocol::consumer()),
            name,
            &events,
        );
        if let Some(index) = index {
            builder = builder.static_membership("pipeline", index);
        }
        builder.build().unwrap()
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
    let b_index = static_b.then_some(0);

    let stop_a = Arc::new(AtomicBool::new(false));
    let a = spawn_member(
        "a",
        make("a", Some(1)),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop_a),
    );
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = spawn_member(
        "b",
        make("b", b_index),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop_b),
    );
    wait_for(
        "both members to hold partitions and read the first load",
        || {
            let events = events.lock().unwrap();
            let (a, b) = (held(&events, "a"), held(&events, "b"));
            !a.is_empty() && !b.is_empty() && a.len() + b.len() == PARTITIONS as usize
        },
    );
    wait_for("the first load", || distinct() == 50 * PARTITIONS as usize);
    let b_before = held(&events.lock().unwrap(), "b");

    // b stops cleanly (final commit) and comes back while new records arrive.
    stop_b.store(true, Ordering::SeqCst);
    b.join().unwrap();
    let mark = events.lock().unwrap().len();
    load(&cluster, &topic, PARTITIONS, 50..100);
    // The restart's downtime: what a rebalance would need to show itself to `a`. Waiting is
    // the scenario here, not a stand-in for synchronisation.
    thread::sleep(DOWNTIME);
    let stop_b = Arc::new(AtomicBool::new(false));
    let b = spawn_member(
        "b",
        make("b", b_index),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop_b),
    );
    wait_for("b to hold partitions again", || {
        !held(&events.lock().unwrap(), "b").is_empty()
    });
    wait_for("the second load", || {
        distinct() == 100 * PARTITIONS as usize
    });
    let events = events.lock().unwrap().clone();
    stop_a.store(true, Ordering::SeqCst);
    stop_b.store(true, Ordering::SeqCst);
    a.join().unwrap();
    b.join().unwrap();

    let committed = committed(&bootstrap, &group, &topic, PARTITIONS);
    let ends: BTreeMap<i32, Option<i64>> = cluster
        .end_offsets(&topic)
        .unwrap()
        .into_iter()
        .map(|(p, end)| (p, Some(end)))
        .collect();
    assert_eq!(committed, ends, "committed == end");
    let processed = seen.lock().unwrap().len();
    Restart {
        a_events: events[mark..]
            .iter()
            .filter(|(m, _, _)| *m == "a")
            .copied()
            .collect(),
        b_before,
        b_after: held(&events, "b"),
        duplicates: processed - distinct(),
    }
}

#[test]
fn a_static_member_restart_causes_no_rebalance_and_no_duplicates() {
    let restart = restart_b(true);
    assert!(
        restart.a_events.is_empty(),
        "the other member saw a rebalance: {:?}",
        restart.a_events
    );
    assert_eq!(
        restart.b_after, restart.b_before,
        "b got its own partitions back"
    );
    assert_eq!(restart.duplicates, 0, "a clean restart re-reads nothing");
}

/// The control: without a `group.instance.id`, the same restart moves b's partitions to a
/// and back, which a sees. This is what the static test would catch.
#[test]
fn a_dynamic_member_restart_rebalances_the_other_member() {
    let restart = restart_b(false);
    assert!(
        !restart.a_events.is_empty(),
        "a dynamic member's restart rebalances the group"
    );
}
