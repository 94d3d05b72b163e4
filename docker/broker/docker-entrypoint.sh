#!/bin/bash
# Configures gregor from the environment the way Confluent's cp-kafka image
# configures Kafka, so that an existing Kafka compose file works by swapping
# the image name, then execs the broker (as PID 1, so `docker stop`'s SIGTERM
# reaches it and it shuts down cleanly).
#
#   KAFKA_FOO_BAR=v           ->  foo.bar=v
#   KAFKA_FOO__BAR=v          ->  foo_bar=v     (double underscore)
#   KAFKA_FOO___BAR=v         ->  foo-bar=v     (triple underscore)
#
# As in cp-kafka: KAFKA_ZOOKEEPER_CONNECT and KAFKA_ADVERTISED_LISTENERS are
# required; KAFKA_LISTENERS defaults to the advertised listeners bound to
# 0.0.0.0; KAFKA_LOG_DIRS defaults to /var/lib/gregor/data; the old
# KAFKA_PORT / KAFKA_HOST / KAFKA_ADVERTISED_PORT / KAFKA_ADVERTISED_HOST are
# refused; the JVM and log4j variables (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...) are
# not broker properties and are skipped, except that KAFKA_LOG4J_ROOT_LOGLEVEL
# sets gregor's log level when RUST_LOG is not set. Keys gregor does not know
# are written anyway; the broker logs a warning for each and ignores it, as
# Kafka does.
#
# With arguments, runs them instead (`docker run gregor gregor --help`).
set -euo pipefail

if [[ $# -gt 0 ]]; then
  exec "$@"
fi

config=${GREGOR_CONFIG:-/etc/gregor/server.properties}

fail() {
  echo "docker-entrypoint: $*" >&2
  exit 1
}

[[ -n ${KAFKA_ZOOKEEPER_CONNECT:-} ]] || fail "KAFKA_ZOOKEEPER_CONNECT is required (e.g. zoo1:2181,zoo2:2181,zoo3:2181/gregor)"
[[ -n ${KAFKA_ADVERTISED_LISTENERS:-} ]] || fail "KAFKA_ADVERTISED_LISTENERS is required (e.g. PLAINTEXT://broker1:9092)"
for old in PORT HOST ADVERTISED_PORT ADVERTISED_HOST; do
  var=KAFKA_$old
  if [[ -n ${!var:-} ]]; then
    fail "$var is deprecated: use KAFKA_ADVERTISED_LISTENERS instead"
  fi
done

# Every advertised listener bound on all interfaces: NAME://host:port ->
# NAME://0.0.0.0:port.
if [[ -z ${KAFKA_LISTENERS:-} ]]; then
  bound=()
  IFS=',' read -ra advertised <<<"$KAFKA_ADVERTISED_LISTENERS"
  for listener in "${advertised[@]}"; do
    listener=${listener//[[:space:]]/}
    [[ $listener =~ ^([^:]+)://.*:([0-9]+)$ ]] || fail "bad listener in KAFKA_ADVERTISED_LISTENERS: $listener"
    bound+=("${BASH_REMATCH[1]}://0.0.0.0:${BASH_REMATCH[2]}")
  done
  KAFKA_LISTENERS=$(IFS=','; echo "${bound[*]}")
  export KAFKA_LISTENERS
fi
export KAFKA_LOG_DIRS=${KAFKA_LOG_DIRS:-/var/lib/gregor/data}

# Kafka's JVM and logging settings, which are not broker properties.
not_properties=" KAFKA_VERSION KAFKA_HEAP_OPTS KAFKA_LOG4J_OPTS KAFKA_OPTS KAFKA_JMX_OPTS \
KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS \
KAFKA_TOOLS_LOG4J_LOGLEVEL "

# KAFKA_FOO__BAR___BAZ -> foo_bar-baz: lower case; then `___` -> `-`,
# `__` -> `_` and the remaining single `_` -> `.` (cp-kafka's env_to_props).
property_name() {
  local name=${1#KAFKA_}
  name=${name,,}
  name=${name//___/-}
  name=${name//__/$'\x01'}
  name=${name//_/.}
  echo "${name//$'\x01'/_}"
}

{
  echo "# Written by docker-entrypoint.sh from the KAFKA_* environment variables."
  while IFS= read -r var; do
    [[ $not_properties == *" $var "* ]] && continue
    value=${!var}
    [[ $value != *$'\n'* ]] || fail "$var holds a newline, which a properties file cannot"
    # A backslash starts an escape in a properties file: keep it literal.
    echo "$(property_name "$var")=${value//\\/\\\\}"
  done < <(compgen -e | grep '^KAFKA_' | sort)
} >"$config"

if [[ -z ${RUST_LOG:-} && -n ${KAFKA_LOG4J_ROOT_LOGLEVEL:-} ]]; then
  level=${KAFKA_LOG4J_ROOT_LOGLEVEL,,}
  [[ $level == fatal ]] && level=error
  export RUST_LOG=$level
fi

echo "docker-entrypoint: starting gregor with $config:" >&2
sed 's/^/  /' "$config" >&2
exec gregor broker --config "$config"
