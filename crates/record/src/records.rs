//! Decodes the records inside a v2 batch, decompressing them first if the
//! batch is compressed.
//!
//! The broker itself never needs this on the produce and fetch paths (it
//! stores and serves batches as sent); it does for ListOffsets by timestamp
//! (Kafka's `LogSegment.findOffsetByTimestamp` looks at each record), for
//! gregor's consumer, and for the log cleaner and the produce path of
//! compacted topics (every record needs a key).
//!
//! ```text
//! length: varint              bytes of the record after this field
//! attributes: int8            unused in v2
//! timestampDelta: varlong     from the batch's baseTimestamp
//! offsetDelta: varint         from the batch's baseOffset
//! keyLength: varint, key      -1 (any negative) for null
//! valueLength: varint, value  -1 (any negative) for null
//! headerCount: varint
//!   headerKeyLength: varint, headerKey (UTF-8, never null)
//!   headerValueLength: varint, headerValue (-1 for null)
//! ```
//!
//! Parsing uses the protocol's nom varint readers; every malformed input is
//! a [`RecordError`], never a panic, and no length or count read from the
//! input is trusted for an allocation before the input is checked to back it.

use bytes::Bytes;
use nom::bytes::complete::take;

use gregor_protocol::error::fail;
use gregor_protocol::primitives::{int8, prealloc_len, share, varint, varlong};
use gregor_protocol::{DecodeError, PResult};

use super::batch::{parse_batch, BatchError, BatchHeader, HEADER_LEN};
use super::compression::{Compression, CompressionError, DEFAULT_MAX_DECOMPRESSED};

/// One record header (Kafka's `Header`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// Decoded like Java's `new String(bytes, UTF_8)`: invalid sequences
    /// become U+FFFD rather than failing a batch Kafka would accept.
    pub key: String,
    pub value: Option<Bytes>,
}

/// One record with its absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecord {
    pub offset: i64,
    /// The producer's timestamp, or the batch's max timestamp when the
    /// batch carries LogAppendTime (the broker stamped the whole batch).
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<RecordHeader>,
}

/// Why the records of a batch could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Compression(#[from] CompressionError),
    #[error("batch declares a negative record count {0}")]
    InvalidCount(i32),
    #[error("record {index} of the batch is malformed: {source}")]
    Malformed {
        index: usize,
        #[source]
        source: DecodeError,
    },
    #[error("record {index} declares {declared} bytes but its fields take {used}")]
    SizeMismatch {
        index: usize,
        declared: usize,
        used: usize,
    },
    #[error("{0} bytes left over after the batch's last record")]
    TrailingBytes(usize),
}

/// A record's fields with offset and timestamp still relative to the batch.
struct RawRecord {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<RecordHeader>,
}

/// Bytes with a varint length; any negative length is null, as in Kafka's
/// `DefaultRecord.readFrom`. The value shares `source`'s memory.
fn varint_bytes<'a>(input: &'a [u8], source: &Bytes) -> PResult<'a, Option<Bytes>> {
    let (input, len) = varint(input)?;
    let Ok(len) = usize::try_from(len) else {
        return Ok((input, None));
    };
    if len > input.len() {
        return fail(DecodeError::InvalidLength(len as i64));
    }
    let (input, raw) = take(len)(input)?;
    Ok((input, Some(share(source, raw))))
}

fn header<'a>(input: &'a [u8], source: &Bytes) -> PResult<'a, RecordHeader> {
    let (input, key) = varint_bytes(input, source)?;
    let Some(key) = key else {
        return fail(DecodeError::UnexpectedNull {
            field: "header key",
            version: 2,
        });
    };
    let (input, value) = varint_bytes(input, source)?;
    let key = String::from_utf8_lossy(&key).into_owned();
    Ok((input, RecordHeader { key, value }))
}

fn headers<'a>(input: &'a [u8], source: &Bytes) -> PResult<'a, Vec<RecordHeader>> {
    let (mut input, count) = varint(input)?;
    // A header takes at least two bytes (two varint lengths), so a count the
    // rest of the record cannot back fails before anything is allocated.
    let count = match usize::try_from(count) {
        Ok(n) if n <= input.len() / 2 => n,
        _ => return fail(DecodeError::InvalidLength(i64::from(count))),
    };
    // A header decodes to far more than its two bytes, so the count is
    // not trusted for the allocation either.
    let mut out = Vec::with_capacity(prealloc_len::<RecordHeader>(count));
    for _ in 0..count {
        let (rest, h) = header(input, source)?;
        out.push(h);
        input = rest;
    }
    Ok((input, out))
}

/// The body of one record (after its length prefix).
fn record<'a>(input: &'a [u8], source: &Bytes) -> PResult<'a, RawRecord> {
    let (input, _attributes) = int8(input)?;
    let (input, timestamp_delta) = varlong(input)?;
    let (input, offset_delta) = varint(input)?;
    let (input, key) = varint_bytes(input, source)?;
    let (input, value) = varint_bytes(input, source)?;
    let (input, headers) = headers(input, source)?;
    Ok((
        input,
        RawRecord {
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        },
    ))
}

/// Iterates over the records of one batch. Built from the batch's bytes
/// (which are fully validated first: length, magic, CRC); the records
/// section is decompressed once, up front, within a size limit.
///
/// Yields exactly `recordCount` records, then an error if bytes are left
/// over (as Kafka's `DefaultRecordBatch` iterators do); stops after the
/// first error. Control batches decode too: their records are the
/// transaction markers, whose meaning is the caller's business.
pub struct Records {
    header: BatchHeader,
    /// The (decompressed) records section.
    data: Bytes,
    pos: usize,
    index: usize,
    count: usize,
    done: bool,
}

impl Records {
    /// Decodes the batch at the start of `batch`, with decompression bounded
    /// by [`DEFAULT_MAX_DECOMPRESSED`].
    pub fn new(batch: &Bytes) -> Result<Records, RecordError> {
        Records::with_limit(batch, DEFAULT_MAX_DECOMPRESSED)
    }

    /// Like [`Records::new`], with a caller-given bound on the decompressed
    /// size of the records section.
    pub fn with_limit(batch: &Bytes, max_decompressed: usize) -> Result<Records, RecordError> {
        let (header, bytes) = parse_batch(batch)?;
        let count = usize::try_from(header.record_count)
            .map_err(|_| RecordError::InvalidCount(header.record_count))?;
        let section = share(batch, bytes.get(HEADER_LEN..).unwrap_or_default());
        let data = match Compression::from_id(header.compression())? {
            Compression::None => section,
            codec => Bytes::from(codec.decompress_with_limit(&section, max_decompressed)?),
        };
        Ok(Records {
            header,
            data,
            pos: 0,
            index: 0,
            count,
            done: false,
        })
    }

    /// The batch's header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    fn decode_next(&mut self) -> Result<DecodedRecord, RecordError> {
        let index = self.index;
        let malformed = |e: nom::Err<DecodeError>| RecordError::Malformed {
            index,
            source: e.into(),
        };
        let input = self.data.get(self.pos..).unwrap_or_default();
        let (rest, len) = varint(input).map_err(malformed)?;
        let declared = usize::try_from(len).map_err(|_| RecordError::Malformed {
            index,
            source: DecodeError::InvalidLength(i64::from(len)),
        })?;
        let body = rest.get(..declared).ok_or(RecordError::Malformed {
            index,
            source: DecodeError::Truncated,
        })?;
        let (left, raw) = record(body, &self.data).map_err(malformed)?;
        if !left.is_empty() {
            return Err(RecordError::SizeMismatch {
                index,
                declared,
                used: declared - left.len(),
            });
        }
        self.pos += input.len() - rest.len() + declared;
        self.index += 1;
        let h = &self.header;
        // Wrapping, like Java's long arithmetic: hostile deltas must not panic.
        let timestamp = if h.is_log_append_time() {
            h.max_timestamp
        } else {
            h.base_timestamp.wrapping_add(raw.timestamp_delta)
        };
        Ok(DecodedRecord {
            offset: h.base_offset.wrapping_add(i64::from(raw.offset_delta)),
            timestamp,
            key: raw.key,
            value: raw.value,
            headers: raw.headers,
        })
    }
}

impl Iterator for Records {
    type Item = Result<DecodedRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.index == self.count {
            self.done = true;
            let left = self.data.len().saturating_sub(self.pos);
            return (left > 0).then_some(Err(RecordError::TrailingBytes(left)));
        }
        let result = self.decode_next();
        self.done = result.is_err();
        Some(result)
    }
}

/// The largest record timestamp of an uncompressed CreateTime batch, as
/// Kafka's leader computes it (from NO_TIMESTAMP, -1, up), and the offset
/// delta of the first record holding it (`None` if no record is above -1):
/// where the time index points (`LogValidator`'s `offsetOfMaxBatchTimestamp`),
/// read from the record headers alone. `None` for a compressed or
/// LogAppendTime batch and for a malformed one.
pub fn create_time_max(batch: &[u8]) -> Option<(i64, Option<i32>)> {
    let (header, bytes) = parse_batch(batch).ok()?;
    if header.compression() != 0 || header.is_log_append_time() {
        return None;
    }
    let mut input = bytes.get(HEADER_LEN..)?;
    // Kafka starts from NO_TIMESTAMP (-1) and takes strictly larger ones.
    let mut best: (i64, Option<i32>) = (-1, None);
    for _ in 0..header.record_count {
        let (rest, len) = varint(input).ok()?;
        let body = rest.get(..usize::try_from(len).ok()?)?;
        let (fields, _attributes) = int8(body).ok()?;
        let (fields, timestamp_delta) = varlong(fields).ok()?;
        let (_, offset_delta) = varint(fields).ok()?;
        let timestamp = header.base_timestamp.wrapping_add(timestamp_delta);
        if timestamp > best.0 {
            best = (timestamp, Some(offset_delta));
        }
        input = &rest[body.len()..];
    }
    Some(best)
}

/// All records of the batch at the start of `batch`.
pub fn decode_batch(batch: &Bytes) -> Result<Vec<DecodedRecord>, RecordError> {
    Records::new(batch)?.collect()
}

#[cfg(test)]
mod tests;
