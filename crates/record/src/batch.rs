//! The record batch v2 header: layout, parsing and validation.
//!
//! ```text
//! baseOffset: int64            0..8    (not covered by the CRC: the log rewrites it)
//! batchLength: int32           8..12   (bytes after this field)
//! partitionLeaderEpoch: int32  12..16  (not covered by the CRC: the leader rewrites it)
//! magic: int8                  16
//! crc: uint32                  17..21  (CRC32C of bytes 21..end)
//! attributes: int16            21..23
//! lastOffsetDelta: int32       23..27
//! baseTimestamp: int64         27..35
//! maxTimestamp: int64          35..43
//! producerId: int64            43..51
//! producerEpoch: int16         51..53
//! baseSequence: int32          53..57
//! recordCount: int32           57..61
//! records                      61..
//! ```

use nom::number::complete::{be_i16, be_i32, be_i64, be_i8, be_u32};
use nom::IResult;

/// Bytes before `batchLength`'s payload starts: baseOffset + batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the whole v2 batch header, up to the first record.
pub const HEADER_LEN: usize = 61;
/// The only record format gregor accepts (Kafka 0.11+ clients all send it).
pub const MAGIC_V2: i8 = 2;
/// Where the CRC-covered region starts (the attributes field).
pub(crate) const CRC_START: usize = 21;
/// Offset of the CRC field.
pub(crate) const CRC_AT: usize = 17;
/// Offset of the partitionLeaderEpoch field.
pub const LEADER_EPOCH_AT: usize = 12;
/// Offset of the maxTimestamp field.
const MAX_TIMESTAMP_AT: usize = 35;
/// Low three bits of attributes: the compression codec.
pub(crate) const COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: the timestamps are the broker's append time
/// (LogAppendTime) rather than the producer's create time.
pub(crate) const LOG_APPEND_TIME_FLAG: i16 = 0x08;
/// Attribute bit 5: a control batch (transaction markers).
const CONTROL_FLAG: i16 = 0x20;

/// A copy of `batch` (a whole, valid v2 batch) whose max timestamp is
/// `max_timestamp`, its CRC recomputed (Kafka's
/// `DefaultRecordBatch.setMaxTimestamp`).
pub fn with_max_timestamp(batch: &[u8], max_timestamp: i64) -> Vec<u8> {
    let mut out = batch.to_vec();
    if out.len() >= HEADER_LEN {
        out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_timestamp.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[CRC_AT..CRC_START].copy_from_slice(&crc.to_be_bytes());
    }
    out
}

/// Why a byte string is not an acceptable record batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch truncated: {needed} bytes needed, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("record batch length {0} is outside [{min}, {max}]", min = HEADER_LEN - LOG_OVERHEAD, max = i32::MAX)]
    InvalidLength(i32),
    #[error("record batch magic {0} is not supported (only v2)")]
    UnsupportedMagic(i8),
    #[error("record batch CRC mismatch: header says {stored:#010x}, content is {computed:#010x}")]
    CorruptCrc { stored: u32, computed: u32 },
    #[error("record batch has {count} records but its offset delta spans {span}")]
    InconsistentCount { count: i32, span: i64 },
    #[error("record batch of {size} bytes exceeds max.message.bytes ({max})")]
    TooLarge { size: usize, max: usize },
}

/// The parsed fixed-size header of one record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

fn header(input: &[u8]) -> IResult<&[u8], BatchHeader> {
    let (input, base_offset) = be_i64(input)?;
    let (input, batch_length) = be_i32(input)?;
    let (input, partition_leader_epoch) = be_i32(input)?;
    let (input, magic) = be_i8(input)?;
    let (input, crc) = be_u32(input)?;
    let (input, attributes) = be_i16(input)?;
    let (input, last_offset_delta) = be_i32(input)?;
    let (input, base_timestamp) = be_i64(input)?;
    let (input, max_timestamp) = be_i64(input)?;
    let (input, producer_id) = be_i64(input)?;
    let (input, producer_epoch) = be_i16(input)?;
    let (input, base_sequence) = be_i32(input)?;
    let (input, record_count) = be_i32(input)?;
    Ok((
        input,
        BatchHeader {
            base_offset,
            batch_length,
            partition_leader_epoch,
            magic,
            crc,
            attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            record_count,
        },
    ))
}

impl BatchHeader {
    /// Parses the header at the start of `bytes` and checks that the length
    /// field is sane. Does not need the records, so it works on a header read
    /// alone from a segment file.
    pub fn parse(bytes: &[u8]) -> Result<BatchHeader, BatchError> {
        let truncated = || BatchError::Truncated {
            needed: HEADER_LEN,
            available: bytes.len(),
        };
        let (_, h) = header(bytes).map_err(|_| truncated())?;
        if h.batch_length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(BatchError::InvalidLength(h.batch_length));
        }
        if h.magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(h.magic));
        }
        Ok(h)
    }

    /// Size of the whole batch on disk and on the wire.
    pub fn total_size(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// Offset of the last record, as assigned in this batch. Wrapping, like
    /// Java's long arithmetic: a hostile base offset must not panic.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }

    /// Whether every record's timestamp is the batch's max timestamp
    /// (`message.timestamp.type=LogAppendTime`).
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & LOG_APPEND_TIME_FLAG != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// Checks that the record count agrees with the offset range, as Kafka's
    /// `LogValidator` does for batches coming from producers. (Compacted
    /// batches on disk may legitimately have gaps, so recovery skips this.)
    pub fn check_count(&self) -> Result<(), BatchError> {
        let span = i64::from(self.last_offset_delta) + 1;
        if self.record_count <= 0 || i64::from(self.record_count) != span {
            return Err(BatchError::InconsistentCount {
                count: self.record_count,
                span,
            });
        }
        Ok(())
    }
}

/// Parses and fully validates the batch at the start of `bytes` (header,
/// length, CRC) and returns it with its exact byte range.
pub fn parse_batch(bytes: &[u8]) -> Result<(BatchHeader, &[u8]), BatchError> {
    let h = BatchHeader::parse(bytes)?;
    let size = h.total_size();
    let batch = bytes.get(..size).ok_or(BatchError::Truncated {
        needed: size,
        available: bytes.len(),
    })?;
    let computed = crc32c::crc32c(&batch[CRC_START..]);
    if computed != h.crc {
        return Err(BatchError::CorruptCrc {
            stored: h.crc,
            computed,
        });
    }
    Ok((h, batch))
}

/// Iterates over the consecutive record batches in a buffer, validating each
/// (length, magic, CRC). Stops with an error at the first bad one and yields
/// nothing after it.
pub struct Batches<'a> {
    /// What is left to parse; emptied at the first error.
    rest: &'a [u8],
}

impl<'a> Batches<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Batches { rest: bytes }
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(BatchHeader, &'a [u8]), BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = parse_batch(self.rest);
        self.rest = match result {
            Ok((_, batch)) => &self.rest[batch.len()..],
            Err(_) => &[],
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, RecordBatchBuilder};
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let mut b = RecordBatchBuilder::new(1_000);
        b.append(Record::new(
            1_000,
            Some(b"k".as_slice()),
            Some(b"v1".as_slice()),
        ));
        b.append(Record::new(1_005, None, Some(b"v2".as_slice())));
        b.build().to_vec()
    }

    #[test]
    fn parses_a_built_batch() {
        let bytes = sample();
        let (h, batch) = parse_batch(&bytes).unwrap();
        assert_eq!(batch.len(), bytes.len());
        assert_eq!(h.record_count, 2);
        assert_eq!(h.last_offset_delta, 1);
        assert_eq!(h.max_timestamp, 1_005);
        assert_eq!(h.magic, MAGIC_V2);
        h.check_count().unwrap();
    }

    #[test]
    fn base_offset_and_leader_epoch_are_outside_the_crc() {
        let mut bytes = sample();
        bytes[..8].copy_from_slice(&77i64.to_be_bytes());
        bytes[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&5i32.to_be_bytes());
        let (h, _) = parse_batch(&bytes).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (77, 5));
    }

    #[test]
    fn last_offset_of_a_hostile_base_offset_does_not_panic() {
        let mut bytes = sample();
        bytes[..8].copy_from_slice(&i64::MAX.to_be_bytes());
        let (h, _) = parse_batch(&bytes).unwrap();
        assert_eq!(h.last_offset(), i64::MIN);
    }

    #[test]
    fn rejects_corrupt_crc() {
        let mut bytes = sample();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(matches!(
            parse_batch(&bytes),
            Err(BatchError::CorruptCrc { .. })
        ));
    }

    #[test]
    fn rejects_wrong_magic() {
        let mut bytes = sample();
        bytes[16] = 1;
        assert_eq!(parse_batch(&bytes), Err(BatchError::UnsupportedMagic(1)));
    }

    #[test]
    fn rejects_short_batch_and_absurd_length() {
        let bytes = sample();
        assert!(matches!(
            parse_batch(&bytes[..bytes.len() - 1]),
            Err(BatchError::Truncated { .. })
        ));
        assert!(matches!(
            parse_batch(&bytes[..20]),
            Err(BatchError::Truncated { .. })
        ));
        let mut absurd = bytes.clone();
        absurd[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            parse_batch(&absurd),
            Err(BatchError::Truncated { .. })
        ));
        absurd[8..12].copy_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(parse_batch(&absurd), Err(BatchError::InvalidLength(-5)));
    }

    #[test]
    fn rejects_count_that_disagrees_with_offset_delta() {
        let mut bytes = sample();
        bytes[23..27].copy_from_slice(&5i32.to_be_bytes());
        let crc = crc32c::crc32c(&bytes[CRC_START..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        let (h, _) = parse_batch(&bytes).unwrap();
        assert!(matches!(
            h.check_count(),
            Err(BatchError::InconsistentCount { count: 2, span: 6 })
        ));
    }

    #[test]
    fn iterator_stops_at_first_bad_batch() {
        let mut buf = sample();
        buf.extend(sample());
        buf.extend(&sample()[..30]);
        let results: Vec<_> = Batches::new(&buf).collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[1].is_ok());
        assert!(results[2].is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for item in Batches::new(&bytes) {
                let _ = item;
            }
            let _ = BatchHeader::parse(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_batches(idx in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
            let mut bytes = sample();
            let i = idx % bytes.len();
            bytes[i] = byte;
            bytes.truncate(cut.max(1).min(bytes.len()));
            for item in Batches::new(&bytes) {
                let _ = item;
            }
        }
    }
}
