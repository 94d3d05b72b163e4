"""An acks=all confluent-kafka (librdkafka) producer of numbered records,
for the replication fault test (tests/replication_faults.rs), which kills
leaders under it.

    numbered_producer.py BOOTSTRAP TOPIC --partitions N --stop-file PATH
                         [--interval-ms I]

Sends record n of partition p with value "p<p>-<n>" (n = 0, 1, ... per
partition), one record to each partition every I ms, until PATH exists;
then waits for every delivery report. Idempotent (enable.idempotence=true:
acks=all, retries in order and without duplicates), with a delivery timeout
that outlasts several leader failovers: a record is acknowledged once the
ISR has it, or reported failed.

Prints one JSON object: {"sent": {p: count}, "acked": {p: [n, ...]},
"failed": {p: [[n, error], ...]}, "undelivered": count}, the acknowledged
numbers in the order their reports came, and how many records had no
report when the final flush gave up.
"""
import argparse
import json
import os
import time

from confluent_kafka import Producer

# Several leader failovers (each a ZooKeeper session timeout, 6 s in the
# cluster tests) fit in it.
MESSAGE_TIMEOUT_MS = 90_000


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--interval-ms", type=int, default=10)
    return p.parse_args()


def main():
    args = parse_args()
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": MESSAGE_TIMEOUT_MS,
    })
    partitions = range(args.partitions)
    sent = {p: 0 for p in partitions}
    acked = {p: [] for p in partitions}
    failed = {p: [] for p in partitions}

    def report(p, n):
        def on_delivery(err, _msg):
            if err is None:
                acked[p].append(n)
            else:
                failed[p].append([n, str(err)])
        return on_delivery

    next_at = time.monotonic()
    while not os.path.exists(args.stop_file):
        for p in partitions:
            n = sent[p]
            while True:
                try:
                    producer.produce(args.topic, f"p{p}-{n}".encode(), partition=p,
                                     on_delivery=report(p, n))
                    break
                except BufferError:
                    producer.poll(0.1)  # local queue full: serve reports
            sent[p] += 1
        next_at += args.interval_ms / 1000
        while (wait := next_at - time.monotonic()) > 0:
            producer.poll(wait)
    remaining = producer.flush(MESSAGE_TIMEOUT_MS / 1000 + 30)
    print(json.dumps({"sent": sent, "acked": acked, "failed": failed,
                      "undelivered": remaining}), flush=True)


if __name__ == "__main__":
    main()
