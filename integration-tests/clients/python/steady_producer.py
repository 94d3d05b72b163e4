"""A confluent-kafka (librdkafka) producer that keeps producing while the
cluster tests kill brokers under it.

    steady_producer.py BOOTSTRAP TOPIC --partitions N --count C --interval-ms I

Record i (key "key-<i>", value "value-<i>", as in common.py) goes to
partition i % N; one record is handed to the client every I ms, so the
production spans a broker failure instead of being sent before it. acks=1 and
librdkafka's own retries: when a leader dies, librdkafka refreshes its
metadata (on the lost connection or NOT_LEADER_OR_FOLLOWER) and sends the
waiting batches to the new leader, within message.timeout.ms.

Prints {"acked": n, "failed": n, "errors": [...]} and exits 1 if any record
was not delivered (common.finish_produce).
"""
import argparse
import time

from confluent_kafka import Producer

import common

# Long enough to wait out a leader failover (zookeeper.session.timeout.ms in
# the cluster tests is 6 s) several times over.
MESSAGE_TIMEOUT_MS = 60_000


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--interval-ms", type=int, required=True)
    return p.parse_args()


def main():
    args = parse_args()
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "acks": "1",
        "linger.ms": 0,
        "message.timeout.ms": MESSAGE_TIMEOUT_MS,
    })
    acked = 0
    errors = []

    def on_delivery(err, msg):
        nonlocal acked
        if err is None:
            acked += 1
        else:
            errors.append(f"partition {msg.partition()}: {err}")

    next_at = time.monotonic()
    for i in range(args.count):
        producer.produce(args.topic, common.value(i), common.key(i),
                         partition=i % args.partitions, on_delivery=on_delivery)
        # Serve delivery reports until the next record is due (poll returns
        # early once it has served one).
        next_at += args.interval_ms / 1000
        while (wait := next_at - time.monotonic()) > 0:
            producer.poll(wait)
    remaining = producer.flush(MESSAGE_TIMEOUT_MS / 1000 + common.TIMEOUT_S)
    if remaining:
        errors.append(f"{remaining} records still undelivered after flush")
    common.finish_produce(acked, errors)


if __name__ == "__main__":
    main()
