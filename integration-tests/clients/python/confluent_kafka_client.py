"""confluent-kafka (librdkafka) as a gregor client; see common.py for the
command line and output."""
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry,
                                  ConfigResource, ConfigSource, NewTopic,
                                  ResourceType)

import common
from common import TIMEOUT_S, emit, emit_record, fail


def produce(args):
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "acks": str(args.acks),
        "linger.ms": args.linger_ms,
        "message.timeout.ms": args.message_timeout_ms,
        # No retries hiding a refused batch: the first error is reported.
        "enable.idempotence": False,
    })
    acked = 0
    errors = []

    def report(i):
        def on_delivery(err, msg):
            nonlocal acked
            if err is not None:
                errors.append(f"record {i}: {err}")
                return
            acked += 1
            # None or negative when the broker does not say (acks=0).
            offset = msg.offset()
            offset = offset if offset is not None and offset >= 0 else -1
            emit({"i": i, "partition": msg.partition(), "offset": offset})
        return on_delivery

    for i in range(args.start, args.start + args.count):
        kwargs = {}
        ts = common.timestamp(args, i)
        if ts is not None:
            kwargs["timestamp"] = ts
        while True:
            try:
                producer.produce(args.topic, common.value(i), common.key(i),
                                 partition=args.partition, on_delivery=report(i), **kwargs)
                break
            except BufferError:
                producer.poll(0.1)  # local queue full: serve delivery reports
        producer.poll(0)
    remaining = producer.flush(args.message_timeout_ms / 1000 + TIMEOUT_S)
    if remaining:
        errors.append(f"{remaining} records still undelivered after flush")
    common.finish_produce(acked, errors)


def consumer(args):
    return Consumer({
        "bootstrap.servers": args.bootstrap,
        # Required by the API, never used: no subscribe, no commits.
        "group.id": "unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    })


def consume(args):
    c = consumer(args)
    tp = TopicPartition(args.topic, args.partition)
    low, high = c.get_watermark_offsets(tp, timeout=TIMEOUT_S)
    start = low if args.offset == "earliest" else int(args.offset)
    c.assign([TopicPartition(args.topic, args.partition, start)])
    position = start
    deadline = time.monotonic() + TIMEOUT_S
    while position < high:
        if time.monotonic() > deadline:
            fail(f"only reached offset {position} of {high} in {TIMEOUT_S}s")
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            fail(f"consume error: {msg.error()}")
        emit_record(msg.offset(), msg.key(), msg.value(), msg.timestamp()[1])
        position = msg.offset() + 1
    c.close()
    emit({"end": high})


def group_consume(args):
    c = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": args.session_timeout_ms,
        "heartbeat.interval.ms": 1000,
    })

    def on_assign(consumer, partitions):
        emit({"assigned": sorted(p.partition for p in partitions)})

    c.subscribe([args.topic], on_assign=on_assign)
    run = common.GroupConsumption(args)
    while not run.done():
        msg = c.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            fail(f"consume error: {msg.error()}")
        try:
            c.commit(message=msg, asynchronous=False)
            committed = True
        except KafkaException:
            committed = False
        common.emit_group_record(msg.partition(), msg.offset(), msg.key(), msg.value(), committed)
        run.record(committed)
    c.close()
    run.finish()


def offsets_for_times(args):
    c = consumer(args)
    [result] = c.offsets_for_times(
        [TopicPartition(args.topic, args.partition, args.timestamp)], timeout=TIMEOUT_S)
    if result.error:
        fail(f"offsets_for_times: {result.error}")
    emit({"offset": result.offset, "timestamp": args.timestamp})
    c.close()


def admin(args):
    return AdminClient({"bootstrap.servers": args.bootstrap})


def create_topic(args):
    # The client must outlive its futures: a collected AdminClient fails
    # them with _DESTROY.
    client = admin(args)
    futures = client.create_topics(
        [NewTopic(args.topic, num_partitions=args.partitions,
                  replication_factor=args.replication_factor)],
        operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)
    futures[args.topic].result(timeout=TIMEOUT_S)
    emit({"created": args.topic})


def delete_topic(args):
    client = admin(args)
    futures = client.delete_topics(
        [args.topic], operation_timeout=TIMEOUT_S, request_timeout=TIMEOUT_S)
    futures[args.topic].result(timeout=TIMEOUT_S)
    emit({"deleted": args.topic})


def metadata(args):
    md = admin(args).list_topics(timeout=TIMEOUT_S)
    emit({
        "brokers": [{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()],
        "topics": {name: len(t.partitions) for name, t in md.topics.items()},
    })


def topic_overrides(client, topic):
    resource = ConfigResource(ResourceType.TOPIC, topic)
    futures = client.describe_configs([resource], request_timeout=TIMEOUT_S)
    entries = futures[resource].result(timeout=TIMEOUT_S)
    return {name: entry.value for name, entry in entries.items()
            if entry.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def alter_configs(args):
    client = admin(args)
    resource = ConfigResource(ResourceType.TOPIC, args.topic, set_config=dict(args.config))
    futures = client.alter_configs([resource], request_timeout=TIMEOUT_S)
    futures[resource].result(timeout=TIMEOUT_S)
    emit({"overrides": topic_overrides(client, args.topic)})


def incremental_alter_configs(args):
    client = admin(args)
    entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
               for k, v in args.config]
    resource = ConfigResource(ResourceType.TOPIC, args.topic, incremental_configs=entries)
    futures = client.incremental_alter_configs([resource], request_timeout=TIMEOUT_S)
    futures[resource].result(timeout=TIMEOUT_S)
    emit({"overrides": topic_overrides(client, args.topic)})


if __name__ == "__main__":
    common.main(sys.modules[__name__], KafkaException)
