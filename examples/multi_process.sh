#!/usr/bin/env bash
# Two timely processes, two workers each, as two members of one consumer group: they pipe
# topic `in` (4 partitions, 100,000 records) to topic `out` on an embedded Kafka cluster,
# exchanging records between processes by (topic, partition), and exit once the input has
# been idle for 8 seconds. The cluster then reports how many records each topic holds.
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
cargo build --release --quiet
bin=target/release/timely-kafka
work=$(mktemp -d)
trap 'kill "$cluster" 2>/dev/null || true; rm -rf "$work"' EXIT

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
  "$bin" pipe --brokers "$brokers" --group multi-process-demo --input in --output out \
    --exchange --idle-exit 8 --set session.timeout.ms=3000 --set heartbeat.interval.ms=500 \
    -w 2 -n 2 -p "$process" -h "$work/hosts.txt" &
  pids[process]=$!
done
wait "${pids[0]}" "${pids[1]}"

kill -TERM "$cluster"
wait "$cluster" || true
# The cluster's shutdown report: "in records=N" and "out records=N".
report=$(cat <&3)
echo "$report"
in=$(sed -n 's/^in records=//p' <<<"$report")
out=$(sed -n 's/^out records=//p' <<<"$report")
if [ "${out:-0}" -lt "${in:-1}" ]; then
  echo "FAILED: $out records out for $in in" >&2
  exit 1
fi
