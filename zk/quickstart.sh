#!/usr/bin/env bash
# One-command local cluster: installs ZooKeeper if missing, starts the
# 3-node ensemble from zk/ensemble.sh, builds gregor, starts 3 brokers on
# loopback (ports 9092-9094 by default), and prints the bootstrap address.
# Safe to run again: what is already running is left alone.
# `bash zk/quickstart.sh stop` stops it all and keeps the data (under
# $GREGOR_HOME, default ~/.gregor); starting again brings the same topics
# and data back.
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR="${GREGOR_HOME:-$HOME/.gregor}"
ZK_BASE_PORT="${ZK_BASE_PORT:-2181}"
BROKER_BASE_PORT="${BROKER_BASE_PORT:-9092}"
BROKERS="${BROKERS:-3}"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
pid_file() { echo "$HOME_DIR/broker-$1/broker.pid"; }

if [ "${1:-start}" = stop ]; then
  # SIGTERM: each broker hands its leaderships over before it exits.
  for id in $(seq 1 "$BROKERS"); do
    if running "$(pid_file "$id")"; then
      kill -TERM "$(cat "$(pid_file "$id")")"
      for _ in $(seq 1 300); do running "$(pid_file "$id")" || break; sleep 0.1; done
    fi
    rm -f "$(pid_file "$id")"
  done
  bash zk/ensemble.sh stop --dir "$HOME_DIR/zk" --base-port "$ZK_BASE_PORT"
  echo "stopped; data kept in $HOME_DIR"
  exit 0
fi

if [ ! -x /usr/share/zookeeper/bin/zkServer.sh ]; then
  echo "installing ZooKeeper (Debian package)..."
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq zookeeper >/dev/null
fi
bash zk/ensemble.sh start --dir "$HOME_DIR/zk" --base-port "$ZK_BASE_PORT"
ZK="127.0.0.1:$ZK_BASE_PORT,127.0.0.1:$((ZK_BASE_PORT + 1)),127.0.0.1:$((ZK_BASE_PORT + 2))/gregor"

cargo build --release --bin gregor
BIN="$(realpath "${CARGO_TARGET_DIR:-target}/release/gregor")"
# The tools (`./gregor topics ...`, see README's tour) run from the
# repository root, as Kafka's `bin/kafka-topics.sh` run from its home.
ln -sf "$BIN" ./gregor

BOOTSTRAP=""
for id in $(seq 1 "$BROKERS"); do
  port=$((BROKER_BASE_PORT + id - 1))
  dir="$HOME_DIR/broker-$id"
  BOOTSTRAP="${BOOTSTRAP:+$BOOTSTRAP,}127.0.0.1:$port"
  running "$(pid_file "$id")" && continue
  mkdir -p "$dir"
  cat > "$dir/server.properties" <<PROPS
broker.id=$id
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$dir/logs
zookeeper.connect=$ZK
num.partitions=3
default.replication.factor=$BROKERS
PROPS
  nohup "$BIN" broker --config "$dir/server.properties" > "$dir/broker.log" 2>&1 &
  echo $! > "$(pid_file "$id")"
done
for id in $(seq 1 "$BROKERS"); do
  log="$HOME_DIR/broker-$id/broker.log"
  for _ in $(seq 1 300); do
    grep -q "serving on" "$log" 2>/dev/null && break
    running "$(pid_file "$id")" || { tail -20 "$log"; exit 1; }
    sleep 0.1
  done
done
echo
echo "bootstrap: $BOOTSTRAP   (ZooKeeper: $ZK)"
echo "try:       ./gregor cluster brokers   (or kcat -b $BOOTSTRAP -L)"
echo "logs:      $HOME_DIR/broker-<id>/broker.log"
echo "stop:      bash zk/quickstart.sh stop"
