//! The group's callbacks and commit bookkeeping, against librdkafka's mock cluster where a
//! consumer is needed.

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::membership::{answer, Sent};
use super::native_commit::PartitionCommitResult;
use super::shared::{Revoking, SentCommit};
use super::{Commit, GroupContext, GroupShared, Membership};
use crate::position::{Position, TopicPartition};
use crate::testing::{unique_name, EmbeddedCluster};
use crate::SourceConfig;

/// librdkafka's close serves a rebalance it had queued before the close began (an ASSIGN
/// that arrived after the group thread's last poll) on the closing thread, and waits for
/// the application's assign call. By then the context cannot reach its consumer any more
/// (here: it was never given it). The assignment must still be completed, or the close
/// waits forever.
#[test]
fn an_assignment_served_while_closing_is_completed_and_the_close_ends() {
    let cluster = EmbeddedCluster::new(1).unwrap();
    let topic = unique_name("closing");
    cluster.create_topic(&topic, 2).unwrap();
    let config = SourceConfig::builder()
        .brokers(cluster.bootstrap_servers())
        .group_id(unique_name("closing-group"))
        .topic(&topic)
        .build()
        .unwrap();
    let settings = Arc::clone(&config.group);
    let shared = Arc::new(GroupShared::new(settings.group_id.clone()));
    let consumer: BaseConsumer<GroupContext> = settings
        .client_config(1)
        .create_with_context(GroupContext::new(shared, Arc::clone(&settings)))
        .unwrap();
    consumer.subscribe(&[topic.as_str()]).unwrap();
    let started = Instant::now();
    while consumer.assignment().map_or(0, |a| a.count()) < 2
        && started.elapsed() < Duration::from_secs(20)
    {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    let assigned = consumer.assignment().map_or(0, |a| a.count());
    if assigned < 2 {
        // Closing it would never return.
        std::mem::forget(consumer);
        panic!("the ASSIGN event was never answered with an assign call ({assigned} partitions assigned)");
    }
    let (closed_tx, closed_rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(consumer);
        let _ = closed_tx.send(());
    });
    closed_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("closing the consumer ends");
}

/// A commit is confirmed by the broker's answer to that very commit, never by a higher
/// offset an earlier ownership of the partition had committed.
#[test]
fn a_commit_is_confirmed_by_its_own_answer() {
    let shared = GroupShared::new("g".into());
    let tp = TopicPartition::new("t", 0);
    let result = |offset: i64, error: Option<RDKafkaErrorCode>| PartitionCommitResult {
        position: tp.at(offset),
        result: error.map_or(Ok(()), |e| Err(KafkaError::ConsumerCommit(e))),
    };
    let send = |offset: i64, epoch: u64| {
        let mut state = shared.lock();
        let commit = SentCommit {
            offset,
            epoch,
            seq: GroupShared::next_commit_seq(&mut state),
            sent_at: std::time::Instant::now(),
        };
        state.commits_in_flight.insert(tp.clone(), commit);
        Sent {
            tp: tp.clone(),
            commit,
        }
    };
    // An earlier ownership committed 100.
    let earlier = send(100, 1);
    shared.commit_answered(&Ok(()), &[result(100, None)]);
    assert_eq!(answer(&shared.lock(), &earlier), Some(true));
    // This ownership began lower (its start ignored committed offsets) and commits 50.
    let this = send(50, 2);
    assert_eq!(
        answer(&shared.lock(), &this),
        None,
        "not answered yet, though the group's committed maximum is past it"
    );
    shared.commit_answered(
        &Ok(()),
        &[result(50, Some(RDKafkaErrorCode::RebalanceInProgress))],
    );
    assert_eq!(answer(&shared.lock(), &this), Some(false), "refused");
    assert_eq!(shared.lock().committed.get(&tp), Some(&100));
}

/// A membership of `group` on `topic` with the test timings (short session, so the mock's
/// classic rebalances are short; short revoke drain, since no worker reports drains here).
fn test_membership(cluster: &EmbeddedCluster, group: &str, topic: &str) -> Arc<Membership> {
    let config = SourceConfig::builder()
        .brokers(cluster.bootstrap_servers())
        .group_id(group)
        .topic(topic)
        .revoke_drain_timeout(Duration::from_millis(500))
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "250")
        .build()
        .unwrap();
    let membership = Membership::create(Arc::clone(&config.group), 1).unwrap();
    membership.consumer.subscribe(&[topic]).unwrap();
    membership
}

/// The assignment epoch of each partition assigned to `membership`.
fn epochs(membership: &Membership) -> BTreeMap<i32, u64> {
    membership
        .shared
        .lock()
        .assignment
        .iter()
        .map(|(tp, a)| (tp.partition, a.epoch))
        .collect()
}

/// Polls `cond` every 20 ms until it holds; fails with `what` after 60 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A worker reads a partition's assignment epoch when it syncs, and commits under it later.
/// If the partition was revoked and assigned again in between (here: a second member joins
/// and the eager rebalance hands one partition back under a new epoch), the commit belongs
/// to an ownership that has ended: it must never reach the broker, not for the partition
/// handed back, not for the one handed away. A commit under the new epoch does. Commits are
/// read from the broker by a separate client.
#[test]
fn a_commit_under_an_older_epoch_never_reaches_the_broker() {
    let cluster = EmbeddedCluster::new(1).unwrap();
    let topic = unique_name("epoch");
    let group = unique_name("epoch-group");
    cluster.create_topic(&topic, 2).unwrap();
    let on_broker = |p: i32| cluster.committed_offsets(&group, &topic).unwrap()[&p];
    let commit = |membership: &Membership, partition: i32, epoch: u64, offset: i64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        let c = Commit {
            position: Position::new(topic.as_str(), partition, offset),
            epoch,
        };
        membership.commit(&[c], &[], Some(deadline)).unwrap()
    };

    let a = test_membership(&cluster, &group, &topic);
    wait_until("a to be assigned both partitions", || epochs(&a).len() == 2);
    let before = epochs(&a);
    for (p, epoch) in &before {
        assert_eq!(
            commit(&a, *p, *epoch, 3).len(),
            1,
            "partition {p} committed"
        );
    }
    wait_until("the first commits on the broker", || {
        (0..2).all(|p| on_broker(p) == Some(3))
    });

    // A second member joins: the eager rebalance revokes both, and hands one back.
    let b = test_membership(&cluster, &group, &topic);
    wait_until("the rebalance to split the partitions", || {
        epochs(&a).len() == 1 && epochs(&b).len() == 1
    });
    let after = epochs(&a);
    let (&back, &new_epoch) = after.iter().next().unwrap();
    let away = 1 - back;
    assert_ne!(new_epoch, before[&back], "assigned again under a new epoch");

    // The worker's commits under the epochs it synced before the rebalance. Each waits
    // for the broker's answer, had it been sent.
    let sent_back = commit(&a, back, before[&back], 7);
    let sent_away = commit(&a, away, before[&away], 7);
    assert_eq!(
        (on_broker(back), on_broker(away)),
        (Some(3), Some(3)),
        "the broker holds a commit made under an epoch that had ended (partition {back} \
         was assigned again, {away} elsewhere)"
    );
    assert!(sent_back.is_empty(), "sent: {sent_back:?}");
    assert!(sent_away.is_empty(), "sent: {sent_away:?}");
    // Under the current epoch the partition commits: the broker answers commits here.
    assert_eq!(commit(&a, back, new_epoch, 5).len(), 1);
    wait_until("the current epoch's commit on the broker", || {
        on_broker(back) == Some(5)
    });
    drop(b);
    drop(a);
}

/// A revoked partition's drain reports count only for the epoch being revoked: a report
/// from a worker still holding an older (or newer) assignment of the partition neither
/// moves its final commit position nor ends its drain.
#[test]
fn drain_reports_of_another_epoch_are_ignored() {
    let shared = GroupShared::new("g".into());
    let tp = TopicPartition::new("t", 0);
    shared.lock().revoking.insert(
        tp.clone(),
        Revoking {
            epoch: 5,
            done: false,
            position: None,
        },
    );
    shared.revoke_progress(&tp, 4, Some(100), true);
    shared.revoke_progress(&tp, 6, Some(100), true);
    {
        let state = shared.lock();
        let r = &state.revoking[&tp];
        assert_eq!((r.position, r.done), (None, false), "other epochs ignored");
    }
    let pending = shared.wait_revoked(std::slice::from_ref(&tp), Instant::now());
    assert_eq!(pending, std::slice::from_ref(&tp), "still draining");
    shared.revoke_progress(&tp, 5, Some(40), false);
    shared.revoke_progress(&tp, 5, None, true);
    let state = shared.lock();
    let r = &state.revoking[&tp];
    assert_eq!(
        (r.position, r.done),
        (Some(40), true),
        "its own epoch's report counts; a final report without a position keeps the last"
    );
}
