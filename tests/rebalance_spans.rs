//! A rebalance reads as one story in a trace: the `rebalance` span of a revocation holds
//! the `revoke_drain` span and the `commit` span of the revoked partitions' final commit, and
//! names the group and the event.

mod common;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use timely_kafka::testing::unique_name;
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A span as the trace saw it: its name, its parent and the fields it was opened with.
#[derive(Debug, Clone)]
struct Seen {
    name: &'static str,
    parent: Option<u64>,
    fields: String,
}

/// Records every span opened, with its parent, in the order they were opened.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<HashMap<u64, Seen>>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|p| p.id().into_u64());
        let mut fields = String::new();
        attrs.record(
            &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                fields.push_str(&format!("{}={:?} ", field.name(), value));
            },
        );
        self.0.lock().unwrap().insert(
            id.into_u64(),
            Seen {
                name: attrs.metadata().name(),
                parent,
                fields,
            },
        );
    }
}

impl Spans {
    /// Whether `id`'s chain of parents reaches `ancestor`.
    fn descends_from(spans: &HashMap<u64, Seen>, mut id: u64, ancestor: u64) -> bool {
        while let Some(parent) = spans.get(&id).and_then(|s| s.parent) {
            if parent == ancestor {
                return true;
            }
            id = parent;
        }
        false
    }

    /// A revocation's `rebalance` span of `group` holding both a `revoke_drain` and a
    /// `commit` span.
    fn revocation_story(&self, group: &str) -> Option<String> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .filter(|(_, s)| {
                s.name == "rebalance"
                    && s.fields.contains(&format!("group={group}"))
                    && s.fields.contains("event=\"revoked\"")
            })
            .find_map(|(id, rebalance)| {
                let holds = |name: &str| {
                    spans.iter().any(|(child, s)| {
                        s.name == name && Self::descends_from(&spans, *child, *id)
                    })
                };
                (holds("revoke_drain") && holds("commit")).then(|| rebalance.fields.clone())
            })
    }
}

#[test]
fn a_revocation_is_one_span_tree_holding_its_drain_and_final_commit() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry()
        .with(spans.clone())
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let topic = unique_name("spans");
    let group = unique_name("spans-group");
    let cluster = loaded_cluster(&topic, 4, 50);
    let bootstrap = cluster.bootstrap_servers();
    let seen = Processed::default();
    let (stop_a, stop_b) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    // No interval commit before the revocation: the revoked partitions' final commit is
    // what moves them.
    let a = spawn_member(
        "a",
        config(&bootstrap, &group, &topic)
            .commit_interval(Duration::from_secs(600))
            .build()
            .unwrap(),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop_a),
    );
    wait_for("a to read everything", || seen.lock().unwrap().len() >= 200);
    // b joins: the rebalance revokes a's partitions, which drain and commit first.
    let b = spawn_member(
        "b",
        config(&bootstrap, &group, &topic).build().unwrap(),
        1,
        Arc::clone(&seen),
        Arc::clone(&stop_b),
    );
    wait_for("a revocation's span tree", || {
        spans.revocation_story(&group).is_some()
    });
    let story = spans.revocation_story(&group).unwrap();
    assert!(story.contains("generation="), "{story}");
    stop_a.store(true, std::sync::atomic::Ordering::SeqCst);
    stop_b.store(true, std::sync::atomic::Ordering::SeqCst);
    a.join().unwrap();
    b.join().unwrap();
}
