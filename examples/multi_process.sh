#!/usr/bin/env bash
# Two timely processes, two workers each, as two members of one consumer group: they pipe
# topic `in` (4 partitions, 100,000 records) to topic `out` on an embedded Kafka cluster,
# exchanging records between processes by (topic, partition), and exit once the input has
# been idle for 8 seconds. The cluster then reports how many records each topic holds, and
# the script ends with a PASS or FAIL line (exit status 0 or 1).
# The embedded cluster, like Kafka, holds a new group's first rebalance for 3 s so members
# started together share it; the short session timeout shortens its later rebalances.
#
#   examples/multi_process.sh [RECORDS]
#
# Against your own brokers, run the two `pipe` commands below with `--brokers` pointing at
# them, one per machine, with a hosts file listing every process's address.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-100000}

# Build, and ask cargo where the binary is: CARGO_TARGET_DIR or a configured target
# directory moves it from target/release.
if ! artifacts=$(cargo build --release --quiet --bin timely-kafka --message-format=json-render-diagnostics); then
  echo "FAIL: cargo build --release failed" >&2
  exit 1
fi
bin=$(sed -n 's/^{"reason":"compiler-artifact".*"executable":"\([^"]*\)".*/\1/p' <<<"$artifacts" | tail -n 1)
if [ ! -x "$bin" ]; then
  echo "FAIL: cargo reported no timely-kafka executable" >&2
  exit 1
fi
work=$(mktemp -d)
cluster=
trap '[ -n "$cluster" ] && kill "$cluster" 2>/dev/null; rm -rf "$work"' EXIT

# The embedded cluster prints its bootstrap servers once the topics are loaded.
mkfifo "$work/cluster.out"
"$bin" mock-cluster --topic in:4 --topic out:4 --load "in:$records" >"$work/cluster.out" &
cluster=$!
exec 3<"$work/cluster.out"
read -r brokers <&3
echo "embedded cluster at $brokers; $records records in topic 'in'"

# timely's cluster: one line per process, its address for worker-to-worker traffic.
port=$((20000 + RANDOM % 20000))
printf '127.0.0.1:%d\n127.0.0.1:%d\n' "$port" "$((port + 1))" >"$work/hosts.txt"
for process in 0 1; do
  # Group settings are the consumer's alone: --consumer-set keeps them from the producer.
  "$bin" pipe --brokers "$brokers" --group multi-process-demo --input in --output out \
    --exchange --idle-exit 8 \
    --consumer-set session.timeout.ms=3000 --consumer-set heartbeat.interval.ms=500 \
    -w 2 -n 2 -p "$process" -h "$work/hosts.txt" &
  pids[process]=$!
done
failed=()
for process in 0 1; do
  status=0
  wait "${pids[process]}" || status=$?
  [ "$status" -eq 0 ] || failed+=("process $process exited with status $status")
done

kill -TERM "$cluster"
wait "$cluster" || true
cluster=
# The cluster's shutdown report: "in records=N" and "out records=N".
report=$(cat <&3)
echo "$report"
in=$(sed -n 's/^in records=//p' <<<"$report")
out=$(sed -n 's/^out records=//p' <<<"$report")
# At-least-once: every input record is in the output, some perhaps twice.
if [ -z "$in" ] || [ -z "$out" ]; then
  failed+=("the cluster reported no record counts")
elif [ "$out" -lt "$in" ]; then
  failed+=("$((in - out)) records missing from 'out'")
fi
if [ ${#failed[@]} -gt 0 ]; then
  reasons=$(printf '%s; ' "${failed[@]}")
  echo "FAIL: ${in:-?} records in 'in', ${out:-?} in 'out': ${reasons%; }" >&2
  exit 1
fi
echo "PASS: ${in} records in 'in', ${out} in 'out' (every record copied; $((out - in)) duplicates); both processes exited 0"
