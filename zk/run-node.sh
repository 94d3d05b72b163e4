#!/usr/bin/env bash
# Runs one ZooKeeper server in the foreground: `zk/run-node.sh <zoo.cfg>`.
#
# Debian's zkServer.sh sources a zkEnv.sh that hard-codes ZOOCFGDIR,
# ZOO_LOG_DIR and the pid file location, so it cannot run several nodes side
# by side; this runs the same main class with the same jar instead. It execs,
# so the caller's pid is the JVM's pid. slf4j-simple (from libslf4j-java, a
# dependency of Debian's zookeeper) sends the server log to stderr.
set -euo pipefail
config=${1:?usage: run-node.sh <zoo.cfg>}
exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  -Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
  -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$config"
