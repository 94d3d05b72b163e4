"""What the per-library client scripts share: the command line, the
records they produce and the JSON lines they print.

Every script is called as

    <script> <bootstrap> <topic> <mode> [options]

and prints one JSON object per line on stdout. Modes:

  produce  --acks A --count N [--start S] [--timestamp-base T] [--linger-ms L]
           produces records i = S..S+N-1 to partition --partition with key
           "key-<i>", value "value-<i>" and, with --timestamp-base, the
           CreateTime T+i; prints {"i", "partition", "offset"} per delivery
           report (offset -1 when the broker does not tell, acks=0), then
           {"acked": n, "failed": n, "errors": [...]}; exits 1 if any failed.
  consume  --partition P [--offset earliest|<n>]
           assigns the partition (no consumer group), reads the high
           watermark, then reads from the offset to it; prints
           {"offset", "key", "value", "timestamp"} per record, then
           {"end": <high watermark>}.
  offsets-for-times --partition P --timestamp T
           prints {"offset", "timestamp"} (ListOffsets by timestamp).
  group-consume --group G [--exit-after N | --crash-after N] [--idle-ms I]
                [--max-secs S] [--session-timeout-ms T]
           subscribes to the topic as a member of consumer group G (from the
           earliest offset when G has none committed) and commits each
           record's offset synchronously after reading it; prints
           {"assigned": [partitions]} on every assignment and
           {"partition", "offset", "key", "value", "committed": bool} per
           record, then {"consumed": n}. Stops (leaving the group) after N
           committed records, or once nothing arrived for I ms after the
           first record; fails after S seconds. With --crash-after the
           process ends abruptly after N committed records, without leaving
           the group (as if killed): prints {"crashed": n} and exits 0.
  create-topic --partitions N [--replication-factor R]
                                 prints {"created": topic}
  delete-topic                   prints {"deleted": topic}
  metadata  prints {"brokers": [{"id", "host", "port"}],
                    "topics": {name: partition count}}
  alter-configs --config K=V [--config K=V ...]
           replaces the topic's config overrides with these (AlterConfigs);
           prints {"overrides": {K: V}}, the overrides DescribeConfigs
           reports afterwards.
  incremental-alter-configs --config K=V [--config K=V ...]
           sets these keys, keeping the other overrides
           (IncrementalAlterConfigs); prints {"overrides": {K: V}} as above.

The Java client (clients/java, JavaClient.java) adds options other clients
may adopt: produce --idempotent; group-consume --assignor and
--group-instance-id (static membership), with "generation" and "member_id"
in each {"assigned"} line; and administration modes (describe-cluster,
describe-configs, list-groups, describe-group, list-group-offsets,
alter-group-offsets, delete-group-offsets, delete-group, remove-members).
"""
import argparse
import asyncio
import inspect
import json
import os
import sys
import time

# Every client call is bounded by this, so that a broker that never answers
# makes a script fail with the client's error rather than hang.
TIMEOUT_S = 30


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.add_argument("mode", choices=[
        "produce", "consume", "group-consume", "offsets-for-times",
        "create-topic", "delete-topic", "metadata", "alter-configs",
        "incremental-alter-configs"])
    p.add_argument("--acks", type=int, default=-1)
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--timestamp-base", type=int)
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--message-timeout-ms", type=int, default=TIMEOUT_S * 1000)
    p.add_argument("--partition", type=int, default=0)
    p.add_argument("--offset", default="earliest")
    p.add_argument("--timestamp", type=int)
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("--replication-factor", type=int, default=1)
    p.add_argument("--group")
    p.add_argument("--exit-after", type=int, default=0)
    p.add_argument("--crash-after", type=int, default=0)
    p.add_argument("--idle-ms", type=int, default=5000)
    p.add_argument("--max-secs", type=int, default=90)
    p.add_argument("--session-timeout-ms", type=int, default=10000)
    p.add_argument("--config", action="append", default=[],
                   type=lambda kv: tuple(kv.split("=", 1)))
    p.add_argument("--compression", default="none",
                   choices=["none", "gzip", "snappy", "lz4", "zstd"])
    return p.parse_args()


def key(i):
    return f"key-{i}".encode()


def value(i):
    return f"value-{i}".encode()


def timestamp(args, i):
    return None if args.timestamp_base is None else args.timestamp_base + i


def emit(obj):
    print(json.dumps(obj), flush=True)


def emit_record(offset, k, v, ts):
    emit({
        "offset": offset,
        "key": None if k is None else k.decode(),
        "value": None if v is None else v.decode(),
        "timestamp": ts,
    })


def emit_group_record(partition, offset, k, v, committed):
    emit({
        "partition": partition,
        "offset": offset,
        "key": None if k is None else k.decode(),
        "value": None if v is None else v.decode(),
        "committed": committed,
    })


class GroupConsumption:
    """The stop rules of group-consume: `done()` once --exit-after records
    were committed, or --idle-ms passed since the last record; `fail`s once
    --max-secs passed."""

    def __init__(self, args):
        self.args = args
        self.committed = 0
        self.last_record = None
        self.deadline = time.monotonic() + args.max_secs

    def record(self, committed):
        self.last_record = time.monotonic()
        if committed:
            self.committed += 1
        if self.args.crash_after and self.committed >= self.args.crash_after:
            emit({"crashed": self.committed})
            sys.stdout.flush()
            os._exit(0)

    def done(self):
        if self.args.exit_after and self.committed >= self.args.exit_after:
            return True
        idle_s = self.args.idle_ms / 1000
        if self.last_record is not None and time.monotonic() - self.last_record > idle_s:
            return True
        if time.monotonic() > self.deadline:
            fail(f"still consuming after {self.args.max_secs}s ({self.committed} committed)")
        return False

    def finish(self):
        emit({"consumed": self.committed})


def finish_produce(acked, errors):
    emit({"acked": acked, "failed": len(errors), "errors": errors[:20]})
    sys.exit(1 if errors else 0)


def fail(message):
    emit({"error": message})
    print(message, file=sys.stderr)
    sys.exit(1)


def main(client, client_error):
    """Runs the mode named on the command line: the function of that name
    (dashes as underscores) in the `client` module, on an asyncio event loop
    if it is a coroutine function (aiokafka). A client library error
    (`client_error`, the library's exception base class) becomes a JSON
    error line and exit code 1."""
    args = parse_args()
    mode = getattr(client, args.mode.replace("-", "_"))
    try:
        if inspect.iscoroutinefunction(mode):
            asyncio.run(mode(args))
        else:
            mode(args)
    except client_error as e:
        fail(f"{type(e).__name__}: {e}")
