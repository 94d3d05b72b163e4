#!/usr/bin/env bash
# A 3-node ZooKeeper ensemble on loopback for local gregor clusters.
#
#   zk/ensemble.sh start|stop|status [--dir DATA_DIR] [--base-port PORT]
#
# Node i (1..3) listens for clients on BASE+i-1 (2181-2183 by default), for
# followers on BASE+707+i-1 (2888-2890) and for leader election on
# BASE+1707+i-1 (3888-3890). Everything a node owns lives in DATA_DIR/node<i>/:
# zoo.cfg, data/myid, node.log and node.pid.
#
# start launches the nodes that are not already running (so running it twice
# is safe) and returns once every node answers `imok` and the ensemble has
# elected a leader, or fails after ZK_START_TIMEOUT seconds (default 60).
# stop ends exactly the processes recorded in the pid files.
# status prints each node's mode and exits non-zero unless all three serve.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
nodes=3
dir=${TMPDIR:-/tmp}/gregor-zk
base_port=2181
start_timeout=${ZK_START_TIMEOUT:-60}

usage() {
  echo "usage: $0 start|stop|status [--dir DATA_DIR] [--base-port PORT]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command=$1
shift
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=${2:?--dir needs a value}; shift 2 ;;
    --base-port) base_port=${2:?--base-port needs a value}; shift 2 ;;
    *) usage ;;
  esac
done
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)

client_port() { echo $((base_port + $1 - 1)); }
node_dir() { echo "$dir/node$1"; }

# Sends a four-letter word to a node and prints the answer (empty if the node
# does not answer within 2 s).
four_letter_word() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf %s "$1" >&3 && cat <&3' \
    "$(client_port "$1")" "$2" 2>/dev/null || true
}

# Prints the node's pid if the process recorded in its pid file is still the
# ZooKeeper we started with this node's config (a pid may have been reused).
running_pid() {
  local pid_file cfg pid
  pid_file="$(node_dir "$1")/node.pid"
  cfg="$(node_dir "$1")/zoo.cfg"
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$cfg" || return 1
  echo "$pid"
}

mode() { four_letter_word "$1" srvr | sed -n 's/^Mode: //p'; }

write_config() {
  local i=$1 d j
  d=$(node_dir "$i")
  mkdir -p "$d/data"
  echo "$i" >"$d/data/myid"
  sed -e "s|@DATA_DIR@|$d/data|" -e "s|@CLIENT_PORT@|$(client_port "$i")|" \
    "$here/zoo.cfg.template" >"$d/zoo.cfg"
  for j in $(seq 1 $nodes); do
    echo "server.$j=127.0.0.1:$((base_port + 707 + j - 1)):$((base_port + 1707 + j - 1))" >>"$d/zoo.cfg"
  done
}

start() {
  local i d pid deadline pending m
  for i in $(seq 1 $nodes); do
    if pid=$(running_pid "$i"); then
      echo "node $i already running (pid $pid)"
      continue
    fi
    write_config "$i"
    d=$(node_dir "$i")
    # setsid: the node outlives this script and the terminal's Ctrl-C.
    setsid "$here/run-node.sh" "$d/zoo.cfg" >"$d/node.log" 2>&1 </dev/null &
    echo $! >"$d/node.pid"
    echo "node $i started (pid $!, client port $(client_port "$i"), log $d/node.log)"
  done

  deadline=$((SECONDS + start_timeout))
  while :; do
    pending=""
    for i in $(seq 1 $nodes); do
      running_pid "$i" >/dev/null || { echo "node $i exited; see $(node_dir "$i")/node.log" >&2; exit 1; }
      m=$(mode "$i")
      [ "$(four_letter_word "$i" ruok)" = imok ] && { [ "$m" = leader ] || [ "$m" = follower ]; } ||
        pending="$pending $i"
    done
    [ -z "$pending" ] && break
    if [ $SECONDS -ge $deadline ]; then
      echo "ensemble not serving after ${start_timeout}s (nodes:$pending); logs in $dir/node*/node.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "ensemble serving: $(connect_string)"
}

connect_string() {
  local i s=""
  for i in $(seq 1 $nodes); do s="$s${s:+,}127.0.0.1:$(client_port "$i")"; done
  echo "$s"
}

stop() {
  local i pid deadline
  for i in $(seq 1 $nodes); do
    if pid=$(running_pid "$i"); then
      kill "$pid"
      # running_pid, not kill -0: an exited node may linger as a zombie.
      deadline=$((SECONDS + 10))
      while running_pid "$i" >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      if running_pid "$i" >/dev/null; then kill -9 "$pid"; fi
      echo "node $i stopped (pid $pid)"
    else
      echo "node $i not running"
    fi
    rm -f "$(node_dir "$i")/node.pid"
  done
}

status() {
  local i pid m all_serving=0
  for i in $(seq 1 $nodes); do
    if pid=$(running_pid "$i"); then
      m=$(mode "$i")
      echo "node $i: pid $pid, port $(client_port "$i"), mode ${m:-not serving}"
      [ -n "$m" ] || all_serving=1
    else
      echo "node $i: not running"
      all_serving=1
    fi
  done
  return $all_serving
}

case $command in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
