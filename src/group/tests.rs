//! The group's callbacks, against librdkafka's mock cluster.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

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
