#!/usr/bin/env bash
# What replication costs producers (issue 5's benchmark): produce throughput
# to a topic with replication factor 3 and acks=all, against one with
# replication factor 1 and acks=1, on the same 3 local brokers, measured
# with `gregor perf produce`. Prints both final lines and their ratio.
#
#   bash benches/replication.sh            # 2,000,000 records of 100 bytes
#   RECORDS=500000 RECORD_SIZE=1000 bash benches/replication.sh
#
# It runs its own cluster (the quickstart, under a temporary GREGOR_HOME and
# on ports away from a quickstart cluster's: ZooKeeper 22181-22183, brokers
# 29092-29094) and stops it and removes its data at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS="${RECORDS:-2000000}"
RECORD_SIZE="${RECORD_SIZE:-100}"
PARTITIONS="${PARTITIONS:-3}"
export GREGOR_HOME ZK_BASE_PORT=22181 BROKER_BASE_PORT=29092
GREGOR_HOME="$(mktemp -d)"
cleanup() {
  bash zk/quickstart.sh stop >/dev/null 2>&1 || true
  rm -rf "$GREGOR_HOME"
}
trap cleanup EXIT
bash zk/quickstart.sh >/dev/null
BOOTSTRAP=127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094

# librdkafka-like batching (the defaults' 16 KiB batches measure request
# overhead, not replication).
producer=(--batch-size 1000000 --linger-ms 5)
measure() { # topic replication-factor acks
  ./gregor topics create -b "$BOOTSTRAP" --topic "$1" \
    --partitions "$PARTITIONS" --replication-factor "$2" >/dev/null
  ./gregor perf produce -b "$BOOTSTRAP" --topic "$1" --num-records "$RECORDS" \
    --record-size "$RECORD_SIZE" --acks "$3" "${producer[@]}" | tail -n 1
}
rate() { sed -n 's/^[0-9]* records sent, \([0-9.]*\) records\/sec.*/\1/p' <<<"$1"; }

echo "$RECORDS records of $RECORD_SIZE bytes, $PARTITIONS partitions, 3 brokers on $(nproc) cores"
rf1=$(measure rf1-acks1 1 1)
echo "replication factor 1, acks=1:   $rf1"
rf3=$(measure rf3-acksall 3 all)
echo "replication factor 3, acks=all: $rf3"
awk -v a="$(rate "$rf3")" -v b="$(rate "$rf1")" \
  'BEGIN { printf "ratio (RF3 acks=all / RF1 acks=1): %.2f\n", a / b }'
