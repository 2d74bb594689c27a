//! `scripts/kafka-broker.sh` as a user runs it: the bootstrap address first, a broker that
//! serves, a clean stop on SIGTERM that leaves no state behind, and fast, named failures.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use crate::common::*;

fn script() -> Command {
    Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/kafka-broker.sh"
    ))
}

/// Runs the script to its end, which must come within `limit`.
fn run_to_end(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = thread::spawn(move || {
        let mut s = Vec::new();
        out.read_to_end(&mut s).unwrap();
        s
    });
    let stderr = thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).unwrap();
        s
    });
    let status = exits_within(&mut child, "kafka-broker.sh", limit);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[test]
#[ignore = "needs Java and Maven: scripts/real-broker-tests.sh"]
fn the_script_prints_the_address_first_serves_and_cleans_up_on_sigterm() {
    let mut child = script()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first_line = thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    wait_for("the broker to start", || first_line.is_finished());
    let address = first_line.join().unwrap();
    let address = address.trim();
    assert!(
        address.starts_with("127.0.0.1:"),
        "the first line is the bootstrap address: {address:?}"
    );
    TcpStream::connect(address).expect("the broker listens there");
    // The readiness line names the state directory.
    let mut ready = String::new();
    while !ready.contains("state: ") {
        ready.clear();
        assert!(stderr.read_line(&mut ready).unwrap() > 0, "stderr ended");
    }
    let state = ready
        .split("state: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .expect("the state directory")
        .to_owned();
    assert!(Path::new(&state).is_dir(), "{state} exists while it runs");
    terminate(&child);
    let status = exits_within(&mut child, "a SIGTERMed broker", Duration::from_secs(45));
    assert_eq!(
        status.code(),
        Some(143),
        "exit status of a SIGTERMed broker"
    );
    assert!(!Path::new(&state).exists(), "{state} is removed");
    assert!(
        TcpStream::connect(address).is_err(),
        "nothing listens on {address} any more"
    );
}

#[test]
#[ignore = "needs Java and Maven: scripts/real-broker-tests.sh"]
fn the_script_refuses_a_port_in_use_at_once() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = run_to_end(script().args(["--port", &port]), Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(output.stdout.is_empty(), "no address printed");
    assert!(
        stderr.contains(&format!("port {port} is in use")),
        "{stderr}"
    );
}

#[test]
#[ignore = "needs Java and Maven: scripts/real-broker-tests.sh"]
fn the_script_names_what_is_missing() {
    let no_java = run_to_end(
        script().env("JAVA_HOME", "/nonexistent"),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&no_java.stderr);
    assert!(!no_java.status.success());
    assert!(stderr.contains("no Java"), "{stderr}");

    let bad_setting = run_to_end(
        script().args(["--set", "num.network.threads=0"]),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&bad_setting.stderr);
    assert!(!bad_setting.status.success());
    assert!(
        stderr.contains("num.network.threads"),
        "the broker's own complaint is shown: {stderr}"
    );
}
