#!/bin/bash
# The image's HEALTHCHECK: healthy once the broker answers an ApiVersions
# request (Kafka API key 18, version 0) on the first listener written by
# docker-entrypoint.sh; a bare TCP connect would also succeed on a broker
# that accepts but does not serve.
set -euo pipefail
config=${GREGOR_CONFIG:-/etc/gregor/server.properties}
listeners=$(sed -n 's/^listeners=//p' "$config")
first=${listeners%%,*}
port=${first##*:}

exec 3<>"/dev/tcp/127.0.0.1/$port"
# size 12 | api_key 18 | api_version 0 | correlation_id 7 | client_id "hc"
printf '\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x07\x00\x02hc' >&3
# The answer: size (4 bytes), correlation_id 7, error_code 0 (NONE).
reply=$(head -c 10 <&3 | od -An -tx1 | tr -d ' \n')
[[ ${reply:8} == 000000070000 ]]
