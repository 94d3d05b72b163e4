#!/usr/bin/env bash
# gregor beside Apache Kafka 2.8.2 under the same loads (issue 13's
# benchmark): one broker of each, then three of each (replication factor 3,
# acks=all), on one ZooKeeper with a chroot per cluster (/kafka, /gregor,
# /kafka-3, /gregor-3). The loads are Kafka's own tools, run against both
# brokers one after the other, so the client is the same:
#   - org.apache.kafka.tools.ProducerPerformance (kafka-producer-perf-test.sh):
#     throughput with the Java producer's defaults (batch.size=16384,
#     linger.ms=0) and with librdkafka-like batching (linger.ms=5,
#     batch.size=1000000), acks=1 and acks=all; then one-record requests at
#     a fixed rate (--throughput, linger.ms=0) for latency percentiles (the
#     tool prints them in whole milliseconds);
#   - kafka.tools.ConsumerPerformance: consumer throughput (its fetch
#     records/s, which leaves the group join out);
#   - kafka.tools.EndToEndLatency: send one record, poll it back, repeat;
#   - and `gregor perf produce` at the same fixed rate, a second client whose
#     percentiles have microsecond resolution.
# Beside each figure, each side's broker CPU seconds (utime+stime of
# /proc/<pid>/stat, summed over the cluster) per million records of that
# load; per cluster, start-to-serving time (from exec until `kcat -L` gets a
# metadata answer that lists the broker and, for 3 brokers started together,
# until each answers with all 3) and RSS (VmRSS, summed) once serving and after the loads.
# Kafka runs with its scripts' JVM settings (kafka-server-start.sh's heap,
# -Xmx1G -Xms1G, and kafka-run-class.sh's G1 options); both brokers get the
# same server.properties. It prints one table at the end.
#
#   bash benches/vs_kafka.sh                  # 6-10 minutes on 2 busy cores
#   RECORDS=100000 CLUSTERS=1 bash benches/vs_kafka.sh
#
# Environment: RECORDS (500000 per throughput load), RECORD_SIZE (100
# bytes), PARTITIONS (3), RATE (1000 records/s) and RATE_RECORDS (10000) for
# the fixed-rate loads, E2E_RECORDS (2000), CLUSTERS ("1 3", the cluster
# sizes to run), LOAD_TIMEOUT (600 s per tool run), START_TIMEOUT (120 s),
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, GREGOR (the binary, default
# target/release/gregor), ZK_PORT, KAFKA_BASE_PORT and GREGOR_BASE_PORT
# (default: free loopback ports), KEEP=1 to keep the work directory (logs
# and every tool's output; it is also kept when something fails).
#
# Needs Kafka 2.8.2's jars (`bash .ci/install-deps`), Debian's ZooKeeper,
# kcat and a release build (`cargo build --release --bin gregor`). Whatever
# it starts is killed when it exits, Ctrl-C included. A benchmark: never run
# it in CI or from a test.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RECORDS=${RECORDS:-500000}
RECORD_SIZE=${RECORD_SIZE:-100}
PARTITIONS=${PARTITIONS:-3}
RATE=${RATE:-1000}
RATE_RECORDS=${RATE_RECORDS:-10000}
E2E_RECORDS=${E2E_RECORDS:-2000}
CLUSTERS=${CLUSTERS:-1 3}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}
START_TIMEOUT=${START_TIMEOUT:-120}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
GREGOR=${GREGOR:-${CARGO_TARGET_DIR:-target}/release/gregor}
KAFKA_LIB=$ROOT/integration-tests/kafka/lib/2.8.2

die() {
  echo "vs_kafka.sh: $*" >&2
  exit 1
}
[ -f "$KAFKA_LIB/kafka_2.13-2.8.2.jar" ] ||
  die "Apache Kafka 2.8.2 is not installed ($KAFKA_LIB is missing its jars): run bash .ci/install-deps"
[ -x "$GREGOR" ] || die "no gregor binary at $GREGOR: run cargo build --release --bin gregor"
command -v kcat >/dev/null || die "kcat is missing: run bash .ci/install-deps"
[ -f /usr/share/java/zookeeper.jar ] || die "Debian's zookeeper is missing: run bash .ci/install-deps"
GREGOR=$(realpath "$GREGOR")
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vs-kafka.XXXXXX")
mkdir "$WORK/runs"
# pid -> the signal that ends it. Only our own children are ever signalled
# (checked against /proc/<pid>/stat's parent), and a pid leaves the table
# once it has been waited for, so a reused pid is never hit.
declare -A STARTED=()
FAILURES=()
ours() { [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2)" = $$ ]; }
cleanup() {
  local status=$? pid deadline
  trap - EXIT INT TERM
  set +e
  {
    for pid in "${!STARTED[@]}"; do ours "$pid" && kill "-${STARTED[$pid]}" "$pid"; done
    deadline=$((SECONDS + 15))
    for pid in "${!STARTED[@]}"; do
      while ours "$pid" && [ "$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)" != Z ] &&
        [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      ours "$pid" && kill -KILL "$pid"
      wait "$pid"
    done
  } 2>/dev/null
  if [ "$status" -eq 0 ] && [ ${#FAILURES[@]} -eq 0 ] && [ -z "${KEEP:-}" ]; then
    rm -rf "$WORK"
  else
    echo "logs and tool outputs kept in $WORK" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Loopback ports: free ones unless given (all taken at once, so distinct).
read -r -a FREE <<<"$(python3 -c '
import socket
s = [socket.socket() for _ in range(7)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')"
ZK_PORT=${ZK_PORT:-${FREE[0]}}
if [ -n "${KAFKA_BASE_PORT:-}" ]; then
  KAFKA_PORTS=("$KAFKA_BASE_PORT" $((KAFKA_BASE_PORT + 1)) $((KAFKA_BASE_PORT + 2)))
else KAFKA_PORTS=("${FREE[@]:1:3}"); fi
if [ -n "${GREGOR_BASE_PORT:-}" ]; then
  GREGOR_PORTS=("$GREGOR_BASE_PORT" $((GREGOR_BASE_PORT + 1)) $((GREGOR_BASE_PORT + 2)))
else GREGOR_PORTS=("${FREE[@]:4:3}"); fi

read -r -a JVM_OPTS <<<"$KAFKA_JVM_PERFORMANCE_OPTS"
read -r -a HEAP_OPTS <<<"$KAFKA_HEAP_OPTS"
# Kafka's tools as bin/kafka-*-perf-test.sh run them (512 MB heap), logging
# warnings only, as config/tools-log4j.properties does.
cat >"$WORK/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
TOOL=(java -Xmx512M "${JVM_OPTS[@]}" "-Dlog4j.configuration=file:$WORK/tools-log4j.properties" -cp "$KAFKA_LIB/*")

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# Sum over pids of utime+stime (clock ticks) and of VmRSS (kB).
cpu_ticks() {
  local t=0 pid
  for pid in "$@"; do t=$((t + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }'))); done
  echo "$t"
}
rss_kb() {
  local t=0 pid
  for pid in "$@"; do t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"))); done
  echo "$t"
}
alive() { local pid; for pid in "$@"; do ours "$pid" || return 1; done; }

# Runs one tool bounded by LOAD_TIMEOUT, output in $RUN.{cmd,out,err}; in the
# background so that Ctrl-C interrupts the wait and the trap ends it.
RUNS=0
run_tool() { # tag command...
  local tag=$1 pid rc=0
  shift
  RUNS=$((RUNS + 1))
  RUN=$WORK/runs/$(printf %02d "$RUNS")-$tag
  printf '%q ' "$@" >"$RUN.cmd"
  timeout -k 10 "$LOAD_TIMEOUT" "$@" >"$RUN.out" 2>"$RUN.err" </dev/null &
  pid=$!
  STARTED[$pid]=TERM
  wait "$pid" || rc=$?
  unset "STARTED[$pid]"
  return "$rc"
}

ZK_DIR=$WORK/zookeeper
mkdir -p "$ZK_DIR/data"
sed -e "s|@DATA_DIR@|$ZK_DIR/data|" -e "s|@CLIENT_PORT@|$ZK_PORT|" zk/zoo.cfg.template >"$ZK_DIR/zoo.cfg"
zk/run-node.sh "$ZK_DIR/zoo.cfg" >"$ZK_DIR/node.log" 2>&1 </dev/null &
STARTED[$!]=TERM
ZK_PID=$!
zk_serving() {
  local answer
  answer=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf srvr >&3 && cat <&3' "$ZK_PORT" 2>/dev/null) &&
    grep -q '^Mode: standalone' <<<"$answer"
}
deadline=$((SECONDS + START_TIMEOUT))
until zk_serving; do
  alive "$ZK_PID" || die "ZooKeeper exited: $(tail -5 "$ZK_DIR/node.log")"
  [ $SECONDS -lt $deadline ] || die "ZooKeeper not serving on $ZK_PORT after ${START_TIMEOUT}s"
  sleep 0.1
done

# One cluster's brokers: kafka or gregor, n of them, on their chroot.
declare -A PIDS=() BOOT=() STARTUP=() RSS_IDLE=()
start_cluster() { # side n
  local side=$1 n=$2 i port dir pid t0 chroot=/$1 all_pids=() ports metadata
  [ "$n" -gt 1 ] && chroot=/$1-$n
  if [ "$side" = kafka ]; then ports=("${KAFKA_PORTS[@]}"); else ports=("${GREGOR_PORTS[@]}"); fi
  BOOT[$side]=""
  t0=$(now_ms)
  for i in $(seq 1 "$n"); do
    port=${ports[$((i - 1))]}
    dir=$WORK/$side-$n-$i
    mkdir -p "$dir/data"
    # The settings of Kafka's config/server.properties that differ from
    # the defaults, for both.
    cat >"$dir/server.properties" <<EOF
broker.id=$i
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$dir/data
zookeeper.connect=127.0.0.1:$ZK_PORT$chroot
num.partitions=$PARTITIONS
default.replication.factor=$n
offsets.topic.replication.factor=$n
group.initial.rebalance.delay.ms=0
EOF
    if [ "$side" = kafka ]; then
      java "${HEAP_OPTS[@]}" "${JVM_OPTS[@]}" \
        "-Dlog4j.configuration=file:$ROOT/integration-tests/kafka/log4j.properties" \
        -cp "$KAFKA_LIB/*" kafka.Kafka "$dir/server.properties" >"$dir/broker.log" 2>&1 </dev/null &
    else
      RUST_LOG=${GREGOR_RUST_LOG:-info} "$GREGOR" broker --config "$dir/server.properties" \
        >"$dir/broker.log" 2>&1 </dev/null &
    fi
    pid=$!
    STARTED[$pid]=KILL
    all_pids+=("$pid")
    BOOT[$side]+="${BOOT[$side]:+,}127.0.0.1:$port"
  done
  PIDS[$side]="${all_pids[*]}"
  # Serving: a Metadata answer (kcat -L, after ApiVersions) that lists the
  # broker itself and all n brokers, which a Kafka broker does once the
  # controller has told it about the live brokers.
  deadline=$((SECONDS + START_TIMEOUT))
  for i in $(seq 1 "$n"); do
    port=${ports[$((i - 1))]}
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
      metadata=$(timeout 10 kcat -b "127.0.0.1:$port" -L -m 5 2>/dev/null) &&
      grep -q "^ $n brokers:" <<<"$metadata" && grep -q " broker $i at " <<<"$metadata"; do
      alive "${all_pids[$((i - 1))]}" ||
        die "$side broker $i exited while starting: $(tail -5 "$WORK/$side-$n-$i/broker.log")"
      [ $SECONDS -lt $deadline ] || die "$side broker $i not serving after ${START_TIMEOUT}s"
      sleep 0.05
    done
  done
  STARTUP[$side]=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')
}
stop_cluster() { # side
  local pid
  for pid in ${PIDS[$1]}; do
    {
      if ours "$pid"; then kill -KILL "$pid"; fi
      wait "$pid" || true
    } 2>/dev/null
    unset "STARTED[$pid]"
  done
}
create_topic() { # side topic partitions replication-factor
  run_tool "create-$2-$1" "$GREGOR" topics create -b "${BOOT[$1]}" --topic "$2" \
    --partitions "$3" --replication-factor "$4" ||
    die "could not create topic $2 on $1: $(cat "$RUN.err")"
}

# Results: V[side|key] a figure (or FAIL), CPU[side|key] s per M records.
declare -A V=() CPU=()
ROWS=()
fail() { # side key what
  V[$1|$2]=FAIL
  FAILURES+=("$1, $2: $3 (command: $(cat "$RUN.cmd"); output: $RUN.{out,err})")
}
# Runs the tool against side, with CPU accounting over `records` records.
# Returns non-zero (and records the failure) if the tool failed or printed
# an exception, or if a broker died.
measured() { # side key records tag command...
  local side=$1 key=$2 records=$3 before after rc=0 errors
  shift 3
  # shellcheck disable=SC2086
  if ! alive ${PIDS[$side]}; then
    V[$side|$key]=DEAD
    FAILURES+=("$side, $key: a broker had exited before the load")
    return 1
  fi
  # shellcheck disable=SC2086
  before=$(cpu_ticks ${PIDS[$side]})
  run_tool "$@" || rc=$?
  # shellcheck disable=SC2086
  if ! alive ${PIDS[$side]}; then
    fail "$side" "$key" "a broker exited during the load"
    return 1
  fi
  # shellcheck disable=SC2086
  after=$(cpu_ticks ${PIDS[$side]})
  CPU[$side|$key]=$(awk -v d=$((after - before)) -v hz="$HZ" -v n="$records" \
    'BEGIN { printf "%.1f", d / hz / (n / 1e6) }')
  if [ "$rc" -ne 0 ]; then
    fail "$side" "$key" "exit status $rc$([ "$rc" -eq 124 ] && echo " (timed out after ${LOAD_TIMEOUT}s)"); $(grep -m 3 -iE 'error|exception|warn' "$RUN.err" "$RUN.out" | tr '\n' ' ')"
    return 1
  fi
  errors=$(grep -ciE 'exception' "$RUN.err" || true)
  if [ "$errors" -gt 0 ]; then
    fail "$side" "$key" "$errors exception lines, first: $(grep -m 1 -iE 'exception' "$RUN.err")"
    return 1
  fi
}
# A row of the table: label, then the figure key of each side, and the key
# whose CPU figure goes beside it (empty: none).
row() { ROWS+=("$1|$2|$3"); }

producer_perf() { # n tag key records acks throughput props...
  local n=$1 tag=$2 key=$3 records=$4 acks=$5 throughput=$6 side line rate avg p50 p99 p999
  shift 6
  for side in kafka gregor; do
    create_topic "$side" "$tag" "$PARTITIONS" "$n"
    measured "$side" "$key" "$records" "$tag-$side" "${TOOL[@]}" org.apache.kafka.tools.ProducerPerformance \
      --topic "$tag" --num-records "$records" --record-size "$RECORD_SIZE" --throughput "$throughput" \
      --producer-props "bootstrap.servers=${BOOT[$side]}" "acks=$acks" "$@" || continue
    # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max
    # latency, P ms 50th, P ms 95th, P ms 99th, P ms 99.9th."
    line=$(sed -n -E 's/^[0-9]+ records sent, ([0-9.]+) records\/sec .*, ([0-9.]+) ms avg latency, [0-9.]+ ms max latency, ([0-9]+) ms 50th, [0-9]+ ms 95th, ([0-9]+) ms 99th, ([0-9]+) ms 99.9th.*/\1 \2 \3 \4 \5/p' "$RUN.out" | tail -n 1)
    [ -n "$line" ] || { fail "$side" "$key" "no final line"; continue; }
    read -r rate avg p50 p99 p999 <<<"$line"
    V[$side|$key]=$(printf %.0f "$rate")
    V[$side|$key-avg]=$avg
    V[$side|$key-p50]=$p50
    V[$side|$key-p99]=$p99
    V[$side|$key-p999]=$p999
  done
}

gregor_perf() { # n tag key acks
  local n=$1 tag=$2 key=$3 acks=$4 side line p50 p99 p999
  for side in kafka gregor; do
    create_topic "$side" "$tag" "$PARTITIONS" "$n"
    measured "$side" "$key" "$RATE_RECORDS" "$tag-$side" "$GREGOR" perf produce -b "${BOOT[$side]}" \
      --topic "$tag" --num-records "$RATE_RECORDS" --record-size "$RECORD_SIZE" \
      --throughput "$RATE" --acks "$acks" || continue
    line=$(sed -n -E 's/.* ([0-9.]+) ms 50th, [0-9.]+ ms 95th, ([0-9.]+) ms 99th, ([0-9.]+) ms 99.9th.*/\1 \2 \3/p' "$RUN.out" | tail -n 1)
    [ -n "$line" ] || { fail "$side" "$key" "no final line"; continue; }
    read -r p50 p99 p999 <<<"$line"
    V[$side|$key-p50]=$p50
    V[$side|$key-p99]=$p99
    V[$side|$key-p999]=$p999
  done
}

consumer_perf() { # tag key records
  local tag=$1 key=$2 records=$3 side
  for side in kafka gregor; do
    measured "$side" "$key" "$records" "consume-$tag-$side" "${TOOL[@]}" kafka.tools.ConsumerPerformance \
      --bootstrap-server "${BOOT[$side]}" --topic "$tag" --messages "$records" \
      --group "perf-$tag" --timeout 30000 --hide-header || continue
    if grep -q 'Exiting before consuming' "$RUN.out" "$RUN.err"; then
      fail "$side" "$key" "$(grep -h -m 1 'Exiting before consuming' "$RUN.out" "$RUN.err")"
      continue
    fi
    # start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms,
    # fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    V[$side|$key]=$(tail -n 1 "$RUN.out" | awk -F', *' '{ printf "%.0f", $10 }')
  done
}

end_to_end() { # n tag key acks
  local n=$1 tag=$2 key=$3 acks=$4 side line p50 p99 p999
  for side in kafka gregor; do
    create_topic "$side" "$tag" 1 "$n"
    measured "$side" "$key" "$E2E_RECORDS" "$tag-$side" "${TOOL[@]}" kafka.tools.EndToEndLatency \
      "${BOOT[$side]}" "$tag" "$E2E_RECORDS" "$acks" "$RECORD_SIZE" || continue
    V[$side|$key-avg]=$(sed -n 's/^Avg latency: \([0-9.]*\) ms.*/\1/p' "$RUN.out")
    line=$(sed -n 's/^Percentiles: 50th = \([0-9]*\), 99th = \([0-9]*\), 99.9th = \([0-9]*\).*/\1 \2 \3/p' "$RUN.out")
    [ -n "$line" ] || { fail "$side" "$key" "no percentiles line"; continue; }
    read -r p50 p99 p999 <<<"$line"
    V[$side|$key-p50]=$p50
    V[$side|$key-p99]=$p99
    V[$side|$key-p999]=$p999
  done
}

run_cluster() { # n
  local n=$1 c="$1b" side acks_list=(1 all) acks
  [ "$n" -gt 1 ] && acks_list=(all)
  echo "== $n broker(s) of each" >&2
  for side in kafka gregor; do
    start_cluster "$side" "$n"
    V[$side|$c-start]=${STARTUP[$side]}
    # shellcheck disable=SC2086
    V[$side|$c-rss0]=$(($(rss_kb ${PIDS[$side]}) / 1024))
    echo "   $side serving after ${STARTUP[$side]} s" >&2
  done
  local label="$n broker$([ "$n" -gt 1 ] && echo "s RF $n")"
  row "[$label] start to serving (s)" "$c-start" ""
  row "[$label] RSS once serving (MiB)" "$c-rss0" ""
  for acks in "${acks_list[@]}"; do
    echo "   produce, Java producer defaults, acks=$acks" >&2
    producer_perf "$n" "def-$n-$acks" "$c-def-$acks" "$RECORDS" "$acks" -1
    row "[$label] produce rec/s, defaults, acks=$acks" "$c-def-$acks" "$c-def-$acks"
  done
  for acks in "${acks_list[@]}"; do
    echo "   produce, linger.ms=5 batch.size=1000000, acks=$acks" >&2
    producer_perf "$n" "lib-$n-$acks" "$c-lib-$acks" "$RECORDS" "$acks" -1 linger.ms=5 batch.size=1000000
    row "[$label] produce rec/s, linger 5ms batch 1MB, acks=$acks" "$c-lib-$acks" "$c-lib-$acks"
  done
  echo "   consume" >&2
  consumer_perf "lib-$n-${acks_list[0]}" "$c-consume" "$RECORDS"
  row "[$label] consume rec/s (ConsumerPerformance, fetch)" "$c-consume" "$c-consume"
  acks=${acks_list[0]}
  echo "   one-record requests at $RATE/s, acks=$acks" >&2
  producer_perf "$n" "rate-$n" "$c-rate" "$RATE_RECORDS" "$acks" "$RATE"
  row "[$label] $RATE rec/s acks=$acks: avg latency (ms)" "$c-rate-avg" "$c-rate"
  row "[$label] $RATE rec/s acks=$acks: p50 latency (ms)" "$c-rate-p50" ""
  row "[$label] $RATE rec/s acks=$acks: p99 latency (ms)" "$c-rate-p99" ""
  row "[$label] $RATE rec/s acks=$acks: p99.9 latency (ms)" "$c-rate-p999" ""
  echo "   the same with gregor perf produce" >&2
  gregor_perf "$n" "grate-$n" "$c-grate" "$acks"
  row "[$label] same, gregor perf produce: p50 (ms)" "$c-grate-p50" "$c-grate"
  row "[$label] same, gregor perf produce: p99 (ms)" "$c-grate-p99" ""
  row "[$label] same, gregor perf produce: p99.9 (ms)" "$c-grate-p999" ""
  echo "   end-to-end latency, acks=$acks" >&2
  end_to_end "$n" "e2e-$n" "$c-e2e" "$acks"
  row "[$label] end-to-end acks=$acks: avg (ms)" "$c-e2e-avg" "$c-e2e"
  row "[$label] end-to-end acks=$acks: p50 (ms)" "$c-e2e-p50" ""
  row "[$label] end-to-end acks=$acks: p99 (ms)" "$c-e2e-p99" ""
  row "[$label] end-to-end acks=$acks: p99.9 (ms)" "$c-e2e-p999" ""
  for side in kafka gregor; do
    # shellcheck disable=SC2086
    if alive ${PIDS[$side]}; then
      V[$side|$c-rss1]=$(($(rss_kb ${PIDS[$side]}) / 1024))
    else V[$side|$c-rss1]=DEAD; fi
    stop_cluster "$side"
  done
  row "[$label] RSS after the loads (MiB)" "$c-rss1" ""
}

for n in $CLUSTERS; do run_cluster "$n"; done

ratio() {
  awk -v k="$1" -v g="$2" 'BEGIN {
    if (k ~ /^[0-9.]+$/ && g ~ /^[0-9.]+$/ && k + 0 > 0 && g + 0 > 0) printf "%.2f", g / k; else printf "-" }'
}
echo
echo "gregor vs Apache Kafka 2.8.2: $RECORDS records of $RECORD_SIZE bytes per throughput load, $PARTITIONS partitions,"
echo "fixed rate $RATE_RECORDS records at $RATE/s, end-to-end $E2E_RECORDS records; $(nproc) cores, one ZooKeeper."
echo "Kafka: java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ($(java -version 2>&1 | head -n 1))."
echo "Clients: Kafka 2.8.2's ProducerPerformance, ConsumerPerformance and EndToEndLatency (-Xmx512M), and gregor perf produce."
echo "CPU: broker CPU seconds (user+system) per million records of that load, summed over the cluster."
fmt='%-62s %10s %10s %6s %8s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" load Kafka gregor g/K "K CPU/M" "g CPU/M"
for r in "${ROWS[@]}"; do
  IFS='|' read -r label key cpu <<<"$r"
  k=${V[kafka|$key]:--}
  g=${V[gregor|$key]:--}
  kc=-
  gc=-
  if [ -n "$cpu" ]; then
    kc=${CPU[kafka|$cpu]:--}
    gc=${CPU[gregor|$cpu]:--}
  fi
  # shellcheck disable=SC2059
  printf "$fmt" "$label" "$k" "$g" "$(ratio "$k" "$g")" "$kc" "$gc"
done
if [ ${#FAILURES[@]} -gt 0 ]; then
  echo
  echo "failures:"
  printf '  %s\n' "${FAILURES[@]}"
  exit 1
fi
