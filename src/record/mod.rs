//! Kafka's record batch format (magic v2), shared by the log and the wire
//! protocol.
//!
//! The broker stores batches exactly as producers sent them; this module only
//! parses and validates the 61-byte batch header (with nom), checks the
//! CRC32C, and builds uncompressed batches for gregor's own producer and
//! tests.

mod batch;
mod builder;

pub use batch::{
    parse_batch, BatchError, BatchHeader, Batches, HEADER_LEN, LEADER_EPOCH_AT, LOG_OVERHEAD,
    MAGIC_V2,
};
pub use builder::{Record, RecordBatchBuilder};
