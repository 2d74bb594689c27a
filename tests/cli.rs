//! What the `timely-kafka` command prints when things go wrong, run as a child process:
//! each error once, in terms of the command's own flags, without colour codes when stderr
//! is not a terminal. (The pipe's summary on success is checked in `tests/pipe.rs`.)

use std::net::TcpListener;
use std::process::Command;

/// A loopback address nothing listens on.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let address = listener.local_addr().expect("its address");
    drop(listener);
    address.to_string()
}

#[test]
fn unreachable_brokers_are_reported_once_naming_the_flags() {
    let brokers = closed_port();
    let run = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .args(["pipe", "--brokers", &brokers, "--group", "g"])
        .args(["--input", "in", "--output", "out", "--connect-timeout", "1"])
        .args(["-w", "2"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run the pipe");
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stderr}");
    assert_eq!(run.status.code(), Some(1), "{:?}", run.status);
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no broker answered"))
        .collect();
    assert_eq!(reports.len(), 1, "the error is printed once");
    let report = reports[0];
    assert!(report.starts_with("error: "), "{report}");
    assert!(
        report.contains(&format!("`{brokers}` within 1s")),
        "{report}"
    );
    assert!(report.contains("--brokers"), "{report}");
    assert!(report.contains("--connect-timeout"), "{report}");
    assert!(
        !stderr.contains("connect_timeout"),
        "a library setting the command does not take"
    );
    assert!(
        !stderr.contains("AllBrokersDown"),
        "librdkafka's retries are not repeated as warnings"
    );
    assert!(!stderr.contains('\x1b'), "colour codes when not a terminal");
}

#[test]
fn settings_must_be_key_value() {
    for flag in ["--set", "--consumer-set", "--producer-set"] {
        let run = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
            .args(["pipe", "--brokers", "b", "--group", "g"])
            .args(["--input", "in", "--output", "out", flag, "no-equals-sign"])
            .output()
            .expect("run the pipe");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{flag}: {stderr}");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
        assert!(stderr.contains("KEY=VALUE"), "{flag}: {stderr}");
    }
}

#[test]
fn an_assignor_the_protocol_does_not_have_is_refused_naming_the_key() {
    for (protocol, assignor, key) in [
        ("classic", "uniform", "partition.assignment.strategy"),
        ("consumer", "cooperative-sticky", "group.remote.assignor"),
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
            .args(["pipe", "--brokers", &closed_port(), "--group", "g"])
            .args(["--input", "in", "--output", "out"])
            .args(["--group-protocol", protocol, "--assignor", assignor])
            .output()
            .expect("run the pipe");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{protocol}: {stderr}");
        assert!(stderr.contains(key), "{protocol}: {stderr}");
        assert!(stderr.contains(assignor), "{protocol}: {stderr}");
        assert!(
            !stderr.contains("no broker answered"),
            "refused before connecting: {stderr}"
        );
    }
}

/// `version` and `--version` say what the build can do: the security features a user needs
/// to connect to a managed cluster are in the default build.
#[test]
fn version_names_librdkafka_and_the_security_features_built_in() {
    for args in [&["version"][..], &["--version"][..]] {
        let run = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
            .args(args)
            .output()
            .expect("run timely-kafka");
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(run.status.success(), "{args:?}: {stdout}");
        assert!(
            stdout.starts_with(&format!("timely-kafka {}\n", env!("CARGO_PKG_VERSION"))),
            "{args:?}: {stdout}"
        );
        assert!(stdout.contains("\nlibrdkafka 2."), "{args:?}: {stdout}");
        assert!(
            stdout.lines().any(|l| l == "features oidc,concurrent"),
            "{args:?}: the default build's own features: {stdout}"
        );
        let features = stdout
            .lines()
            .find_map(|l| l.strip_prefix("builtin.features "))
            .expect("a builtin.features line");
        for needed in [
            "ssl",
            "sasl_plain",
            "sasl_scram",
            "sasl_oauthbearer",
            "zstd",
        ] {
            assert!(
                features.split(',').any(|f| f == needed),
                "{args:?}: {needed} is not built in: {features}"
            );
        }
    }
}
