//! Builds v2 record batches, optionally compressed: used by gregor's own
//! producer, the benchmarks and tests.

use bytes::{BufMut, Bytes, BytesMut};

use gregor_protocol::primitives::{put_varint, put_varlong};

use super::batch::{
    BatchHeader, COMPRESSION_MASK, CRC_AT, CRC_START, HEADER_LEN, LOG_OVERHEAD, MAGIC_V2,
};
use super::compression::Compression;

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
/// Records are kept uncompressed until [`build`](Self::build), which
/// compresses the whole records section at once, as Kafka producers do.
///
/// [`retaining`](Self::retaining) instead rebuilds a stored batch from some
/// of its records, keeping its offsets (the log cleaner).
pub struct RecordBatchBuilder {
    base_offset: i64,
    partition_leader_epoch: i32,
    /// Attribute bits other than the codec (timestamp type, transactional,
    /// control): 0 for a producer's new batch.
    flags: i16,
    /// The offset delta of the batch's last offset when it is not that of
    /// its last record: a cleaned batch keeps its original last offset so
    /// that the producer's last sequence survives cleaning (Kafka's
    /// `overrideLastOffset`).
    last_offset_delta: Option<i32>,
    base_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    max_timestamp: i64,
    count: i32,
    compression: Compression,
    /// The batch so far: [`HEADER_LEN`] bytes kept for the header, then the
    /// uncompressed records section, so an uncompressed batch is built in
    /// place.
    buf: BytesMut,
    /// One record's body, reused by every [`append`](Self::append).
    scratch: BytesMut,
}

impl RecordBatchBuilder {
    pub fn new(base_timestamp: i64) -> Self {
        RecordBatchBuilder {
            base_offset: 0,
            partition_leader_epoch: -1,
            flags: 0,
            last_offset_delta: None,
            base_timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            max_timestamp: base_timestamp,
            count: 0,
            compression: Compression::None,
            buf: BytesMut::zeroed(HEADER_LEN),
            scratch: BytesMut::new(),
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

    /// Starts the batch that replaces the stored batch `original` with some
    /// of its records (Kafka's `MemoryRecords.filterTo`): the same base and
    /// last offset, producer id, epoch and base sequence, partition leader
    /// epoch and attributes (codec, timestamp type, flags). Records are
    /// added with [`append_at`](Self::append_at); `base_timestamp` is the
    /// first one's (the original's max timestamp for a batch left empty).
    pub fn retaining(original: &BatchHeader, base_timestamp: i64) -> Self {
        let mut builder = RecordBatchBuilder::new(base_timestamp).producer(
            original.producer_id,
            original.producer_epoch,
            original.base_sequence,
        );
        builder.base_offset = original.base_offset;
        builder.partition_leader_epoch = original.partition_leader_epoch;
        builder.flags = original.attributes & !COMPRESSION_MASK;
        builder.last_offset_delta = Some(original.last_offset_delta);
        builder
    }

    /// Compresses the records section with `compression` when built.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Makes room for `additional` more bytes of records, so that a batch
    /// filled up to a size known in advance (a producer's `batch.size`)
    /// is allocated once rather than regrown record by record.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the batch takes uncompressed: exact without compression, an
    /// estimate (usually an upper bound) with it, which is what a producer
    /// filling batches up to `batch.size` wants.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Adds a record with the next offset delta.
    ///
    /// # Panics
    /// If a key, value or header is longer than `i32::MAX` bytes, which no
    /// batch can hold.
    pub fn append(&mut self, record: Record<'_>) {
        self.append_at(self.count, record);
    }

    /// Adds a record `offset_delta` after the batch's base offset, for a
    /// batch whose records keep offsets they already have (see
    /// [`retaining`](Self::retaining)); deltas must increase.
    ///
    /// # Panics
    /// As [`append`](Self::append).
    pub fn append_at(&mut self, offset_delta: i32, record: Record<'_>) {
        let body = &mut self.scratch;
        body.clear();
        body.put_i8(0); // record attributes: unused in v2
        put_varlong(body, record.timestamp.wrapping_sub(self.base_timestamp));
        put_varint(body, offset_delta);
        put_nullable(body, record.key);
        put_nullable(body, record.value);
        put_length(body, record.headers.len());
        for (name, value) in &record.headers {
            put_nullable(body, Some(name.as_bytes()));
            put_nullable(body, *value);
        }
        put_length(&mut self.buf, body.len());
        self.buf.extend_from_slice(body);
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        self.count += 1;
    }

    /// Writes the batch. If the codec fails (libzstd out of memory, say),
    /// the batch goes out uncompressed, as librdkafka does: it is still a
    /// valid batch with the same records.
    pub fn build(self) -> Bytes {
        let compression = match self.count {
            // An empty batch (a cleaned batch kept for its producer state)
            // has no records section to compress, as in Kafka.
            0 => Compression::None,
            _ => self.compression,
        };
        let (compression, mut out) = match compression {
            Compression::None => (Compression::None, self.buf),
            c => match c.compress(&self.buf[HEADER_LEN..]) {
                Ok(packed) => {
                    let mut out = BytesMut::with_capacity(HEADER_LEN + packed.len());
                    out.put_bytes(0, HEADER_LEN);
                    out.extend_from_slice(&packed);
                    (c, out)
                }
                Err(e) => {
                    ::log::warn!("sending a batch uncompressed: {e}");
                    (Compression::None, self.buf)
                }
            },
        };
        let batch_length = (out.len() - LOG_OVERHEAD) as i32;
        let mut header = &mut out[..HEADER_LEN];
        // Base offset and leader epoch of a new batch: assigned by the log.
        header.put_i64(self.base_offset);
        header.put_i32(batch_length);
        header.put_i32(self.partition_leader_epoch);
        header.put_i8(MAGIC_V2);
        header.put_u32(0); // CRC placeholder
        header.put_i16(compression.id() | self.flags);
        header.put_i32(
            self.last_offset_delta
                .unwrap_or_else(|| self.count.max(1) - 1),
        );
        header.put_i64(self.base_timestamp);
        header.put_i64(self.max_timestamp);
        header.put_i64(self.producer_id);
        header.put_i16(self.producer_epoch);
        header.put_i32(self.base_sequence);
        header.put_i32(self.count);
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[CRC_AT..CRC_START].copy_from_slice(&crc.to_be_bytes());
        out.freeze()
    }
}

/// A varint length. Lengths past i32::MAX cannot be framed in a batch at
/// all (its own length is an int32), so they are a caller bug.
fn put_length(buf: &mut BytesMut, len: usize) {
    put_varint(
        buf,
        i32::try_from(len).expect("record field longer than i32::MAX"),
    );
}

/// Length-prefixed bytes where length -1 means null.
fn put_nullable(buf: &mut BytesMut, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => {
            put_length(buf, b.len());
            buf.extend_from_slice(b);
        }
        None => put_varint(buf, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_retained_batch_keeps_the_originals_offsets_and_attributes() {
        use crate::batch::LOG_APPEND_TIME_FLAG;
        use crate::{decode_batch, parse_batch};

        let mut original = RecordBatchBuilder::new(10)
            .producer(7, 2, 40)
            .compression(Compression::Gzip);
        for i in 0..5u8 {
            original.append(Record::new(10 + i64::from(i), Some(&[i]), Some(&[i])));
        }
        let mut bytes = original.build().to_vec();
        // As stored: base offset 100, leader epoch 3, LogAppendTime at 99.
        bytes[..8].copy_from_slice(&100i64.to_be_bytes());
        bytes[12..16].copy_from_slice(&3i32.to_be_bytes());
        bytes[21..23]
            .copy_from_slice(&(Compression::Gzip.id() | LOG_APPEND_TIME_FLAG).to_be_bytes());
        bytes[35..43].copy_from_slice(&99i64.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[CRC_START..]);
        bytes[CRC_AT..CRC_START].copy_from_slice(&crc.to_be_bytes());
        let (header, _) = parse_batch(&bytes).unwrap();

        let mut kept = RecordBatchBuilder::retaining(&header, 99).compression(Compression::Gzip);
        for delta in [1u8, 3] {
            kept.append_at(
                i32::from(delta),
                Record::new(99, Some(&[delta]), Some(&[delta])),
            );
        }
        let kept = kept.build();
        let (h, _) = parse_batch(&kept).unwrap();
        assert_eq!(
            (
                h.base_offset,
                h.last_offset_delta,
                h.record_count,
                h.partition_leader_epoch
            ),
            (100, 4, 2, 3)
        );
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (7, 2, 40)
        );
        assert!(h.is_log_append_time() && h.compression() == Compression::Gzip.id());
        let records = decode_batch(&kept).unwrap();
        let offsets: Vec<(i64, i64)> = records.iter().map(|r| (r.offset, r.timestamp)).collect();
        assert_eq!(offsets, [(101, 99), (103, 99)]);

        // Nothing kept: an empty, uncompressed batch with the same offsets.
        let empty = RecordBatchBuilder::retaining(&header, 99)
            .compression(Compression::Gzip)
            .build();
        let (h, _) = parse_batch(&empty).unwrap();
        assert_eq!(
            (
                h.base_offset,
                h.last_offset(),
                h.record_count,
                h.compression()
            ),
            (100, 104, 0, 0)
        );
        assert_eq!(empty.len(), HEADER_LEN);
    }
}
