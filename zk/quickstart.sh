#!/usr/bin/env bash
# One-command local cluster: installs ZooKeeper if missing, starts the
# 3-node ensemble from zk/ensemble.sh, builds gregor, starts a broker on
# loopback, and prints the bootstrap address. Safe to run again: what is
# already running is left alone. `bash zk/quickstart.sh stop` stops it all
# and keeps the data (under $GREGOR_HOME, default ~/.gregor).
#
# One broker for now: several brokers need the controller, which assigns
# partitions across them.
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR="${GREGOR_HOME:-$HOME/.gregor}"
ZK_BASE_PORT="${ZK_BASE_PORT:-2181}"
BROKER_PORT="${BROKER_PORT:-9092}"
BROKER_PID="$HOME_DIR/broker-1/broker.pid"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${1:-start}" = stop ]; then
  if running "$BROKER_PID"; then
    kill -TERM "$(cat "$BROKER_PID")"
    for _ in $(seq 1 100); do running "$BROKER_PID" || break; sleep 0.1; done
  fi
  rm -f "$BROKER_PID"
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
mkdir -p "$HOME_DIR/broker-1"
bash zk/ensemble.sh start --dir "$HOME_DIR/zk" --base-port "$ZK_BASE_PORT"
ZK="127.0.0.1:$ZK_BASE_PORT,127.0.0.1:$((ZK_BASE_PORT + 1)),127.0.0.1:$((ZK_BASE_PORT + 2))/gregor"

cargo build --release --bin gregor
BIN="${CARGO_TARGET_DIR:-target}/release/gregor"

if ! running "$BROKER_PID"; then
  cat > "$HOME_DIR/broker-1/server.properties" <<PROPS
broker.id=1
listeners=PLAINTEXT://127.0.0.1:$BROKER_PORT
log.dirs=$HOME_DIR/broker-1/logs
zookeeper.connect=$ZK
PROPS
  nohup "$BIN" broker --config "$HOME_DIR/broker-1/server.properties" \
    >> "$HOME_DIR/broker-1/broker.log" 2>&1 &
  echo $! > "$BROKER_PID"
  for _ in $(seq 1 300); do
    grep -q "serving on" "$HOME_DIR/broker-1/broker.log" 2>/dev/null && break
    running "$BROKER_PID" || { tail -20 "$HOME_DIR/broker-1/broker.log"; exit 1; }
    sleep 0.1
  done
fi
echo
echo "bootstrap: 127.0.0.1:$BROKER_PORT   (ZooKeeper: $ZK)"
echo "try:       kcat -b 127.0.0.1:$BROKER_PORT -L"
echo "logs:      $HOME_DIR/broker-1/broker.log"
echo "stop:      bash zk/quickstart.sh stop"
