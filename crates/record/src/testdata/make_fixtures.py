"""Writes record batches built by an independent implementation, one per
codec, for src/record/records/tests.rs to decode.

kafka-python's DefaultRecordBatchBuilder writes gzip, xerial-framed snappy,
LZ4 frames and zstd frames the way Kafka's Java producer does. Run with a
Python that has kafka-python and its optional codecs:

    python3 -m venv /tmp/v
    /tmp/v/bin/pip install kafka-python==3.0.12 python-snappy lz4 zstandard
    /tmp/v/bin/python src/record/testdata/make_fixtures.py

The records are the ones `expected()` in tests.rs lists; change both together.
"""

import os
import sys

from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

T0 = 1_700_000_000_000
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
# Repetitive values so that every codec actually shrinks the records
# (kafka-python sends a batch uncompressed when compression does not pay).
VALUE = b"gregor-fixture-value " * 8


def records():
    """(offset delta, timestamp, key, value, headers) of each record."""
    return [
        (0, T0, b"k0", VALUE, []),
        (1, T0 + 10, None, VALUE, [("h1", b"v1"), ("h2", None)]),
        (2, T0 + 5, b"k2", None, []),
        (3, T0 + 30, b"k3", VALUE, [("trace", b"\x00\x01")]),
        (4, T0 + 40, b"", b"", []),
    ]


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    for name, codec in CODECS.items():
        b = DefaultRecordBatchBuilder(
            magic=2, compression_type=codec, is_transactional=False,
            producer_id=-1, producer_epoch=-1, base_sequence=-1,
            batch_size=1 << 20)
        for offset, ts, key, value, headers in records():
            b.append(offset, ts, key, value, headers)
        data = bytes(b.build())
        batch = DefaultRecordBatch(data)
        assert batch.compression_type == codec, (name, batch.compression_type)
        assert batch.validate_crc()
        path = os.path.join(out, f"kafka-python-{name}.bin")
        with open(path, "wb") as f:
            f.write(data)
        print(f"{path}: {len(data)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
