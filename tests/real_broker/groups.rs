//! Groups on the broker under test: two `pipe` processes rebalancing, a `pipe` SIGKILLed and
//! restarted, three members churning with one killed; each under the classic protocol's
//! eager and cooperative-sticky assignors and the KIP-848 `consumer` protocol, with the same
//! invariants.

use std::process::Child;

use crate::broker::*;
use crate::common::*;
use timely_kafka::testing::{unique_name, Checker, Trace};

/// Input, output and group names for one test.
fn names(prefix: &str) -> (String, String, String) {
    let names = (
        unique_name(&format!("{prefix}-in")),
        unique_name(&format!("{prefix}-out")),
        unique_name(&format!("{prefix}-group")),
    );
    create_topic(&names.0, PARTITIONS);
    create_topic(&names.1, PARTITIONS);
    names
}

/// Several writers interleave in the output: each output record is its own segment that may
/// start anywhere, so the checker judges loss and commits (and counts duplicates).
fn observe_interleaved(checker: &mut Checker, output: &str) {
    for (segment, w) in read_to_end(output).into_iter().enumerate() {
        let payload = w.payload.unwrap();
        let partition = Trace::parse(payload.as_bytes()).map_or(0, |t| t.partition);
        checker.restart(segment as u64, [(partition, None)]);
        checker.observe_payload(segment as u64, payload.as_bytes());
    }
}

/// After `loads` loads of the input, with several writers interleaved in the output: no
/// loss, commits monotone over the watch's readings and at the end offsets.
fn check_interleaved(input: &str, output: &str, group: &str, watch: CommitWatch, loads: u64) {
    let total = (loads * PER_PARTITION * PARTITIONS as u64) as usize;
    let mut checker = checker_with_input(input, total);
    observe_interleaved(&mut checker, output);
    watch.finish(&mut checker);
    let commits = record_commits(&mut checker, group, input);
    let report = checker.report();
    eprintln!("{report}");
    assert!(report.is_clean(), "{report}");
    assert_committed_to_end(&commits, loads * PER_PARTITION);
}

/// Two pipe processes in one group: the second joins while the first is busy, the group
/// rebalances, both drain and exit on idle. Nothing is lost; commits reach the end.
fn two_pipe_processes_rebalance_without_loss(protocol: Protocol) {
    let (input, output, group) = names("rb-two");
    produce(&input, 0, 0..PER_PARTITION);
    let watch = CommitWatch::start(&group, &input, PARTITIONS);
    let start = || pipe(protocol, &group, &input, &output, &["--idle-exit", "8"]);
    let mut first = start();
    wait_for("the first process to write", || total_end(&output) > 0);
    let mut second = start();
    produce(&input, 1, 0..PER_PARTITION);
    assert_exits_cleanly("the first process", &mut first);
    assert_exits_cleanly("the second process", &mut second);
    check_interleaved(&input, &output, &group, watch, 2);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn two_pipe_processes_rebalance_without_loss_classic() {
    two_pipe_processes_rebalance_without_loss(Protocol::Classic);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn two_pipe_processes_rebalance_without_loss_cooperative() {
    two_pipe_processes_rebalance_without_loss(Protocol::Cooperative);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn two_pipe_processes_rebalance_without_loss_consumer_protocol() {
    two_pipe_processes_rebalance_without_loss(Protocol::Consumer);
}

/// Three times: a pipe is SIGKILLed mid-stream and restarted at once, as a supervisor
/// would. Each run stamps its output (`--header run=N`), so order within a run, loss, and
/// re-reads below where a run started (I4) are all checked.
fn a_pipe_killed_and_restarted_loses_nothing(protocol: Protocol) {
    let (input, output, group) = names("rb-crash");
    const RUNS: u32 = 3;
    let run = |run: u32, extra: &[&str]| {
        let header = format!("run={run}");
        let mut args = vec!["--header", header.as_str()];
        args.extend_from_slice(extra);
        pipe(protocol, &group, &input, &output, &args)
    };
    let mut checker = Checker::new();
    produce(&input, 0, 0..PER_PARTITION);
    let watch = CommitWatch::start(&group, &input, PARTITIONS);
    let mut child: Child = run(0, &[]);
    let mut written = 0;
    for r in 1..=RUNS {
        wait_for("the run to write", || total_end(&output) > written);
        child.kill().unwrap();
        child.wait().unwrap();
        let commits = committed(&brokers(), &group, &input, PARTITIONS);
        checker.restart(r as u64, commits);
        let last = r == RUNS;
        // The last run exits on idle. Under the consumer protocol the broker gives it the
        // killed run's partitions only once that member's 6 s session ends, and until then
        // it is assigned nothing and idle: its idle time must outlast that session.
        child = run(r, if last { &["--idle-exit", "10"] } else { &[] });
        written = total_end(&output);
        if !last {
            produce(&input, r, 0..PER_PARTITION);
        }
    }
    assert_exits_cleanly("the last run", &mut child);
    let total = (RUNS as u64 * PER_PARTITION * PARTITIONS as u64) as usize;
    add_input(&mut checker, &input, total);
    watch.finish(&mut checker);
    let commits = record_commits(&mut checker, &group, &input);
    let mut all = read_to_end(&output);
    all.sort_by_key(|w| (w.partition, w.offset));
    for w in all {
        let segment = w
            .header("run")
            .and_then(|run| run.parse().ok())
            .expect("every output record names its run");
        checker.observe_payload(segment, w.payload.unwrap().as_bytes());
    }
    let report = checker.report();
    eprintln!("{report}");
    assert!(report.is_clean(), "{report}");
    assert_committed_to_end(&commits, RUNS as u64 * PER_PARTITION);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_pipe_killed_and_restarted_loses_nothing_classic() {
    a_pipe_killed_and_restarted_loses_nothing(Protocol::Classic);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_pipe_killed_and_restarted_loses_nothing_cooperative() {
    a_pipe_killed_and_restarted_loses_nothing(Protocol::Cooperative);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_pipe_killed_and_restarted_loses_nothing_consumer_protocol() {
    a_pipe_killed_and_restarted_loses_nothing(Protocol::Consumer);
}

/// Three pipe members join one group one after another while the input grows, and one of
/// them is SIGKILLed mid-stream. The other two take over its partitions once its session
/// ends, drain and exit on idle: nothing lost, commits at the end offsets.
fn three_members_churn_and_one_is_killed(protocol: Protocol) {
    let (input, output, group) = names("rb-churn");
    produce(&input, 0, 0..PER_PARTITION);
    let watch = CommitWatch::start(&group, &input, PARTITIONS);
    // Idle must outlast the killed member's 6 s session, while its partitions are nobody's.
    let start = || pipe(protocol, &group, &input, &output, &["--idle-exit", "15"]);
    let mut first = start();
    wait_for("the first member to write", || total_end(&output) > 0);
    let mut doomed = start();
    produce(&input, 1, 0..PER_PARTITION);
    let mut third = start();
    produce(&input, 2, 0..PER_PARTITION);
    // Killed once the three are at work on the third load.
    let two_loads = 2 * PER_PARTITION as i64 * PARTITIONS as i64;
    wait_for("the third load to be copied in part", || {
        total_end(&output) > two_loads
    });
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    produce(&input, 3, 0..PER_PARTITION);
    assert_exits_cleanly("the first member", &mut first);
    assert_exits_cleanly("the third member", &mut third);
    check_interleaved(&input, &output, &group, watch, 4);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn three_members_churn_and_one_is_killed_classic() {
    three_members_churn_and_one_is_killed(Protocol::Classic);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn three_members_churn_and_one_is_killed_cooperative() {
    three_members_churn_and_one_is_killed(Protocol::Cooperative);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn three_members_churn_and_one_is_killed_consumer_protocol() {
    three_members_churn_and_one_is_killed(Protocol::Consumer);
}
