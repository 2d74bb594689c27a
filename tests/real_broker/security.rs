//! Secured listeners of the broker under test, through `pipe --config FILE` as a user
//! connects to a managed cluster: TLS, TLS with a client certificate, and SASL over TLS with
//! PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER; and the failures users meet (a CA
//! that did not sign the broker, a certificate for another host, a wrong password, no client
//! certificate where one is required), each reported by cause within the connect timeout.
//! No secret appears in anything `pipe` prints.
//!
//! The client property files come from `scripts/kafka-broker.sh` (`clients=DIR`), which
//! `scripts/real-broker-tests.sh` exports as `KAFKA_CLIENTS_DIR`.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::broker::*;
use crate::common::*;
use timely_kafka::client::{Pem, Sasl, Secret, Security};
use timely_kafka::sink::{SinkConfig, SinkRecord};
use timely_kafka::testing::unique_name;
use timely_kafka::SourceConfig;

/// The directory of client property files for the broker under test.
pub(crate) fn clients() -> PathBuf {
    PathBuf::from(std::env::var("KAFKA_CLIENTS_DIR").expect(
        "KAFKA_CLIENTS_DIR is not set: run scripts/real-broker-tests.sh, which starts a broker \
         with secured listeners",
    ))
}

/// The properties file `name` with `edits` (`key=value`) appended, as a new file.
pub(crate) fn edited(name: &str, edits: &[&str]) -> PathBuf {
    let original = std::fs::read_to_string(clients().join(format!("{name}.properties"))).unwrap();
    let path = std::env::temp_dir().join(format!("{}.properties", unique_name(name)));
    std::fs::write(&path, format!("{original}{}\n", edits.join("\n"))).unwrap();
    path
}

/// A value of a properties file (the broker script's files are plain `key=value` lines).
pub(crate) fn property(name: &str, key: &str) -> String {
    std::fs::read_to_string(clients().join(format!("{name}.properties")))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("{name}.properties has no {key}"))
}

/// `pipe --config FILE` at its defaults (session, heartbeat, commit interval), with
/// everything it prints captured.
pub(crate) fn pipe_with_config(
    config: &PathBuf,
    group: &str,
    input: &str,
    output: &str,
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .arg("pipe")
        .arg("--config")
        .arg(config)
        .args(["--group", group, "--input", input, "--output", output])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits, within `limit`, for `child` to exit; returns its success and all it printed.
pub(crate) fn finish(mut child: Child, limit: Duration) -> (bool, String) {
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let stderr = thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let status = exits_within(&mut child, "pipe", limit);
    let printed = format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap());
    eprintln!("{printed}");
    (status.success(), printed)
}

/// Topics and a group for one run, with a small load in the input.
pub(crate) fn loaded() -> (String, String, String) {
    let (input, output, group) = (
        unique_name("rb-sec-in"),
        unique_name("rb-sec-out"),
        unique_name("rb-sec-group"),
    );
    create_topic(&input, PARTITIONS);
    create_topic(&output, PARTITIONS);
    produce(&input, 0, 0..50);
    (input, output, group)
}

/// `pipe` over the way in `name` copies everything and commits to the end, and prints no
/// secret of it.
fn pipe_copies_over(name: &str) {
    let (input, output, group) = loaded();
    let config = clients().join(format!("{name}.properties"));
    let child = pipe_with_config(&config, &group, &input, &output, &["--idle-exit", "3"]);
    let (ok, printed) = finish(child, Duration::from_secs(120));
    assert!(ok, "pipe over {name}: {printed}");
    assert_eq!(
        total_end(&output),
        50 * PARTITIONS as i64,
        "everything copied"
    );
    assert_committed_to_end(&committed(&brokers(), &group, &input, PARTITIONS), 50);
    assert_no_secret(name, &printed);
}

/// Nothing printed holds the password, keystore password or private key of the way in.
pub(crate) fn assert_no_secret(name: &str, printed: &str) {
    if name.starts_with("sasl_") && name != "sasl_ssl-oauthbearer" {
        let password = property(name, "sasl.password");
        assert!(
            !printed.contains(&password),
            "{name}: the SASL password was printed"
        );
    }
    assert!(
        !printed.contains("PRIVATE KEY"),
        "{name}: a private key was printed"
    );
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_tls() {
    pipe_copies_over("ssl");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_mutual_tls() {
    pipe_copies_over("mtls");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_sasl_ssl_plain() {
    pipe_copies_over("sasl_ssl-plain");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_sasl_ssl_scram_sha_256() {
    pipe_copies_over("sasl_ssl-scram-sha-256");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_sasl_ssl_scram_sha_512() {
    pipe_copies_over("sasl_ssl-scram-sha-512");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_sasl_ssl_oauthbearer_unsecured_jwt() {
    pipe_copies_over("sasl_ssl-oauthbearer");
}

/// `pipe` with `config` fails within the connect timeout, and what it prints contains
/// `cause` (and no secret); returns what it printed.
pub(crate) fn fails_naming(name: &str, config: PathBuf, cause: &[&str]) -> String {
    let (input, output, group) = loaded();
    let started = Instant::now();
    let child = pipe_with_config(
        &config,
        &group,
        &input,
        &output,
        &["--connect-timeout", "5"],
    );
    let (ok, printed) = finish(child, Duration::from_secs(60));
    assert!(!ok, "{name}: pipe must fail: {printed}");
    let error: Vec<&str> = printed
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(error.len(), 1, "{name}: one error line: {printed}");
    let lower = error[0].to_ascii_lowercase();
    assert!(
        cause.iter().any(|c| lower.contains(c)),
        "{name}: the error names the cause ({cause:?}): {}",
        error[0]
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{name}: gave up in {:?}, not within the connect timeout",
        started.elapsed()
    );
    assert_no_secret(name, &printed);
    assert_eq!(total_end(&output), 0, "{name}: nothing written");
    printed
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_ca_that_did_not_sign_the_broker_is_reported() {
    let other = clients().join("other-ca.pem");
    let config = edited("ssl", &[&format!("ssl.ca.location={}", other.display())]);
    fails_naming("ssl", config, &["certificate verify failed", "certificate"]);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_certificate_for_another_host_is_reported() {
    fails_naming(
        "wronghost",
        clients().join("wronghost.properties"),
        &["hostname", "host name", "certificate"],
    );
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_wrong_password_is_reported() {
    let name = "sasl_ssl-scram-sha-512";
    let planted = format!("planted-{}", unique_name("secret"));
    let config = edited(name, &[&format!("sasl.password={planted}")]);
    let printed = fails_naming(name, config, &["authentication"]);
    assert!(
        !printed.contains(&planted),
        "the wrong password was printed"
    );
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn no_client_certificate_where_one_is_required_is_reported() {
    let mtls = property("mtls", "bootstrap.servers");
    let config = edited("ssl", &[&format!("bootstrap.servers={mtls}")]);
    fails_naming(
        "mtls",
        config,
        &["ssl", "handshake", "certificate", "disconnect"],
    );
}

/// The library's typed settings: a sink and a source built with `.security(..)` write and
/// read over the listener `name`, and the source commits to the end.
pub(crate) fn library_copies_over(name: &str, security: Security) {
    let bootstrap = property(name, "bootstrap.servers");
    let (input, output, group) = loaded();
    let sink = SinkConfig::builder()
        .brokers(&bootstrap)
        .default_topic(&output)
        .security(security.clone())
        .build()
        .unwrap();
    let records = (0..20)
        .map(|i| SinkRecord::new(format!("typed-{i}")))
        .collect();
    assert!(write_through_sink(sink, records).is_none(), "{name}: sink");
    assert_eq!(total_end(&output), 20, "{name}: the sink's records");
    let config = SourceConfig::builder()
        .brokers(&bootstrap)
        .group_id(&group)
        .topic(&input)
        .security(security)
        .build()
        .unwrap();
    let expected = 50 * PARTITIONS as usize;
    let (seen, progress) = consume_with_progress(config, 1, expected);
    assert_eq!(
        seen.len(),
        expected,
        "{name}: every record read: {progress:?}"
    );
    assert_committed_to_end(&committed(&brokers(), &group, &input, PARTITIONS), 50);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn typed_security_mutual_tls_with_files() {
    let dir = PathBuf::from(property("mtls", "ssl.ca.location"))
        .parent()
        .unwrap()
        .to_owned();
    let security = Security::ssl()
        .ca(Pem::File(dir.join("ca.pem")))
        .client_certificate(dir.join("client.pem"), dir.join("client.key"));
    library_copies_over("mtls", security);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn typed_security_mutual_tls_with_pem_text() {
    let read = |key: &str| std::fs::read_to_string(property("mtls", key)).unwrap();
    let security = Security::ssl()
        .ca(Pem::Text(read("ssl.ca.location")))
        .client_key_pem(
            read("ssl.certificate.location"),
            Secret::new(read("ssl.key.location")),
        );
    library_copies_over("mtls", security);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn typed_security_sasl_ssl_scram_sha_512() {
    let name = "sasl_ssl-scram-sha-512";
    let security = Security::sasl_ssl(Sasl::ScramSha512 {
        username: property(name, "sasl.username"),
        password: Secret::new(property(name, "sasl.password")),
    })
    .ca(Pem::File(property(name, "ssl.ca.location").into()));
    library_copies_over(name, security);
}

/// The Broadway guide example (`examples/broadway_guide.rs`), built next to the binary.
fn guide_example() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_timely-kafka"));
    let path = bin
        .parent()
        .unwrap()
        .join("examples")
        .join("broadway_guide");
    assert!(
        path.exists(),
        "{} is not built: scripts/real-broker-tests.sh builds it (cargo build --example broadway_guide)",
        path.display()
    );
    path
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn the_guide_example_loads_and_reads_with_config_over_sasl_ssl() {
    let name = "sasl_ssl-scram-sha-512";
    let (topic, group) = (unique_name("rb-guide"), unique_name("rb-guide-group"));
    create_topic(&topic, 3);
    let child = Command::new(guide_example())
        .arg("--config")
        .arg(clients().join(format!("{name}.properties")))
        .args(["--topic", &topic, "--group", &group, "--count", "90"])
        .args(["--idle-exit", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, printed) = finish(child, Duration::from_secs(120));
    assert!(ok, "the guide over {name}: {printed}");
    let committed = printed
        .lines()
        .find_map(|l| l.strip_prefix("committed: "))
        .unwrap_or_else(|| panic!("no committed line: {printed}"));
    let total: i64 = committed
        .split(", ")
        .map(|p| p.rsplit_once('@').unwrap().1.parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, 90, "every number committed: {committed}");
    assert_eq!(
        total_end(&topic),
        90,
        "the guide loaded its numbers over {name}"
    );
    assert_no_secret(name, &printed);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn the_bench_runs_with_config_over_sasl_ssl_and_writes_no_secret() {
    let name = "sasl_ssl-scram-sha-512";
    let (printed, written) = bench_with_config(&clients().join(format!("{name}.properties")));
    assert_no_secret(name, &printed);
    assert_no_secret(name, &written);
}

/// `bench --config FILE` (raw consumer and pipeline, one repetition): what it printed and
/// the JSON it wrote, checked to hold a table and rows.
pub(crate) fn bench_with_config(config: &std::path::Path) -> (String, String) {
    let topic = unique_name("rb-bench");
    create_topic(&topic, PARTITIONS);
    let json = std::env::temp_dir().join(format!("{}.json", unique_name("rb-bench")));
    let child = Command::new(env!("CARGO_BIN_EXE_timely-kafka"))
        .arg("bench")
        .arg("--config")
        .arg(config)
        .args(["--topic", &topic, "--partitions", &PARTITIONS.to_string()])
        .args([
            "--messages",
            "2000",
            "--reps",
            "1",
            "--skip-pipe",
            "--idle-secs",
            "0",
        ])
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, printed) = finish(child, Duration::from_secs(300));
    assert!(ok, "bench with {}: {printed}", config.display());
    assert!(printed.contains("pipeline"), "the table: {printed}");
    let written = std::fs::read_to_string(&json).unwrap();
    let document: serde_json::Value = serde_json::from_str(&written).unwrap();
    let rows = document["rows"].as_array().expect("rows");
    assert!(!rows.is_empty(), "{written}");
    (printed, written)
}
