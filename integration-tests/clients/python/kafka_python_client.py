"""kafka-python as a gregor client; see common.py for the command line and
output."""
import sys
import time

from kafka import (ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer,
                   KafkaProducer, TopicPartition)
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

import common
from common import TIMEOUT_S, emit, emit_record, fail


def produce(args):
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all" if args.acks == -1 else args.acks,
        linger_ms=args.linger_ms,
        request_timeout_ms=TIMEOUT_S * 1000,
        retries=0,
        compression_type=None if args.compression == "none" else args.compression,
    )
    futures = []
    for i in range(args.start, args.start + args.count):
        futures.append((i, producer.send(
            args.topic, key=common.key(i), value=common.value(i),
            partition=args.partition, timestamp_ms=common.timestamp(args, i))))
    producer.flush(timeout=args.message_timeout_ms / 1000 + TIMEOUT_S)
    acked = 0
    errors = []
    for i, future in futures:
        try:
            md = future.get(timeout=TIMEOUT_S)
        except KafkaError as e:
            errors.append(f"record {i}: {type(e).__name__}: {e}")
            continue
        acked += 1
        emit({"i": i, "partition": md.partition, "offset": md.offset if md.offset >= 0 else -1})
    producer.close(timeout=TIMEOUT_S)
    common.finish_produce(acked, errors)


def consumer(args):
    return KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=TIMEOUT_S * 1000 + 5000,
    )


def consume(args):
    c = consumer(args)
    tp = TopicPartition(args.topic, args.partition)
    c.assign([tp])
    high = c.end_offsets([tp])[tp]
    if args.offset == "earliest":
        c.seek_to_beginning(tp)
    else:
        c.seek(tp, int(args.offset))
    position = c.position(tp)
    deadline = time.monotonic() + TIMEOUT_S
    while position < high:
        if time.monotonic() > deadline:
            fail(f"only reached offset {position} of {high} in {TIMEOUT_S}s")
        for records in c.poll(timeout_ms=1000).values():
            for r in records:
                emit_record(r.offset, r.key, r.value, r.timestamp)
                position = r.offset + 1
    c.close()
    emit({"end": high})


def group_consume(args):
    c = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=1000,
        request_timeout_ms=TIMEOUT_S * 1000 + 5000,
    )

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            pass

        def on_partitions_assigned(self, assigned):
            emit({"assigned": sorted(tp.partition for tp in assigned)})

    c.subscribe([args.topic], listener=Listener())
    run = common.GroupConsumption(args)
    while not run.done():
        for tp, records in c.poll(timeout_ms=200).items():
            for r in records:
                try:
                    c.commit({tp: OffsetAndMetadata(r.offset + 1, "", -1)})
                    committed = True
                except KafkaError:
                    committed = False
                common.emit_group_record(r.partition, r.offset, r.key, r.value, committed)
                run.record(committed)
                if run.done():
                    break
            if run.done():
                break
    c.close()
    run.finish()


def offsets_for_times(args):
    c = consumer(args)
    tp = TopicPartition(args.topic, args.partition)
    result = c.offsets_for_times({tp: args.timestamp})[tp]
    emit({"offset": -1 if result is None else result.offset, "timestamp": args.timestamp})
    c.close()


def admin(args):
    return KafkaAdminClient(bootstrap_servers=args.bootstrap,
                            request_timeout_ms=TIMEOUT_S * 1000)


def create_topic(args):
    a = admin(args)
    # raise_errors (the default) turns a topic's error code into an exception.
    a.create_topics({args.topic: {"num_partitions": args.partitions,
                                  "replication_factor": args.replication_factor}},
                    timeout_ms=TIMEOUT_S * 1000)
    a.close()
    emit({"created": args.topic})


def delete_topic(args):
    a = admin(args)
    a.delete_topics([args.topic], timeout_ms=TIMEOUT_S * 1000)
    a.close()
    emit({"deleted": args.topic})


def metadata(args):
    a = admin(args)
    cluster = a.describe_cluster()
    topics = a.describe_topics()
    emit({
        "brokers": [{"id": b["broker_id"], "host": b["host"], "port": b["port"]}
                    for b in cluster["brokers"]],
        "topics": {t["name"]: len(t["partitions"]) for t in topics if t["error_code"] == 0},
    })
    a.close()


if __name__ == "__main__":
    common.main(sys.modules[__name__], KafkaError)
