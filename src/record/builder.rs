//! Builds uncompressed v2 record batches: used by gregor's own producer,
//! the benchmarks and tests.

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{HEADER_LEN, LOG_OVERHEAD, MAGIC_V2};

/// One record to put in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

impl<'a> Record<'a> {
    pub fn new(timestamp: i64, key: Option<&'a [u8]>, value: Option<&'a [u8]>) -> Self {
        Record {
            timestamp,
            key,
            value,
            headers: Vec::new(),
        }
    }
}

/// Accumulates records and writes them as one batch with base offset 0 (the
/// broker assigns the real one) and, unless [`producer`](Self::producer) is
/// called, no producer id (-1: not idempotent).
pub struct RecordBatchBuilder {
    base_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    max_timestamp: i64,
    count: i32,
    records: BytesMut,
}

impl RecordBatchBuilder {
    pub fn new(base_timestamp: i64) -> Self {
        RecordBatchBuilder {
            base_timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            max_timestamp: base_timestamp,
            count: 0,
            records: BytesMut::new(),
        }
    }

    /// Marks the batch as an idempotent producer's: its id, epoch and the
    /// sequence number of the first record.
    pub fn producer(mut self, producer_id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch will take once built.
    pub fn size_in_bytes(&self) -> usize {
        HEADER_LEN + self.records.len()
    }

    pub fn append(&mut self, record: Record<'_>) {
        let mut body = BytesMut::new();
        body.put_i8(0); // record attributes: unused in v2
        put_varlong(&mut body, record.timestamp - self.base_timestamp);
        put_varlong(&mut body, i64::from(self.count));
        put_nullable(&mut body, record.key);
        put_nullable(&mut body, record.value);
        put_varlong(&mut body, record.headers.len() as i64);
        for (name, value) in &record.headers {
            put_nullable(&mut body, Some(name.as_bytes()));
            put_nullable(&mut body, *value);
        }
        put_varlong(&mut self.records, body.len() as i64);
        self.records.extend_from_slice(&body);
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        self.count += 1;
    }

    pub fn build(self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.size_in_bytes());
        let batch_length = (HEADER_LEN - LOG_OVERHEAD + self.records.len()) as i32;
        out.put_i64(0); // base offset: assigned by the log
        out.put_i32(batch_length);
        out.put_i32(-1); // partition leader epoch: assigned by the leader
        out.put_i8(MAGIC_V2);
        out.put_u32(0); // CRC placeholder
        out.put_i16(0); // attributes: no compression, create time
        out.put_i32(self.count.max(1) - 1);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.count);
        out.extend_from_slice(&self.records);
        let crc = crc32c::crc32c(&out[21..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out.freeze()
    }
}

/// Zig-zag varint, as in protobuf and Kafka's `ByteUtils.writeVarlong`.
fn put_varlong(buf: &mut BytesMut, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Length-prefixed bytes where length -1 means null.
fn put_nullable(buf: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            put_varlong(buf, b.len() as i64);
            buf.extend_from_slice(b);
        }
        None => put_varlong(buf, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varlong_matches_kafka_examples() {
        let enc = |v: i64| {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            b.to_vec()
        };
        assert_eq!(enc(0), vec![0x00]);
        assert_eq!(enc(-1), vec![0x01]);
        assert_eq!(enc(1), vec![0x02]);
        assert_eq!(enc(63), vec![0x7e]);
        assert_eq!(enc(-64), vec![0x7f]);
        assert_eq!(enc(64), vec![0x80, 0x01]);
        assert_eq!(enc(300), vec![0xd8, 0x04]);
    }

    #[test]
    fn single_record_layout() {
        let mut b = RecordBatchBuilder::new(10);
        b.append(Record::new(
            10,
            Some(b"a".as_slice()),
            Some(b"bc".as_slice()),
        ));
        let batch = b.build();
        // length=9 (zigzag 18), attrs, ts delta 0, offset delta 0, key len 1, 'a', value len 2, "bc", 0 headers
        assert_eq!(
            &batch[HEADER_LEN..],
            &[18, 0, 0, 0, 2, b'a', 4, b'b', b'c', 0]
        );
    }
}
