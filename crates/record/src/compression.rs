//! The compression codecs of record batches (attribute bits 0-2), with the
//! framings Kafka clients actually write.
//!
//! Only the records section of a batch (after the 61-byte header) is
//! compressed, as one unit. Each codec is the field's standard crate:
//!
//! - gzip: `flate2`, standard gzip members (concatenated members are read
//!   on, as Java's `GZIPInputStream` does);
//! - snappy: `snap`. Java producers write snappy-java's "xerial" framing
//!   (`\x82SNAPPY\x00`, two version ints, then blocks of 4-byte big-endian
//!   length + raw snappy); librdkafka writes one raw snappy block. Both are
//!   read; we write the xerial framing, which every consumer reads;
//! - lz4: `lz4_flex`, the standard LZ4 frame format (Kafka >= 0.10 with
//!   magic v2 writes correct frame header checksums);
//! - zstd: `zstd` (libzstd), a standard zstd frame.
//!
//! Decompression is bounded: a batch is at most `message.max.bytes` on the
//! wire but can expand a thousandfold, so every decoder stops at a limit and
//! reports [`CompressionError::TooLarge`] instead of exhausting memory.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

/// Default bound on the decompressed size of one batch's records. Kafka has
/// no such bound (it streams records); gregor decodes a batch into one
/// buffer, so it needs one. 100 MiB is far above `message.max.bytes`
/// (1 MiB by default) times any realistic compression ratio.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 100 << 20;

/// snappy-java's stream header magic.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Magic + version + minimum compatible version.
const XERIAL_HEADER_LEN: usize = 16;
/// snappy-java's default block size (what Kafka's producer writes).
const XERIAL_BLOCK: usize = 32 * 1024;
/// zstd level used when compressing: libzstd's default, as Kafka's.
const ZSTD_LEVEL: i32 = 3;

/// A record batch compression codec, by its id in the batch attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// Why bytes could not be decompressed (or, rarely, compressed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    /// Attribute bits 0-2 hold an id no Kafka version defines (5-7).
    #[error("unknown compression codec id {0}")]
    UnknownCodec(i16),
    /// A `compression.type` name that is not a codec.
    #[error("unknown compression type {0:?}")]
    UnknownName(String),
    /// The data expands past the caller's limit (a decompression bomb, or
    /// a batch too large to decode in one piece).
    #[error("{codec} data decompresses to more than {limit} bytes")]
    TooLarge { codec: Compression, limit: usize },
    /// The data is not valid for the codec.
    #[error("corrupt {codec} data: {reason}")]
    Corrupt { codec: Compression, reason: String },
    /// The encoder failed (libzstd out of memory, in practice).
    #[error("{codec} compression failed: {reason}")]
    Compress { codec: Compression, reason: String },
}

impl Compression {
    /// All codecs, in id order (for tests and `--help` texts).
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec with attribute id `id` (0 none, 1 gzip, 2 snappy, 3 lz4,
    /// 4 zstd), as returned by `BatchHeader::compression`.
    pub fn from_id(id: i16) -> Result<Compression, CompressionError> {
        Compression::ALL
            .get(usize::try_from(id).map_err(|_| CompressionError::UnknownCodec(id))?)
            .copied()
            .ok_or(CompressionError::UnknownCodec(id))
    }

    /// The id written in the low three bits of the batch attributes.
    pub fn id(self) -> i16 {
        self as i16
    }

    /// Kafka's `compression.type` name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }

    /// Compresses a batch's records section.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
        let failed = |e: std::io::Error| CompressionError::Compress {
            codec: self,
            reason: e.to_string(),
        };
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(data).map_err(failed)?;
                enc.finish().map_err(failed)
            }
            Compression::Snappy => xerial_compress(data),
            Compression::Lz4 => {
                let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                enc.write_all(data).map_err(failed)?;
                enc.finish().map_err(|e| CompressionError::Compress {
                    codec: self,
                    reason: e.to_string(),
                })
            }
            Compression::Zstd => zstd::bulk::compress(data, ZSTD_LEVEL).map_err(failed),
        }
    }

    /// Decompresses a batch's records section, bounded by
    /// [`DEFAULT_MAX_DECOMPRESSED`].
    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>, CompressionError> {
        self.decompress_with_limit(data, DEFAULT_MAX_DECOMPRESSED)
    }

    /// Decompresses, failing with [`CompressionError::TooLarge`] as soon as
    /// the output would exceed `limit` bytes. Memory use stays within about
    /// `limit` plus the codec's own window whatever the input claims.
    pub fn decompress_with_limit(
        self,
        data: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, CompressionError> {
        match self {
            Compression::None if data.len() > limit => Err(self.too_large(limit)),
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => self.read_bounded(flate2::read::MultiGzDecoder::new(data), limit),
            Compression::Snappy => snappy_decompress(data, limit),
            Compression::Lz4 => self.read_bounded(lz4_flex::frame::FrameDecoder::new(data), limit),
            Compression::Zstd => {
                // libzstd caps the window it will allocate at 128 MiB
                // (ZSTD_WINDOWLOG_LIMIT_DEFAULT) unless told otherwise.
                let decoder =
                    zstd::stream::read::Decoder::with_buffer(data).map_err(|e| self.corrupt(e))?;
                self.read_bounded(decoder, limit)
            }
        }
    }

    /// Drains a streaming decoder into a buffer of at most `limit` bytes.
    fn read_bounded(self, reader: impl Read, limit: usize) -> Result<Vec<u8>, CompressionError> {
        let mut out = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        reader
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| self.corrupt(e))?;
        if out.len() > limit {
            return Err(self.too_large(limit));
        }
        Ok(out)
    }

    fn too_large(self, limit: usize) -> CompressionError {
        CompressionError::TooLarge { codec: self, limit }
    }

    fn corrupt(self, reason: impl fmt::Display) -> CompressionError {
        CompressionError::Corrupt {
            codec: self,
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = CompressionError;

    /// Parses a `compression.type` / `compression.codec` name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| CompressionError::UnknownName(s.to_owned()))
    }
}

impl TryFrom<i16> for Compression {
    type Error = CompressionError;

    fn try_from(id: i16) -> Result<Self, Self::Error> {
        Compression::from_id(id)
    }
}

/// snappy-java's framed format, as Java's `SnappyOutputStream` writes it.
fn xerial_compress(data: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + snap::raw::max_compress_len(data.len()));
    out.extend_from_slice(XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes()); // version
    out.extend_from_slice(&1i32.to_be_bytes()); // minimum compatible version
    let mut encoder = snap::raw::Encoder::new();
    for chunk in data.chunks(XERIAL_BLOCK) {
        let block = encoder
            .compress_vec(chunk)
            .map_err(|e| CompressionError::Compress {
                codec: Compression::Snappy,
                reason: e.to_string(),
            })?;
        // A block of a 32 KiB chunk is far below i32::MAX bytes.
        out.extend_from_slice(&(block.len() as i32).to_be_bytes());
        out.extend_from_slice(&block);
    }
    Ok(out)
}

/// Reads either framing: xerial when the magic is there, otherwise one raw
/// snappy block (librdkafka), as snappy-java and librdkafka both do.
fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    match data.strip_prefix(XERIAL_MAGIC.as_slice()) {
        Some(rest) => {
            let mut blocks = rest
                .get(XERIAL_HEADER_LEN - XERIAL_MAGIC.len()..)
                .ok_or_else(|| Compression::Snappy.corrupt("truncated xerial header"))?;
            while !blocks.is_empty() {
                let (len, rest) = blocks
                    .split_first_chunk::<4>()
                    .ok_or_else(|| Compression::Snappy.corrupt("truncated xerial block length"))?;
                let len = usize::try_from(i32::from_be_bytes(*len))
                    .map_err(|_| Compression::Snappy.corrupt("negative xerial block length"))?;
                let block = rest
                    .get(..len)
                    .ok_or_else(|| Compression::Snappy.corrupt("truncated xerial block"))?;
                snappy_block(block, limit, &mut out)?;
                blocks = &rest[len..];
            }
        }
        None => snappy_block(data, limit, &mut out)?,
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, checking the length the block
/// declares against what is left of `limit` before allocating for it.
fn snappy_block(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let corrupt = |e: snap::Error| Compression::Snappy.corrupt(e);
    let len = snap::raw::decompress_len(block).map_err(corrupt)?;
    if len > limit.saturating_sub(out.len()) {
        return Err(Compression::Snappy.too_large(limit));
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(corrupt)?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn ids_and_names_match_kafka() {
        for (id, name) in ["none", "gzip", "snappy", "lz4", "zstd"].iter().enumerate() {
            let c = Compression::from_id(id as i16).unwrap();
            assert_eq!((c.id(), c.name()), (id as i16, *name));
            assert_eq!(name.parse::<Compression>().unwrap(), c);
        }
        for id in [5, 7, -1] {
            assert_eq!(
                Compression::from_id(id),
                Err(CompressionError::UnknownCodec(id))
            );
        }
        assert!("brotli".parse::<Compression>().is_err());
    }

    #[test]
    fn every_codec_round_trips() {
        let data = sample();
        for c in Compression::ALL {
            let packed = c.compress(&data).unwrap();
            if c != Compression::None {
                assert!(packed.len() < data.len() / 2, "{c} did not compress");
            }
            assert_eq!(c.decompress(&packed).unwrap(), data, "{c}");
            assert_eq!(c.decompress(&c.compress(&[]).unwrap()).unwrap(), b"");
        }
    }

    #[test]
    fn snappy_writes_xerial_frames_and_reads_raw_blocks() {
        let data = sample();
        let framed = Compression::Snappy.compress(&data).unwrap();
        assert_eq!(&framed[..8], XERIAL_MAGIC);
        assert_eq!(&framed[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(Compression::Snappy.decompress(&raw).unwrap(), data);
    }

    #[test]
    fn every_codec_refuses_to_expand_past_the_limit() {
        let zeros = vec![0u8; 1 << 20];
        for c in Compression::ALL {
            let packed = c.compress(&zeros).unwrap();
            assert_eq!(
                c.decompress_with_limit(&packed, 1000),
                Err(CompressionError::TooLarge {
                    codec: c,
                    limit: 1000
                }),
                "{c}"
            );
            assert_eq!(
                c.decompress_with_limit(&packed, 1 << 20).unwrap().len(),
                1 << 20
            );
        }
    }

    #[test]
    fn snappy_bomb_is_refused_before_allocation() {
        // A raw block claiming a 4 GiB output (varint 0xffffffff) with no data.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(
            Compression::Snappy.decompress(&bomb),
            Err(CompressionError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_input_is_an_error() {
        let data = sample();
        for c in &Compression::ALL[1..] {
            let packed = c.compress(&data).unwrap();
            let cut = &packed[..packed.len() / 2];
            assert!(c.decompress(cut).is_err(), "{c}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(
            id in 1i16..5,
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let c = Compression::from_id(id).unwrap();
            let _ = c.decompress_with_limit(&bytes, 1 << 16);
        }

        #[test]
        fn never_panics_on_mutated_streams(
            id in 1i16..5,
            idx in any::<usize>(),
            byte in any::<u8>(),
            cut in any::<usize>(),
        ) {
            let c = Compression::from_id(id).unwrap();
            let mut packed = c.compress(b"some records, some records, some records").unwrap();
            let i = idx % packed.len();
            packed[i] = byte;
            packed.truncate(cut % (packed.len() + 1));
            let _ = c.decompress_with_limit(&packed, 1 << 16);
        }
    }
}
