//! `timely-kafka lag` as a user meets it: the command run as a child process against the
//! embedded cluster (its brokers listen on loopback TCP, so another process reaches them),
//! after a group committed offsets, checked by the values it prints as a table and as JSON.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use timely_kafka::testing::{unique_name, EmbeddedCluster, TestRecord};

/// Partition `p` of the input holds `10 * (p + 1)` records.
const PARTITIONS: i32 = 3;

/// A cluster with `input` (10, 20 and 30 records in its partitions) and an empty `other`,
/// and `group` having committed 10 on partition 0 and 5 on partition 2 of `input`.
fn committed_cluster(input: &str, other: &str, group: &str) -> EmbeddedCluster {
    let cluster = EmbeddedCluster::new(1).expect("start the cluster");
    cluster.create_topic(input, PARTITIONS).expect("create");
    cluster.create_topic(other, 1).expect("create");
    let records = (0..PARTITIONS).flat_map(|p| {
        (0..10 * (p + 1)).map(move |i| TestRecord::new(format!("{p}:{i}")).partition(p))
    });
    cluster
        .load(input, records.collect::<Vec<_>>())
        .expect("load");
    let member: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("a member of the group");
    let mut commits = TopicPartitionList::new();
    commits
        .add_partition_offset(input, 0, Offset::Offset(10))
        .unwrap();
    commits
        .add_partition_offset(input, 2, Offset::Offset(5))
        .unwrap();
    member.commit(&commits, CommitMode::Sync).expect("commit");
    cluster
}

/// Runs `timely-kafka lag` with `args`.
fn lag(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .arg("lag")
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run timely-kafka lag");
    eprintln!(
        "lag {args:?}: {}\nstdout:\n{}stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The table's rows, split into cells.
fn rows(output: &Output) -> Vec<Vec<String>> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_table_and_the_json_show_committed_end_offset_and_lag_per_partition() {
    let (input, other, group) = (unique_name("in"), unique_name("other"), unique_name("g"));
    let cluster = committed_cluster(&input, &other, &group);
    let brokers = cluster.bootstrap_servers();

    let text = lag(&["--brokers", &brokers, "--group", &group, "--topic", &input]);
    assert!(text.status.success());
    let expected = [
        [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "END-OFFSET",
            "LAG",
        ]
        .map(String::from),
        [&group, &input, "0", "10", "10", "0"].map(String::from),
        [&group, &input, "1", "-", "20", "20"].map(String::from),
        [&group, &input, "2", "5", "30", "25"].map(String::from),
    ];
    let mut expected: Vec<Vec<String>> = expected.into_iter().map(Vec::from).collect();
    expected.push(["TOTAL", "LAG", "45"].map(String::from).to_vec());
    assert_eq!(rows(&text), expected);

    let json = lag(&[
        "--brokers",
        &brokers,
        "--group",
        &group,
        "--topic",
        &input,
        "--json",
    ]);
    assert!(json.status.success());
    let document: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("one JSON document");
    assert_eq!(document["group"], group.as_str());
    assert_eq!(document["topics"], serde_json::json!([input]));
    assert_eq!(document["total_lag"], 45);
    let partitions = document["partitions"].as_array().expect("partitions");
    let seen: Vec<(i64, Option<i64>, i64, i64, i64)> = partitions
        .iter()
        .map(|p| {
            assert_eq!(p["topic"], input.as_str());
            (
                p["partition"].as_i64().unwrap(),
                p["committed"].as_i64(),
                p["start_offset"].as_i64().unwrap(),
                p["end_offset"].as_i64().unwrap(),
                p["lag"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (0, Some(10), 0, 10, 0),
            (1, None, 0, 20, 20),
            (2, Some(5), 0, 30, 25)
        ]
    );
    assert!(partitions[1]["committed"].is_null());
}

#[test]
fn without_topics_the_group_topics_are_those_it_committed_on() {
    let (input, other, group) = (unique_name("in"), unique_name("other"), unique_name("g"));
    let cluster = committed_cluster(&input, &other, &group);
    let brokers = cluster.bootstrap_servers();

    let found = lag(&["--brokers", &brokers, "--group", &group]);
    assert!(found.status.success());
    let topics: Vec<String> = rows(&found)[1..=3].iter().map(|r| r[1].clone()).collect();
    assert_eq!(
        topics,
        [input.clone(), input.clone(), input.clone()],
        "`{other}` has no commits"
    );

    // Topics asked for by name are shown with or without commits.
    let both = lag(&[
        "--brokers",
        &brokers,
        "--group",
        &group,
        "--topic",
        &input,
        "--topic",
        &other,
    ]);
    assert!(both.status.success());
    let rows = rows(&both);
    assert_eq!(rows.len(), 1 + 4 + 1);
    assert_eq!(rows[4][1..], [other.as_str(), "0", "-", "0", "0"]);

    let stranger = unique_name("stranger");
    let none = lag(&["--brokers", &brokers, "--group", &stranger]);
    assert_eq!(none.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&none.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&format!("group `{stranger}`")), "{stderr}");
    assert!(stderr.contains("--topic"), "{stderr}");
}

#[test]
fn a_config_file_gives_the_brokers_and_settings_go_to_the_client() {
    let (input, other, group) = (unique_name("in"), unique_name("other"), unique_name("g"));
    let cluster = committed_cluster(&input, &other, &group);
    let dir = std::env::temp_dir().join(unique_name("lag-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("client.properties");
    std::fs::write(
        &file,
        format!("bootstrap.servers={}\n", cluster.bootstrap_servers()),
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let json = lag(&[
        "--config", file, "--group", &group, "--topic", &input, "--json",
    ]);
    assert!(json.status.success());
    let document: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(document["total_lag"], 45);

    // A --set the client refuses is an error naming the key.
    let refused = lag(&[
        "--config",
        file,
        "--group",
        &group,
        "--topic",
        &input,
        "--set",
        "fetch.wait.max.ms=x",
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("fetch.wait.max.ms"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_topic_is_named() {
    let (input, other, group) = (unique_name("in"), unique_name("other"), unique_name("g"));
    let cluster = committed_cluster(&input, &other, &group);
    let missing = unique_name("missing");
    let run = lag(&[
        "--brokers",
        &cluster.bootstrap_servers(),
        "--group",
        &group,
        "--topic",
        &missing,
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stdout.is_empty(),
        "no table for a topic that is not there"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("topic `{missing}` does not exist")),
        "{stderr}"
    );
    assert!(stderr.contains("--topic"), "{stderr}");
}

#[test]
fn unreachable_brokers_are_reported_within_the_timeout() {
    let brokers = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
        listener.local_addr().expect("its address").to_string()
    };
    let started = Instant::now();
    let run = lag(&["--brokers", &brokers, "--group", "g", "--timeout", "1"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error, no log flood: {stderr}");
    assert!(
        lines[0].starts_with(&format!(
            "error: no broker answered at `{brokers}` within 1s"
        )),
        "{stderr}"
    );
    assert!(
        lines[0].contains("Connection refused"),
        "the cause: {stderr}"
    );
    assert!(lines[0].contains("--timeout"), "{stderr}");
}
