//! Kafka's record batch format (magic v2), shared by the log and the wire
//! protocol.
//!
//! The broker stores batches exactly as producers sent them; on the produce
//! and fetch paths it only parses and validates the 61-byte batch header
//! (with nom) and checks the CRC32C. Decoding the records inside a batch
//! (decompressing them first) is for ListOffsets by timestamp, gregor's own
//! consumer and the log cleaner; building batches, compressed or not, is for
//! gregor's producer, the log cleaner (which rebuilds the batches it
//! thins), benchmarks and tests.
//!
//! # Place in the workspace
//! Depends on `gregor-protocol` (its primitives) and the codec crates only;
//! it must never depend on tokio, the file system, ZooKeeper or any higher
//! gregor crate.

mod batch;
mod builder;
mod compression;
mod records;

pub use batch::{
    parse_batch, with_max_timestamp, BatchError, BatchHeader, Batches, HEADER_LEN, LEADER_EPOCH_AT,
    LOG_OVERHEAD, MAGIC_V2,
};
pub use builder::{Record, RecordBatchBuilder};
pub use compression::{Compression, CompressionError, DEFAULT_MAX_DECOMPRESSED};
pub use records::{
    create_time_max, decode_batch, DecodedRecord, RecordError, RecordHeader, Records,
};
