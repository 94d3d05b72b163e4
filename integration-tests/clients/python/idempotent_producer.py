"""Idempotent produce against gregor with kafka-python's defaults.

    idempotent_producer.py BOOTSTRAP TOPIC COUNT

Creates TOPIC (1 partition), sends COUNT records with a default KafkaProducer
(kafka-python 3.x: enable_idempotence=True, acks=all, so InitProducerId
first), reads them back with a KafkaConsumer using assign + seek_to_beginning,
and checks offsets and values. Then talks the wire protocol directly to check
what the producer cannot show: a retried batch is answered NONE with its
original base offset and appended once, a sequence gap is
OUT_OF_ORDER_SEQUENCE_NUMBER, and a transactional InitProducerId is
TRANSACTIONAL_ID_AUTHORIZATION_FAILED. Prints one `key=value` line per fact
and exits non-zero on any mismatch.
"""

import socket
import struct
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.record.memory_records import MemoryRecordsBuilder

bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = bootstrap.rsplit(":", 1)

admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(topic, 1, 1)])
admin.close()

producer = KafkaProducer(bootstrap_servers=bootstrap)
assert producer.config["enable_idempotence"], "kafka-python default changed"
futures = [producer.send(topic, value=b"v%d" % i) for i in range(count)]
producer.flush(30)
offsets = [f.get(timeout=10).offset for f in futures]
assert offsets == list(range(count)), offsets
print("producer_id=%d" % producer._transaction_manager.producer_id_and_epoch.producer_id)
producer.close()


class Wire:
    """Just enough of the Kafka protocol for InitProducerId v0 and Produce v3."""

    def __init__(self):
        self.sock = socket.create_connection((host, int(port)))
        self.correlation = 0

    def call(self, key, version, body):
        self.correlation += 1
        msg = struct.pack(">hhih", key, version, self.correlation, 4) + b"test" + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        (size,) = struct.unpack(">i", self.sock.recv(4, socket.MSG_WAITALL))
        data = self.sock.recv(size, socket.MSG_WAITALL)
        assert struct.unpack(">i", data[:4])[0] == self.correlation
        return data[4:]

    def init_producer_id(self, transactional_id=None):
        _, error, pid, epoch = struct.unpack(
            ">ihqh", self.call(22, 0, string(transactional_id) + struct.pack(">i", 60000)))
        return error, pid, epoch

    def produce(self, records):
        body = string(None) + struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + string(topic)
        body += struct.pack(">iii", 1, 0, len(records)) + records
        resp = self.call(0, 3, body)
        (name_len,) = struct.unpack(">h", resp[4:6])
        at = 6 + name_len + 4
        _, error, base, _ = struct.unpack(">ihqq", resp[at:at + 22])
        return error, base


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    return struct.pack(">h", len(s)) + s.encode()


def batch(pid, epoch, seq, n):
    b = MemoryRecordsBuilder(2, 0, 1 << 20, producer_id=pid, producer_epoch=epoch,
                             base_sequence=seq)
    for i in range(n):
        b.append(int(time.time() * 1000), None, b"raw-%d" % (seq + i), [])
    b.close()
    return bytes(b.buffer())


wire = Wire()
error, pid, epoch = wire.init_producer_id("txn")
print("transactional_init_error=%d" % error)
error, pid, epoch = wire.init_producer_id()
assert error == 0 and epoch == 0, (error, pid, epoch)
first = batch(pid, epoch, 0, 3)
print("first=%d,%d" % wire.produce(first))
print("retry=%d,%d" % wire.produce(first))
print("next=%d,%d" % wire.produce(batch(pid, epoch, 3, 1)))
print("gap=%d,%d" % wire.produce(batch(pid, epoch, 9, 1)))

consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         consumer_timeout_ms=5000)
tp = TopicPartition(topic, 0)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
records = [(m.offset, m.value) for m in consumer]
consumer.close()
expected = [b"v%d" % i for i in range(count)] + [b"raw-0", b"raw-1", b"raw-2", b"raw-3"]
assert [v for _, v in records] == expected, records
assert [o for o, _ in records] == list(range(len(expected))), records
print("consumed=%d" % len(records))
