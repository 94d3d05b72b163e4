"""aiokafka (asyncio, pure-Python protocol) as a gregor client; see common.py
for the command line and output. Every mode is a coroutine, which
common.main runs with asyncio."""
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

import common
from common import TIMEOUT_S, emit, emit_record, fail


async def produce(args):
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all" if args.acks == -1 else args.acks,
        linger_ms=args.linger_ms,
        request_timeout_ms=TIMEOUT_S * 1000,
        enable_idempotence=False,
        compression_type=None if args.compression == "none" else args.compression,
    )
    await producer.start()
    try:
        # send() queues the record and returns a future of its delivery.
        futures = []
        for i in range(args.start, args.start + args.count):
            futures.append((i, await producer.send(
                args.topic, key=common.key(i), value=common.value(i),
                partition=args.partition, timestamp_ms=common.timestamp(args, i))))
        await producer.flush()
        acked = 0
        errors = []
        for i, future in futures:
            try:
                md = await asyncio.wait_for(future, TIMEOUT_S)
            except KafkaError as e:
                errors.append(f"record {i}: {type(e).__name__}: {e}")
                continue
            acked += 1
            if md is None:
                # acks=0: aiokafka resolves the delivery with no metadata.
                emit({"i": i, "partition": args.partition, "offset": -1})
            else:
                emit({"i": i, "partition": md.partition, "offset": md.offset})
    finally:
        await producer.stop()
    common.finish_produce(acked, errors)


def consumer(args, **config):
    return AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=TIMEOUT_S * 1000 + 5000,
        **config,
    )


async def consume(args):
    c = consumer(args, group_id=None)
    await c.start()
    try:
        tp = TopicPartition(args.topic, args.partition)
        c.assign([tp])
        high = (await c.end_offsets([tp]))[tp]
        if args.offset == "earliest":
            start = (await c.beginning_offsets([tp]))[tp]
        else:
            start = int(args.offset)
        # seek(), not seek_to_beginning(): assign() starts a reset to
        # auto_offset_reset (latest) in the background, and aiokafka 0.14
        # applies that reset's answer even when seek_to_beginning() asked
        # for another strategy meanwhile; seek() makes it ignore the answer.
        c.seek(tp, start)
        position = start
        deadline = asyncio.get_running_loop().time() + TIMEOUT_S
        while position < high:
            if asyncio.get_running_loop().time() > deadline:
                fail(f"only reached offset {position} of {high} in {TIMEOUT_S}s")
            for records in (await c.getmany(tp, timeout_ms=1000)).values():
                for r in records:
                    emit_record(r.offset, r.key, r.value, r.timestamp)
                    position = r.offset + 1
    finally:
        await c.stop()
    emit({"end": high})


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        emit({"assigned": sorted(tp.partition for tp in assigned)})


async def group_consume(args):
    c = consumer(
        args,
        group_id=args.group,
        auto_offset_reset="earliest",
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=1000,
    )
    await c.start()
    run = common.GroupConsumption(args)
    try:
        c.subscribe([args.topic], listener=Listener())
        while not run.done():
            await consume_batch(c, await c.getmany(timeout_ms=200), run)
    finally:
        # stop() leaves the group (LeaveGroup).
        await c.stop()
    run.finish()


async def consume_batch(c, batch, run):
    """Commits each record of a getmany() batch after reading it, and drops
    the rest of the batch after a failed commit: aiokafka rejoins the group
    in the background, so a later commit from the same batch could succeed
    in the new generation and cover the record whose commit failed. The next
    getmany() then starts at the committed offsets of the new assignment,
    as the other clients' next poll does."""
    for tp, records in batch.items():
        for r in records:
            try:
                await c.commit({tp: r.offset + 1})
                committed = True
            except KafkaError:
                committed = False
            common.emit_group_record(r.partition, r.offset, r.key, r.value, committed)
            run.record(committed)
            if not committed or run.done():
                return


async def offsets_for_times(args):
    c = consumer(args, group_id=None)
    await c.start()
    try:
        tp = TopicPartition(args.topic, args.partition)
        result = (await c.offsets_for_times({tp: args.timestamp}))[tp]
    finally:
        await c.stop()
    emit({"offset": -1 if result is None else result.offset, "timestamp": args.timestamp})


async def admin(args, request):
    """Runs `request(client)` with a started admin client. aiokafka's admin
    client returns the raw response, so a topic's error code becomes the
    library's exception here."""
    a = AIOKafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    await a.start()
    try:
        response = await request(a)
    finally:
        await a.close()
    return response


def raise_topic_errors(topic_errors):
    # Entries are (topic, error_code, ...) in every version of the
    # CreateTopics and DeleteTopics responses.
    for topic, code, *_ in topic_errors:
        if code != 0:
            raise for_code(code)(f"topic {topic}")


async def create_topic(args):
    topic = NewTopic(args.topic, num_partitions=args.partitions,
                     replication_factor=args.replication_factor)
    response = await admin(args, lambda a: a.create_topics([topic], timeout_ms=TIMEOUT_S * 1000))
    raise_topic_errors(response.topic_errors)
    emit({"created": args.topic})


async def delete_topic(args):
    response = await admin(args, lambda a: a.delete_topics([args.topic], timeout_ms=TIMEOUT_S * 1000))
    raise_topic_errors(response.topic_error_codes)
    emit({"deleted": args.topic})


async def metadata(args):
    async def describe(a):
        return await a.describe_cluster(), await a.describe_topics()

    cluster, topics = await admin(args, describe)
    emit({
        "brokers": [{"id": b["node_id"], "host": b["host"], "port": b["port"]}
                    for b in cluster["brokers"]],
        "topics": {t["topic"]: len(t["partitions"]) for t in topics if t["error_code"] == 0},
    })


if __name__ == "__main__":
    common.main(sys.modules[__name__], KafkaError)
