//! A timely cluster of two processes, each one group member, piping Kafka → Kafka with a
//! cross-process exchange by input partition; then a third member joins and one process of
//! the cluster is killed mid-stream. Checked: nothing lost (I1), each input partition in
//! order within every run (I6), commits never go backwards (I3), and everything committed
//! at the end.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};

const PARTITIONS: i32 = 4;

/// Two free loopback ports, as a timely host file.
fn hostfile() -> tempfile_path::Path {
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let path = std::env::temp_dir().join(unique_name("hosts"));
    let mut file = std::fs::File::create(&path).unwrap();
    for port in ports {
        writeln!(file, "127.0.0.1:{port}").unwrap();
    }
    tempfile_path::Path(path)
}

mod tempfile_path {
    /// A file removed when dropped.
    pub struct Path(pub std::path::PathBuf);
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn load_phase(cluster: &EmbeddedCluster, topic: &str, seqs: std::ops::Range<usize>) {
    let records = (0..PARTITIONS).flat_map(|p| {
        // One key per input partition: all its records go to one output partition, in order.
        seqs.clone().map(move |s| {
            TestRecord::new(format!("{p}:{s}"))
                .partition(p)
                .key(format!("in{p}"))
        })
    });
    cluster.load(topic, records.collect::<Vec<_>>()).unwrap();
}

#[test]
fn two_process_cluster_then_join_and_kill() {
    init_logging();
    let (input, output, group) = (
        unique_name("mp-in"),
        unique_name("mp-out"),
        unique_name("mp-group"),
    );
    let cluster = EmbeddedCluster::new(1).unwrap();
    cluster.create_topic(&input, PARTITIONS).unwrap();
    cluster.create_topic(&output, PARTITIONS).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    load_phase(&cluster, &input, 0..300);

    let hosts = hostfile();
    let hosts_path = hosts.0.to_str().unwrap().to_owned();
    let mut p0 = pipe_process(
        &bootstrap,
        &group,
        &input,
        &output,
        &["--idle-exit", "4", "-n", "2", "-p", "0", "-h", &hosts_path],
    );
    let mut p1 = pipe_process(
        &bootstrap,
        &group,
        &input,
        &output,
        &["--idle-exit", "4", "-n", "2", "-p", "1", "-h", &hosts_path],
    );

    let written =
        |cluster: &EmbeddedCluster| cluster.end_offsets(&output).unwrap().values().sum::<i64>();
    let mut commits: Vec<BTreeMap<i32, Option<i64>>> = Vec::new();
    wait_for("the two-process cluster to pipe the first load", || {
        commits.push(committed(&bootstrap, &group, &input, PARTITIONS));
        written(&cluster) >= 1_200
    });

    // A third member joins; more input arrives; one process of the cluster is killed.
    // Its idle exit must outlast the rebalance that waits out the killed member's session.
    let mut p2 = pipe_process(
        &bootstrap,
        &group,
        &input,
        &output,
        &["--idle-exit", "12", "-w", "2"],
    );
    load_phase(&cluster, &input, 300..600);
    p1.kill().unwrap();
    let _ = p1.wait();
    load_phase(&cluster, &input, 600..800);

    // The survivor member takes over and drains everything, then exits on idle.
    let status = loop {
        commits.push(committed(&bootstrap, &group, &input, PARTITIONS));
        if let Some(status) = p2.try_wait().unwrap() {
            break status;
        }
        if written(&cluster) > 100_000 {
            panic!("runaway output");
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(commits.len() < 4_000, "the joining member never finished");
    };
    assert!(
        status.success(),
        "the joining member exits cleanly: {status:?}"
    );
    // The killed process's partner cannot continue without it; it must not hang forever.
    let p0_exit = Instant::now();
    let p0_status = loop {
        if let Some(s) = p0.try_wait().unwrap() {
            break s;
        }
        if p0_exit.elapsed() > Duration::from_secs(30) {
            let _ = p0.kill();
            panic!("the killed process's partner hung instead of exiting");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // It must say it failed: a zero status would tell a supervisor all was well.
    assert!(
        !p0_status.success(),
        "the killed process's partner exited 0 though its cluster lost a process"
    );

    let records = read_topic(&cluster, &output);
    // I1: every input record is in the output.
    let mut by_input: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for w in &records {
        let payload = w.payload.as_deref().unwrap();
        let (p, s) = payload.split_once(':').unwrap();
        by_input
            .entry(p.parse().unwrap())
            .or_default()
            .push(s.parse().unwrap());
    }
    let mut duplicates = 0;
    for p in 0..PARTITIONS {
        let seqs = by_input.get(&p).cloned().unwrap_or_default();
        let distinct: std::collections::BTreeSet<usize> = seqs.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            800,
            "input partition {p}: every record written"
        );
        duplicates += seqs.len() - distinct.len();
        // I6: in order within every run; a restart may step back (replaying the uncommitted
        // window), never reorder within a run.
        for w in seqs.windows(2) {
            assert!(
                w[1] == w[0] + 1 || w[1] <= w[0],
                "input partition {p}: {} then {}",
                w[0],
                w[1]
            );
        }
    }
    eprintln!(
        "{} output records, {duplicates} duplicates after the kill",
        records.len()
    );
    // I3: committed offsets never go backwards; at the end they reach the input's end.
    for p in 0..PARTITIONS {
        let seen: Vec<i64> = commits.iter().filter_map(|c| c[&p]).collect();
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "partition {p} committed backwards: {seen:?}"
        );
    }
    let last = committed(&bootstrap, &group, &input, PARTITIONS);
    assert!(last.values().all(|c| *c == Some(800)), "{last:?}");
}
