//! Metrics of the `pipe` command, scraped from `--metrics-addr` while it runs on the
//! embedded cluster (RELIABILITY.md row 26): every scrape passes the Prometheus text format's
//! rules; lag rises while records are pending and falls to 0 once they are drained and
//! committed; counters never go backwards; a second member joining shows in the rebalance
//! counters of both; `/health` says whether the member holds an assignment and when it
//! last committed; with `statistics.interval.ms`, librdkafka's statistics add theirs.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use common::*;
use timely_kafka::testing::{check_exposition, unique_name, Exposition};

const PARTITIONS: i32 = 4;

/// `GET path` over HTTP/1.0: the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("an HTTP response with a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, body.to_owned())
}

/// A scrape of `/metrics` that passed the exposition format check.
fn scrape(addr: &str) -> Exposition {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    check_exposition(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

/// `/health`, parsed.
fn health(addr: &str) -> (u16, serde_json::Value) {
    let (status, body) = get(addr, "/health");
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

/// The address a pipe's log says it serves metrics on.
fn metrics_addr(child: &mut Child, log: &ChildLog) -> String {
    let marker = "serving metrics on http://";
    log.wait_for_line(child, marker);
    let line = log.line_with(marker).expect("the line just seen");
    let rest = &line[line.find(marker).unwrap() + marker.len()..];
    rest.split('/').next().unwrap().to_owned()
}

/// Counters this test watches, which must never go backwards between scrapes.
const MONOTONIC: &[&str] = &[
    "timely_kafka_source_commits_sent_total",
    "timely_kafka_source_commits_succeeded_total",
    "timely_kafka_source_records_read_total",
    "timely_kafka_source_bytes_read_total",
    "timely_kafka_source_rebalances_total",
    "timely_kafka_sink_records_sent_total",
    "timely_kafka_sink_records_acknowledged_total",
];

/// Scrapes one member, checking each scrape against the last: no counter series (name and
/// labels) goes backwards.
struct Scraper {
    addr: String,
    last: BTreeMap<String, f64>,
    scrapes: usize,
}

impl Scraper {
    fn new(addr: String) -> Self {
        Scraper {
            addr,
            last: BTreeMap::new(),
            scrapes: 0,
        }
    }

    fn scrape(&mut self) -> Exposition {
        let scrape = scrape(&self.addr);
        for sample in scrape
            .samples
            .iter()
            .filter(|s| scrape.types.get(&s.name).map(String::as_str) == Some("counter"))
        {
            let key = format!("{}{:?}", sample.name, sample.labels);
            if let Some(before) = self.last.insert(key.clone(), sample.value) {
                assert!(
                    sample.value >= before,
                    "{key} went backwards: {before} -> {}",
                    sample.value
                );
            }
        }
        for name in MONOTONIC {
            // Every watched counter is a counter, once it exists.
            if scrape.samples(name, &[]).next().is_some() {
                assert_eq!(scrape.types[*name], "counter", "{name}");
            }
        }
        self.scrapes += 1;
        scrape
    }

    /// Scrapes until `cond` holds for a scrape; returns that scrape.
    fn until(&mut self, what: &str, mut cond: impl FnMut(&Exposition) -> bool) -> Exposition {
        let mut found = None;
        wait_for(what, || {
            let scrape = self.scrape();
            let done = cond(&scrape);
            if done {
                found = Some(scrape);
            }
            done
        });
        found.expect("set when the wait ended")
    }
}

/// Every assigned partition of `input` has committed `offset`, with no lag left.
fn drained_to(scrape: &Exposition, input: &str, offset: f64) -> bool {
    let topic = [("topic", input)];
    let partitions: Vec<_> = scrape
        .samples("timely_kafka_source_committed_offset", &topic)
        .collect();
    partitions.len() == PARTITIONS as usize
        && partitions.iter().all(|s| s.value == offset)
        && scrape.sum("timely_kafka_source_committed_lag_records", &[]) == Some(0.0)
        && scrape.sum("timely_kafka_source_processed_lag_records", &[]) == Some(0.0)
}

#[test]
fn pipe_metrics_follow_lag_commits_and_rebalances() {
    init_logging();
    let (input, output, group) = (
        unique_name("in"),
        unique_name("out"),
        unique_name("metrics-group"),
    );
    // Broker 2 leads the output: slowing it holds deliveries, and with them commits.
    let cluster = split_cluster(&input, &output, PARTITIONS, &group);
    let bootstrap = cluster.bootstrap_servers();
    let flags = [
        "--metrics-addr",
        "127.0.0.1:0",
        "--group-protocol",
        "consumer",
        "--commit-interval-ms",
        "50",
        "-w",
        "2",
        // librdkafka's statistics, for the few metrics taken from them.
        "--set",
        "statistics.interval.ms=200",
    ];
    let (mut first, first_log) = spawn_logged(&mut pipe_command(
        &bootstrap, &group, &input, &output, &flags,
    ));
    let mut one = Scraper::new(metrics_addr(&mut first, &first_log));

    wait_for("the first member to hold an assignment", || {
        let (status, report) = health(&one.addr);
        assert_eq!(status, 200, "{report}");
        report["sources"][0]["holds_assignment"] == true
    });

    // Records read, written, committed: no lag left.
    load(&cluster, &input, PARTITIONS, 0..100);
    let drained = one.until("the first 100 records per partition to drain", |s| {
        drained_to(s, &input, 100.0)
    });
    assert_eq!(
        drained.sum(
            "timely_kafka_source_records_read_total",
            &[("topic", &input)]
        ),
        Some(400.0)
    );
    assert!(drained.sum("timely_kafka_source_commits_succeeded_total", &[]) > Some(0.0));
    assert_eq!(
        drained.sum(
            "timely_kafka_source_assigned_partitions",
            &[("group", &group)]
        ),
        Some(PARTITIONS as f64)
    );
    for name in [
        "timely_kafka_source_high_watermark",
        "timely_kafka_source_commit_duration_seconds",
        "timely_kafka_sink_records_acknowledged_total",
        "timely_kafka_sink_delivery_duration_seconds",
    ] {
        assert!(drained.types.contains_key(name), "{name} is exposed");
        assert!(drained.help.contains_key(name), "{name} has a HELP line");
    }
    let (_, report) = health(&one.addr);
    assert!(
        report["sources"][0]["seconds_since_last_commit"].is_number(),
        "{report}"
    );
    one.until("metrics from librdkafka's statistics", |s| {
        s.samples(
            "timely_kafka_source_fetch_queue_records",
            &[("topic", &input)],
        )
        .count()
            == PARTITIONS as usize
            && s.types
                .contains_key("timely_kafka_source_broker_rtt_seconds")
            && s.types.contains_key("timely_kafka_sink_broker_rtt_seconds")
    });

    // Deliveries held back: read but not acknowledged, so neither processed nor committed.
    cluster
        .mock()
        .broker_round_trip_time(2, Duration::from_millis(2000))
        .unwrap();
    load(&cluster, &input, PARTITIONS, 100..200);
    let pending = one.until("lag to rise while deliveries are slow", |s| {
        s.sum("timely_kafka_source_committed_lag_records", &[])
            .is_some_and(|lag| lag > 0.0)
            && s.sum("timely_kafka_source_processed_lag_records", &[])
                .is_some_and(|lag| lag > 0.0)
    });
    eprintln!(
        "pending: committed lag {:?}, in flight {:?}",
        pending.sum("timely_kafka_source_committed_lag_records", &[]),
        pending.sum("timely_kafka_source_in_flight_records", &[])
    );
    cluster
        .mock()
        .broker_round_trip_time(2, Duration::ZERO)
        .unwrap();
    one.until("lag to fall back to 0 after the drain", |s| {
        drained_to(s, &input, 200.0)
            && s.sum("timely_kafka_source_in_flight_records", &[]) == Some(0.0)
    });

    // A second member joins: the first is revoked some partitions, the second assigned them.
    let revoked = |s: &Exposition| {
        s.sum(
            "timely_kafka_source_rebalances_total",
            &[("event", "revoked")],
        )
        .unwrap_or(0.0)
    };
    let revoked_before = revoked(&one.scrape());
    let (mut second, second_log) = spawn_logged(&mut pipe_command(
        &bootstrap, &group, &input, &output, &flags,
    ));
    let mut two = Scraper::new(metrics_addr(&mut second, &second_log));
    two.until("the second member to be assigned partitions", |s| {
        s.sum(
            "timely_kafka_source_rebalances_total",
            &[("event", "assigned")],
        ) >= Some(1.0)
            && s.sum("timely_kafka_source_assigned_partitions", &[]) > Some(0.0)
    });
    one.until("the first member's revoked counter to move", |s| {
        revoked(s) > revoked_before
            && s.sum("timely_kafka_source_assigned_partitions", &[]) < Some(PARTITIONS as f64)
    });
    let (_, report) = health(&two.addr);
    assert_eq!(report["sources"][0]["holds_assignment"], true, "{report}");
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(get(&one.addr, "/nowhere").0, 404);

    terminate(&first);
    terminate(&second);
    assert!(exits_within(&mut first, "the first pipe", DEADLINE).success());
    assert!(exits_within(&mut second, "the second pipe", DEADLINE).success());
    eprintln!("scrapes: {} and {}", one.scrapes, two.scrapes);
}

/// The README's "Metrics" table lists every metric the library records, with its type and
/// labels.
#[test]
fn the_readme_lists_every_metric() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    for metric in timely_kafka::metrics::METRICS {
        let labels = if metric.labels.is_empty() {
            "—".to_owned()
        } else {
            metric.labels.join(", ")
        };
        let row = format!(
            "| `{}` | {} | {} |",
            metric.name,
            metric.kind.as_str(),
            labels
        );
        assert!(
            readme.lines().any(|l| l.starts_with(&row)),
            "README.md has no row starting {row}"
        );
    }
}

/// `SourceControl::metrics` and `SinkHandle::metrics` in-process, without any recorder: a
/// source → process → sink pipeline over two partitions, one record of partition 1 failing
/// under `FailurePolicy::Stop`. Once drained: every record read and counted with its bytes,
/// partition 0 committed with no lag, partition 1 halted at the failure with the records
/// past it counted as halted, the failure counted under its policy, and the sink's counts
/// agree with what it wrote.
#[test]
fn snapshots_add_up_in_process() {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    use timely::dataflow::operators::vec::Map;
    use timely::dataflow::operators::Probe;
    use timely::dataflow::ProbeHandle;
    use timely_kafka::process::{utf8, FailurePolicy, FailurePolicyExt, ProcessExt};
    use timely_kafka::sink::{KafkaSinkExt, SinkConfig, SinkRecord};
    use timely_kafka::testing::{EmbeddedCluster, TestRecord};
    use timely_kafka::KafkaSourceExt;

    init_logging();
    let (input, output, group) = (
        unique_name("in"),
        unique_name("out"),
        unique_name("snapshot-group"),
    );
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&input, 2).unwrap();
    cluster.create_topic(&output, 1).unwrap();
    let records = (0..2).flat_map(|p| {
        (0..10).map(move |s| {
            let payload = if p == 1 && s == 5 {
                "bad".to_owned()
            } else {
                format!("{s:04}")
            };
            TestRecord::new(payload).partition(p)
        })
    });
    cluster.load(&input, records.collect::<Vec<_>>()).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let source = config(&bootstrap, &group, &input).build().unwrap();
    let sink = SinkConfig::builder()
        .brokers(&bootstrap)
        .default_topic(&output)
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let found = Arc::clone(&seen);
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let (handle, sink_handle) = worker.dataflow(|scope| {
            let consumed = scope.kafka_source(&source).unwrap();
            let processed = consumed.records.process(|record| {
                let text = utf8(record).map_err(|e| e.to_string())?;
                text.parse::<u32>().map_err(|e| format!("{text:?}: {e}"))
            });
            processed
                .failed
                .with_policy(FailurePolicy::Stop, &consumed.handle)
                .probe_with(&probe);
            let produced = processed
                .ok
                .map(|m| SinkRecord::new(m.data.to_string()))
                .kafka_sink(&sink)
                .unwrap();
            produced.acknowledged.probe_with(&probe);
            consumed.handle.commit_after(&probe);
            (consumed.handle, produced.handle)
        });
        let started = Instant::now();
        let done = |m: &timely_kafka::metrics::SourceMetrics| {
            m.partitions.len() == 2
                && m.partitions[0].committed == Some(10)
                && m.partitions[0].committed_lag == Some(0)
                && m.partitions[1].committed == Some(5)
                && m.partitions[1].processed == Some(10)
                && m.in_flight_records == 0
        };
        while !done(&handle.control().metrics()) && started.elapsed() < DEADLINE {
            worker.step_or_park(Some(Duration::from_millis(20)));
        }
        *found.lock().unwrap() = Some((handle.control().metrics(), sink_handle.metrics()));
        handle.shutdown();
    })
    .unwrap()
    .join()
    .into_iter()
    .for_each(|r| r.unwrap());
    let (source, sink) = seen.lock().unwrap().take().unwrap();
    eprintln!("{source:#?}\n{sink:#?}");
    assert_eq!(source.group, group);
    assert_eq!(source.records_read, 20);
    assert_eq!(source.bytes_read, 19 * 4 + 3);
    let (zero, one) = (&source.partitions[0], &source.partitions[1]);
    assert_eq!((zero.committed, zero.committed_lag), (Some(10), Some(0)));
    assert_eq!(zero.high_watermark, Some(10));
    assert_eq!((one.committed, one.halted_at), (Some(5), Some(5)));
    assert_eq!(
        one.committed_lag,
        Some(5),
        "the halt keeps 5 records uncommitted"
    );
    assert_eq!(one.halted_records(), 5);
    assert_eq!((source.failures_stopped, source.failures_continued), (1, 0));
    assert_eq!(source.halted_partitions, 1);
    assert!(source.commits.succeeded >= 2, "{:?}", source.commits);
    assert!(source.commits.sent >= source.commits.succeeded);
    assert_eq!(source.commits.failed_total(), 0);
    assert!(source.commits.last_success.is_some());
    assert!(source.commits.latency.count >= 1);
    assert_eq!(source.rebalances.assigned, 1);
    assert_eq!((source.rebalances.revoked, source.rebalances.lost), (0, 0));
    assert_eq!((sink.sent, sink.acknowledged, sink.in_flight), (19, 19, 0));
    assert_eq!(sink.failed_total(), 0);
    assert!(sink.tick_deliveries.count >= 1);
    assert!(
        source.broker_rtt.is_empty(),
        "no statistics unless asked for"
    );
}
