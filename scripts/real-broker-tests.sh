#!/usr/bin/env bash
# Runs the end-to-end suite (tests/real_broker.rs) against Apache Kafka, the reference broker.
#
#   scripts/real-broker-tests.sh                 # starts a throwaway Kafka, tests, stops it
#   KAFKA_BROKERS=host:9092 scripts/real-broker-tests.sh   # against a cluster you run
#   scripts/real-broker-tests.sh --fetch         # only fetch the broker (CI does this early)
#   scripts/real-broker-tests.sh two_pipe        # arguments go to the test harness (a filter)
#
# The broker is scripts/kafka-broker.sh: Apache Kafka from Maven Central (cached after the
# first run), a single KRaft node on free loopback ports, removed when the tests end. Against
# your own cluster, the suite creates uniquely named topics and groups and deletes nothing;
# it needs a broker that accepts a 6 s session timeout (Kafka's default minimum) and
# transactions. The security tests need the client property files of the script's broker:
# skip them there with `--skip security`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch" ]; then
  exec scripts/kafka-broker.sh --fetch
fi

if [ -z "${KAFKA_BROKERS:-}" ]; then
  # Build first, so the broker does not sit idle through a compile.
  cargo test --test real_broker --no-run
  # The security tests also run the guide example, as a user would.
  cargo build --example broadway_guide
  started=$(date +%s)
  broker_err=$(mktemp)
  # The KIP-848 group's session and heartbeat at the classic tests' 6 s and 500 ms (the
  # broker's defaults are 45 s and 5 s), so a killed member's partitions move on as soon
  # under both protocols. Everything else is Kafka's default.
  # Listeners: plaintext for most tests, the secured ones for tests/real_broker/security.rs.
  exec 3< <(exec scripts/kafka-broker.sh \
    --listeners plaintext,ssl,mtls,sasl_ssl,oidc,wronghost \
    --set group.consumer.min.session.timeout.ms=6000 \
    --set group.consumer.session.timeout.ms=6000 \
    --set group.consumer.min.heartbeat.interval.ms=500 \
    --set group.consumer.heartbeat.interval.ms=500 \
    2>"$broker_err")
  broker_pid=$!
  stop_broker() {
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    rm -f "$broker_err"
  }
  trap stop_broker EXIT
  if ! read -r -t 180 -u 3 KAFKA_BROKERS; then
    cat "$broker_err" >&2
    echo "real-broker-tests: Apache Kafka did not start (its messages above)" >&2
    exit 1
  fi
  # Then one NAME=ADDRESS line per listener, and the client property files' directory.
  while read -r -t 10 -u 3 line; do
    case "$line" in
      clients=*) export KAFKA_CLIENTS_DIR=${line#clients=}; break ;;
    esac
  done
  export KAFKA_BROKERS
  echo "== Apache Kafka on $KAFKA_BROKERS, started in $(($(date +%s) - started)) s"
fi

echo "== end-to-end suite against $KAFKA_BROKERS"
cargo test --test real_broker -- --ignored --test-threads 1 "$@"
