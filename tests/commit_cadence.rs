//! Commit cadence: with `commit_interval`, commits wait for the interval, however often the
//! frontier moves; with `commit_on_frontier_advance`, each advance of the frontier is
//! committed at once, without waiting for the 1 s fallback that resends held-back commits.
//! Commits are observed on the broker (and as the source reports the broker's answers).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::member::Commits;
use common::valve::*;
use common::*;
use timely_kafka::testing::{unique_name, EmbeddedCluster};

/// Records of this many ticks are read, then released one tick at a time.
const TICKS: usize = 9;

/// A cluster with a 2-partition topic and `a` (with `builder`'s settings, holding every
/// record at its valve) having read one record per partition at each of [`TICKS`] ticks.
/// Returns the cluster, topic, group, `a` and the ticks in order.
fn read_at_separate_ticks(
    name: &str,
    builder: impl FnOnce(&str, &str, &str) -> timely_kafka::SourceConfigBuilder,
) -> (EmbeddedCluster, String, String, ValvedMember, Vec<u64>) {
    let topic = unique_name(name);
    let group = unique_name(&format!("{name}-group"));
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&topic, 2).unwrap();
    let a = ValvedMember::start(
        builder(&cluster.bootstrap_servers(), &group, &topic).tick(Duration::from_millis(TICK_MS)),
        HOLD_ALL,
    );
    wait_for("a to be assigned", || {
        a.control.progress().assigned.len() == 2
    });
    let mut last = 0;
    for seq in 0..TICKS {
        load_after_tick(&cluster, &topic, last, seq..seq + 1);
        wait_for("a to read the record", || {
            a.read.load(Ordering::SeqCst) == 2 * (seq + 1)
        });
        last = a.latest_tick();
    }
    let ticks: Vec<u64> = a.ticks.lock().unwrap().iter().copied().collect();
    assert_eq!(ticks.len(), TICKS, "one tick per record pair: {ticks:?}");
    (cluster, topic, group, a, ticks)
}

/// With `commit_on_frontier_advance`, each tick released is committed at once. The source
/// resends held-back commits every second in this mode too, so a source that ignored the
/// frontier would still commit, about a second after each release: the median of the
/// delays (release to the broker's acknowledgement) tells the two apart with room for a
/// loaded machine.
#[test]
fn on_frontier_advance_commits_each_advance_at_once() {
    let (_cluster, _topic, _group, a, ticks) = read_at_separate_ticks("on-advance", |b, g, t| {
        config(b, g, t).commit_on_frontier_advance()
    });
    let acknowledged = |offset: i64| {
        let progress = a.control.progress();
        (0..2).all(|p| member::acknowledged(&progress, p) == Some(offset))
    };
    let mut delays = Vec::new();
    for (released, tick) in ticks.iter().enumerate() {
        let started = Instant::now();
        a.release_upto(*tick);
        wait_for("the released tick's commit", || {
            acknowledged(released as i64 + 1)
        });
        delays.push(started.elapsed());
    }
    a.stop();
    delays.sort();
    eprintln!("release to acknowledged commit: {delays:?}");
    let median = delays[delays.len() / 2];
    assert!(
        median < Duration::from_millis(500),
        "each frontier advance is committed at once, not at the next 1 s resend: delays {delays:?}"
    );
}

/// With `commit_interval`, commits wait for the interval however often the frontier moves:
/// with an hour's interval, nothing is committed while the source runs, although every
/// record has been processed at ticks of their own; the final commit at shutdown commits
/// everything.
#[test]
fn an_interval_holds_commits_back_until_it_passes() {
    let (cluster, topic, group, a, ticks) = read_at_separate_ticks("interval", |b, g, t| {
        config(b, g, t).commit_interval(Duration::from_secs(3600))
    });
    let mut commits = Commits::new(&cluster, &group, &topic, 2);
    for (released, tick) in ticks.iter().enumerate() {
        a.release_upto(*tick);
        wait_for("the released tick to pass the valve", || {
            a.passed.lock().unwrap().len() == 2 * (released + 1)
        });
    }
    // An observation window, not synchronisation: a source committing on each advance
    // commits within a tick or two of the last one; this gives it 100 ticks.
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(1) {
        assert!(commits.poll(), "the commit observer reads the broker");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        commits.readings.is_empty(),
        "committed before the interval passed: first {:?} of {} readings",
        commits.readings.first(),
        commits.readings.len()
    );
    a.control.shutdown();
    wait_for("the final commit", || a.control.is_closed());
    assert!(commits.poll());
    assert_eq!(
        commits.last,
        (0..2).map(|p| (p, Some(TICKS as i64))).collect(),
        "the final commit commits everything processed"
    );
    a.stop();
}
