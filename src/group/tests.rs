//! The group's callbacks and commit bookkeeping, against librdkafka's mock cluster where a
//! consumer is needed.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::membership::{answer, Sent};
use super::native_commit::PartitionCommitResult;
use super::shared::SentCommit;
use super::{GroupContext, GroupShared};
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
    let settings = Arc::clone(&config.settings);
    let shared = Arc::new(GroupShared::new(settings.group_id.clone()));
    let consumer: BaseConsumer<GroupContext> = settings
        .client_config()
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
    let tp = ("t".to_owned(), 0);
    let result = |offset: i64, error: Option<RDKafkaErrorCode>| PartitionCommitResult {
        topic: tp.0.clone(),
        partition: tp.1,
        offset,
        result: error.map_or(Ok(()), |e| Err(KafkaError::ConsumerCommit(e))),
    };
    let send = |offset: i64, epoch: u64| {
        let mut state = shared.lock();
        let commit = SentCommit {
            offset,
            epoch,
            seq: GroupShared::next_commit_seq(&mut state),
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
