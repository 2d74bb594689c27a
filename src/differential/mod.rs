//! Kafka topics as [differential-dataflow](differential_dataflow) collections, and
//! collections back to Kafka as upserts, with commits that wait for the view.
//!
//! - [`KafkaCollectionExt::insertions`]: every record is an insertion at its tick, so a topic
//!   is an ever-growing collection of records (word counts over a text topic).
//! - [`KafkaCollectionExt::upserts`]: a compacted topic's meaning. A key's latest value
//!   replaces its previous one; a tombstone (null payload) retracts it. The collection holds
//!   `(key, value)` pairs, at most one per key.
//! - [`UpsertSinkExt::upsert_to_kafka`]: writes a collection of `(key, value)` pairs to a
//!   topic as a changelog: a key whose value changed at a tick produces `key → value`; a key
//!   left with no value produces a tombstone. Its acknowledged frontier is what the source
//!   commits behind.
//!
//! # Guarantees
//!
//! - **Commits follow the view.** Probe the sink's `acknowledged` stream and pass the probe
//!   to `commit_after`: an input offset is committed only once every differential operator
//!   and the sink have absorbed the records below it, and the output is acknowledged.
//! - **Idempotent output.** The output for a key at a tick is the key's value in the view at
//!   that tick, not a delta, so writing it twice (at-least-once) is harmless: a compacted
//!   output topic converges to the view.
//! - **Rebuilding after a restart.** A view's state lives in memory. A restarted view must
//!   see its input again from the start, which is what compacted input topics are for: run
//!   the source with [`ignore_committed`](crate::SourceConfigBuilder::ignore_committed) and
//!   the earliest reset, and write with [`UpsertSinkExt::rebuild_to_kafka`]. The view then
//!   re-derives every key and re-writes its current value; keys that left the view while it
//!   was down are tombstoned once it has caught up with its input as it stood at start
//!   (each input partition committed by this run up to its end then, which the source's
//!   per-run [commit metadata](crate::SourceConfig::commit_metadata) tells apart from an
//!   earlier run's commits). Until then the output may step back to older values, as the
//!   rebuilt view passes through them.
//! - **Records read again count once.** A view reads every partition from its start, so a
//!   partition that moves to another worker or process mid-run is read again from there.
//!   Both `insertions` and `upserts` first route records by `(topic, partition)` and drop
//!   offsets already seen in this run: a count counts each record once, and an upsert view
//!   never steps back to an older value.
//! - **Order per key.** Upserts are applied in partition order: Kafka writes a key to one
//!   partition, and a partition is read by one worker in offset order, so "latest" is the
//!   latest in its partition. A key written to several partitions (or topics) has no defined
//!   latest value.
//!
//! ```
//! use differential_dataflow::VecCollection;
//! use timely::dataflow::operators::Probe;
//! use timely::dataflow::ProbeHandle;
//! use timely_kafka::differential::{KafkaCollectionExt, UpsertSinkExt};
//! use timely_kafka::sink::SinkConfig;
//! use timely_kafka::testing::{EmbeddedCluster, TestRecord};
//! use timely_kafka::{KafkaSourceExt, OffsetReset, SourceConfig};
//!
//! let cluster = EmbeddedCluster::new(1).unwrap();
//! cluster.create_topic("words", 1).unwrap();
//! cluster.create_topic("counts", 1).unwrap();
//! cluster
//!     .load("words", ["a b", "b"].map(|line| TestRecord::new(line).partition(0)))
//!     .unwrap();
//! let source = SourceConfig::builder()
//!     .brokers(cluster.bootstrap_servers())
//!     .group_id("word-count")
//!     .topic("words")
//!     .ignore_committed(true)
//!     .offset_reset(OffsetReset::Earliest)
//!     .build()
//!     .unwrap();
//! let sink = SinkConfig::builder()
//!     .brokers(cluster.bootstrap_servers())
//!     .default_topic("counts")
//!     .build()
//!     .unwrap();
//! timely::execute_directly(move |worker| {
//!     let probe = ProbeHandle::new();
//!     let handle = worker.dataflow(|scope| {
//!         let source = scope.kafka_source(&source).unwrap();
//!         let words: VecCollection<_, String> = source
//!             .records
//!             .insertions()
//!             .flat_map(|r| {
//!                 let text = r.payload_str().unwrap_or_default().to_owned();
//!                 text.split_whitespace().map(str::to_owned).collect::<Vec<_>>()
//!             });
//!         let counts = words
//!             .count()
//!             .map(|(word, count)| (word.into_bytes(), count.to_string().into_bytes()));
//!         let sink = counts.upsert_to_kafka(&sink).unwrap();
//!         sink.acknowledged.probe_with(&probe);
//!         source.handle.commit_after(&probe);
//!         source.handle
//!     });
//!     // Run until the three words are counted and written, then stop.
//!     while cluster.end_offsets("counts").unwrap()[&0] < 2 {
//!         worker.step_or_park(Some(std::time::Duration::from_millis(10)));
//!     }
//!     handle.shutdown();
//! });
//! ```

mod changelog;
mod end_of_partition;
mod input;
mod rebuild;
mod upsert;

pub use changelog::UpsertSinkExt;
pub use input::KafkaCollectionExt;
pub use upsert::Upserts;
