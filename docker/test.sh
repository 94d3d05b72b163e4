#!/usr/bin/env bash
# The docker/ end-to-end test, from nothing to a killed partition leader:
#
#   1. installs docker.io, docker-compose and debootstrap (and kcat) if missing;
#   2. starts dockerd in the background if no daemon answers;
#   3. makes debian:bookworm-slim with debootstrap if it is not there
#      (registries cannot be reached from every machine gregor is tested on);
#   4. builds gregor (cargo, release) and the broker and ZooKeeper images;
#   5. brings docker/compose.yaml up (3 ZooKeeper nodes, 3 brokers) and waits
#      until every container is healthy and every broker registered;
#   6. produces 10,000 records with kcat from the host (acks=all, topic with
#      replication factor 3) and reads them all back;
#   7. reads the leader of partition 0 with zkCli inside a ZooKeeper
#      container, kills that broker's container (SIGKILL), waits until zkCli
#      shows another leader, reads every acknowledged record back, and
#      checks that the cluster still takes acks=all writes;
#   8. `down -v`, and stops the dockerd it started.
#
# Where no Docker engine can be started at all (every dockerd configuration
# below fails), it says so in one line, with dockerd's last log line, and
# exits 0 without claiming a pass.
#
# Every wait is a bounded poll, every command runs within what is left of
# DOCKER_TEST_TIMEOUT (seconds, default 1200), and a failure at any point
# still removes the containers and volumes, stops the dockerd this script
# started and deletes its temporary files. Each step prints its duration.
#
# Usage: bash docker/test.sh   (as root, or as a user with sudo)
set -euo pipefail
cd "$(dirname "$0")/.."

readonly PROJECT=gregor-docker-test
readonly TOPIC=docker-test
readonly RECORDS=10000
readonly MORE_RECORDS=1000
readonly BOOTSTRAP=127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094
# The brokers' chroot in ZooKeeper: KAFKA_ZOOKEEPER_CONNECT in compose.yaml.
readonly CHROOT=/gregor
readonly BASE_IMAGE=debian:bookworm-slim

SECONDS=0
deadline=$((SECONDS + ${DOCKER_TEST_TIMEOUT:-1200}))
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
tmp=$(mktemp -d /tmp/gregor-docker-test.XXXXXX)
dockerd_pid=""
# Set when the test cannot run on this machine at all (no Docker engine).
skipped=""
compose_up=false
step_name=""
step_start=0
timings=()

log() { echo "docker/test.sh [${SECONDS}s] $*"; }
fail() {
  log "FAILED: $*" >&2
  exit 1
}

check_deadline() {
  ((SECONDS < deadline)) || fail "DOCKER_TEST_TIMEOUT reached during: $step_name"
}

# Runs a command, killed if it outlives the overall deadline.
bounded() {
  check_deadline
  timeout --kill-after=10 $((deadline - SECONDS)) "$@"
}

# Records the current step's duration; $1 (default "done") says how it ended.
end_step() {
  local outcome=${1:-done}
  if [[ -n $step_name ]]; then
    timings+=("$(printf '%5ss  %s' $((SECONDS - step_start)) "$step_name${1:+ ($outcome)}")")
    log "$outcome: $step_name ($((SECONDS - step_start))s)"
  fi
  step_name=""
}

step() {
  end_step
  step_name=$1
  step_start=$SECONDS
  log "step: $step_name"
}

# Polls `"$@"` every second for at most $1 seconds (and never past the
# deadline) until it succeeds.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local until=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < until)) || fail "timed out after ${limit}s waiting for $what"
    check_deadline
    sleep 1
  done
}

cleanup() {
  local status=$?
  set +e
  ((status == 0)) || end_step failed
  if $compose_up; then
    if ((status != 0)); then
      log "container states and recent logs, for the failure above:"
      "${compose[@]}" ps
      "${compose[@]}" logs --no-color --tail=40
    fi
    log "compose down -v"
    timeout 120 "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 ||
      log "compose down failed"
  fi
  if [[ -n $dockerd_pid ]]; then
    log "stopping the dockerd this script started (pid $dockerd_pid)"
    $SUDO kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 30); do
      $SUDO kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 1
    done
    $SUDO kill -KILL "$dockerd_pid" 2>/dev/null
  fi
  $SUDO rm -rf "$tmp"
  end_step # the last one, "stop dockerd", ends here
  log "step timings:"
  printf '  %s\n' "${timings[@]}"
  # The closing line in the plain form CI's log reader counts.
  if [[ -n $skipped ]]; then
    log "SKIPPED, nothing tested: $skipped"
  elif ((status == 0)); then
    log "PASSED in ${SECONDS}s"
    echo "docker/test.sh: 1 passed, 0 failed"
  else
    log "FAILED (exit $status) after ${SECONDS}s" >&2
    echo "docker/test.sh: 0 passed, 1 failed"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. packages -------------------------------------------------------------
step "install docker.io, docker-compose, debootstrap, kcat if missing"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || need+=(debootstrap)
command -v kcat >/dev/null || need+=(kcat)
if ((${#need[@]} > 0)); then
  log "installing: ${need[*]}"
  apt_opts=(-o DPkg::Lock::Timeout=600 -qq)
  { bounded $SUDO apt-get "${apt_opts[@]}" update &&
    bounded $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y "${need[@]}"; } \
    >"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log" >&2; fail "apt-get install ${need[*]}"; }
fi
if command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  compose_cmd=(docker compose)
fi

# --- 2. dockerd --------------------------------------------------------------
step "docker daemon"
as_docker_user=()
docker=(docker)
daemon_answers() { timeout 10 "${docker[@]}" info >/dev/null 2>&1; }
if [[ -n $SUDO ]] && ! daemon_answers; then
  # A daemon may answer root only (and the one started below does).
  as_docker_user=(sudo)
  docker=(sudo docker)
fi
if daemon_answers; then
  log "using the running daemon"
else
  # dockerd in the background, with what this machine supports, in order
  # of preference:
  #  - the defaults: overlay2 and iptables rules for the bridge networks
  #    (forwarding, NAT, published ports). They work on these machines: the
  #    kernel has overlayfs and netfilter, and dockerd runs as root.
  #  - --iptables=false, where netfilter cannot be used at all: compose's
  #    bridge network still connects the containers (nothing filters it
  #    there), docker-proxy still publishes the ports on 127.0.0.1, and the
  #    image builds below use the host's network, so nothing needs NAT. (On
  #    a machine with netfilter it is no help: bridged traffic then meets
  #    the FORWARD chain without Docker's ACCEPT rules.)
  #  - vfs, where overlay2 cannot mount (an overlay root, say): it works
  #    here too, only slower and bigger, as every layer is a full copy.
  for flags in "" "--iptables=false" "--storage-driver=vfs" "--storage-driver=vfs --iptables=false"; do
    log "starting dockerd ${flags:-(defaults)}"
    # shellcheck disable=SC2086 # $flags is a list of options
    $SUDO dockerd $flags >"$tmp/dockerd.log" 2>&1 &
    dockerd_pid=$!
    started=false
    for _ in $(seq 60); do
      if daemon_answers; then
        started=true
        break
      fi
      $SUDO kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 1
    done
    if $started; then break; fi
    log "dockerd ${flags:-(defaults)} did not come up; its log ends with:"
    tail -5 "$tmp/dockerd.log" >&2
    $SUDO kill -TERM "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
    dockerd_pid=""
  done
  if [[ -z $dockerd_pid ]]; then
    # Not a failure of gregor's images: this machine cannot run containers
    # at all. Say so plainly, claim no pass, and let the caller go on.
    skipped="no Docker engine can be started on this machine: $(tail -1 "$tmp/dockerd.log")"
    exit 0
  fi
  # With sudo, `$!` is sudo's pid; dockerd's is in its pid file.
  if [[ -n $SUDO ]]; then dockerd_pid=$($SUDO cat /var/run/docker.pid); fi
fi
"${docker[@]}" info --format 'daemon {{.ServerVersion}}, storage {{.Driver}}, cgroup {{.CgroupDriver}}' |
  sed 's/^/  /'
# The legacy builder: the buildx plugin is not packaged with docker.io.
export DOCKER_BUILDKIT=0
compose=("${as_docker_user[@]}" "${compose_cmd[@]}" -p "$PROJECT" -f docker/compose.yaml)

# --- 3. base image -----------------------------------------------------------
step "base image $BASE_IMAGE"

# The first configured mirror carrying `suite` (main archive or security),
# from one-line (sources.list) or deb822 (*.sources) apt sources.
mirror_for() {
  local suite=$1
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v s="$suite" '$1 == "deb" { u = ($2 ~ /^\[/) ? $3 : $2; t = ($2 ~ /^\[/) ? $4 : $3; if (t == s) { print u; exit } }'
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v s="$suite" '
      /^[[:space:]]*$/ { if (ok && uri) { print uri; exit } ok = 0; uri = ""; next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { if (ok && uri) print uri }' "$f"
  done
}

if "${docker[@]}" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE is present"
else
  mirror=$(mirror_for bookworm | head -n1)
  security=$(mirror_for bookworm-security | head -n1)
  mirror=${mirror:-http://deb.debian.org/debian}
  log "debootstrap --variant=minbase bookworm from $mirror"
  rootfs=$tmp/rootfs
  bounded $SUDO debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log" >&2; fail "debootstrap"; }
  # Trimmed like Debian's official slim image: no package caches, lists,
  # documentation or translations, and apt and dpkg told to keep it so.
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    if [[ -n $security ]]; then echo "deb $security bookworm-security main"; fi
  } | $SUDO tee "$rootfs/etc/apt/sources.list" >/dev/null
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' |
    $SUDO tee "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" >/dev/null
  echo 'APT::Install-Recommends "false";' | $SUDO tee "$rootfs/etc/apt/apt.conf.d/docker-no-recommends" >/dev/null
  $SUDO find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  $SUDO rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/*
  $SUDO tar -C "$rootfs" -c . | bounded "${docker[@]}" import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  $SUDO rm -rf "$rootfs"
  "${docker[@]}" image ls "$BASE_IMAGE" --format '  {{.Repository}}:{{.Tag}} {{.Size}}'
fi

# --- 4. gregor and the images ------------------------------------------------
step "cargo build --release --bin gregor"
bounded cargo build --release --bin gregor --quiet
binary=${CARGO_TARGET_DIR:-target}/release/gregor
[[ -x $binary ]] || fail "no binary at $binary"

step "docker build: gregor-zookeeper, gregor"
# docker build `tag` `context`, its output shown only if it fails. With the
# host's network: package downloads need no NAT (see the dockerd fallbacks).
build_image() {
  bounded "${docker[@]}" build --network host -t "$1" "$2" >"$tmp/build.log" 2>&1 ||
    { tail -40 "$tmp/build.log" >&2; fail "docker build -t $1"; }
}
build_image gregor-zookeeper:latest docker/zookeeper
# The broker's build context: its directory plus the binary.
cp -r docker/broker "$tmp/broker-context"
cp "$binary" "$tmp/broker-context/gregor"
build_image gregor:latest "$tmp/broker-context"
"${docker[@]}" image ls --format '  {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^  gregor' || true

# --- 5. the cluster ----------------------------------------------------------
step "compose up, wait for health and broker registrations"
compose_up=true
# Whatever an interrupted earlier run left (its containers, and volumes
# holding its records) goes first.
bounded "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1
bounded "${compose[@]}" up -d --no-build >"$tmp/up.log" 2>&1 ||
  { cat "$tmp/up.log" >&2; fail "compose up"; }

all_healthy() {
  local ids id health
  ids=$("${compose[@]}" ps -q)
  [[ $(wc -w <<<"$ids") == 6 ]] || return 1
  for id in $ids; do
    health=$("${docker[@]}" inspect -f '{{.State.Health.Status}}' "$id")
    [[ $health == healthy ]] || return 1
  done
}
wait_for 180 "6 healthy containers" all_healthy

# zkCli.sh inside the zoo1 container; prints the data of `path`.
zk_get() {
  bounded "${compose[@]}" exec -T zoo1 zkCli.sh -server localhost:2181 get "$1" 2>/dev/null |
    grep -E '^[[{0-9]' | tail -n1
}
zk_ls() {
  bounded "${compose[@]}" exec -T zoo1 zkCli.sh -server localhost:2181 ls "$1" 2>/dev/null |
    grep '^\[' | tail -n1
}
registered() { [[ $(zk_ls "$CHROOT/brokers/ids") == "[1, 2, 3]" ]]; }
wait_for 60 "brokers 1, 2, 3 in $CHROOT/brokers/ids" registered
log "controller: $(zk_get "$CHROOT/controller")"
# Asked on the EXTERNAL listener, the brokers give their EXTERNAL addresses
# (the INTERNAL ones, broker<N>:9092, do not resolve on the host).
metadata=$(bounded kcat -L -b 127.0.0.1:19092)
for id in 1 2 3; do
  grep -q "broker $id at 127.0.0.1:$((19091 + id))" <<<"$metadata" ||
    fail "kcat -L does not list broker $id at its EXTERNAL address: $metadata"
done

# --- 6. produce and consume ----------------------------------------------------
step "produce $RECORDS records with kcat (acks=all)"
seq -f 'record-%05g' 1 "$RECORDS" >"$tmp/produced"
# Auto-created on first use with the brokers' defaults: 3 partitions,
# replication factor 3, min.insync.replicas 2. kcat exits non-zero unless
# every record was acknowledged.
produce() {
  bounded kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -X acks=all -l "$1"
}
produce "$tmp/produced"
assignment=$(zk_get "$CHROOT/brokers/topics/$TOPIC")
log "topic: $assignment"
for p in 0 1 2; do
  [[ $assignment =~ \"$p\":\[[123],[123],[123]\] ]] || fail "partition $p does not have 3 replicas"
done

# Every record of the topic, one per line, sorted.
consume_all() {
  bounded kcat -C -b "$1" -t "$TOPIC" -o beginning -e -q -f '%s\n' | sort
}
# Checks that exactly the records of file $2 can be read through bootstrap $1.
check_read_back() {
  consume_all "$1" >"$tmp/consumed"
  local count
  count=$(wc -l <"$tmp/consumed")
  sort "$2" | cmp -s - "$tmp/consumed" ||
    fail "read back $count records, expected the $(wc -l <"$2") acknowledged ones"
  log "read back all $count records"
}
step "consume them back"
check_read_back "$BOOTSTRAP" "$tmp/produced"

# --- 7. kill the leader of partition 0 -----------------------------------------
step "kill the leader of partition 0, watch it move in zkCli"
state_path=$CHROOT/brokers/topics/$TOPIC/partitions/0/state
leader_of() { sed -n 's/.*"leader":\([0-9-]*\).*/\1/p' <<<"$1"; }
state=$(zk_get "$state_path")
old_leader=$(leader_of "$state")
[[ $old_leader =~ ^[123]$ ]] || fail "no leader in $state_path: $state"
log "before: $state"
bounded "${compose[@]}" kill -s SIGKILL "broker$old_leader" >/dev/null 2>&1
log "killed broker$old_leader"
leader_moved() {
  state=$(zk_get "$state_path")
  local leader
  leader=$(leader_of "$state")
  [[ $leader =~ ^[123]$ && $leader != "$old_leader" ]]
}
wait_for 90 "a new leader of partition 0" leader_moved
log "after:  $state"

survivors=()
for id in 1 2 3; do
  if [[ $id != "$old_leader" ]]; then survivors+=("127.0.0.1:$((19091 + id))"); fi
done
live_bootstrap=$(IFS=','; echo "${survivors[*]}")

step "read every acknowledged record back without broker$old_leader"
check_read_back "$live_bootstrap" "$tmp/produced"

step "produce $MORE_RECORDS more (acks=all, 2 in-sync replicas) and read all back"
seq -f 'record-%05g' $((RECORDS + 1)) $((RECORDS + MORE_RECORDS)) >"$tmp/more"
produce "$tmp/more"
cat "$tmp/produced" "$tmp/more" >"$tmp/all"
check_read_back "$live_bootstrap" "$tmp/all"

# --- 8. down -----------------------------------------------------------------
step "compose down -v"
bounded "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1
compose_up=false
if [[ -n $dockerd_pid ]]; then step "stop dockerd"; fi
