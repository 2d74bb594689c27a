//! What Apache Kafka refuses and librdkafka would retry forever: the source stops with an
//! error that names what is wrong, in bounded time, instead of waiting for an assignment.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;

use crate::broker::*;
use crate::common::*;
use timely_kafka::testing::unique_name;

/// A session timeout below the broker's `group.min.session.timeout.ms` (6 s by default):
/// Kafka refuses every JoinGroup. `pipe` exits non-zero, naming `session.timeout.ms`, and
/// commits nothing.
#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_session_timeout_the_broker_refuses_stops_pipe_naming_it() {
    let (input, output, group) = (
        unique_name("rb-refused-in"),
        unique_name("rb-refused-out"),
        unique_name("rb-refused-group"),
    );
    create_topic(&input, PARTITIONS);
    create_topic(&output, PARTITIONS);
    produce(&input, 0, 0..10);
    let mut child = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args(["pipe", "--brokers", &brokers(), "--group", &group])
        .args(["--input", &input, "--output", &output])
        .args(["--consumer-set", "session.timeout.ms=2000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut stderr = String::new();
        stderr_pipe.read_to_string(&mut stderr).unwrap();
        stderr
    });
    let status = exits_within(
        &mut child,
        "pipe waiting for a group that refuses it",
        DEADLINE,
    );
    let stderr = stderr.join().unwrap();
    eprintln!("{stderr}");
    assert!(
        !status.success(),
        "pipe fails when the group refuses it: {status:?}"
    );
    assert!(
        stderr.contains("session.timeout.ms") && stderr.contains(&group),
        "the error names the setting and the group: {stderr}"
    );
    assert_eq!(
        committed(&brokers(), &group, &input, PARTITIONS),
        (0..PARTITIONS).map(|p| (p, None)).collect(),
        "nothing committed"
    );
    assert_eq!(total_end(&output), 0, "nothing written");
}
