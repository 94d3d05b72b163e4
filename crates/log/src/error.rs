//! Errors of the storage layer.

use std::io;
use std::path::PathBuf;

use gregor_record::{BatchError, RecordError};

use super::producer_state::ProducerStateError;

/// What can go wrong in a partition log or the log manager.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("invalid record batch: {0}")]
    InvalidBatch(#[from] BatchError),
    /// A stored batch whose records cannot be decoded (bad compressed data,
    /// malformed records) although its header and CRC were valid.
    #[error("invalid records in a stored batch: {0}")]
    InvalidRecords(#[from] RecordError),
    /// An idempotent producer's batch out of sequence or from a fenced epoch.
    #[error(transparent)]
    ProducerState(#[from] ProducerStateError),
    /// A record without a key sent to a `cleanup.policy=compact` topic
    /// (Kafka's InvalidRecordException: INVALID_RECORD).
    #[error("a compacted topic cannot accept a record without a key")]
    MissingKeyInCompactedTopic,
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// Batches fetched from the leader do not continue the follower's log
    /// where it ends (or are not contiguous among themselves).
    #[error(
        "a follower append must start at or after offset {expected}, the batch starts at {found}"
    )]
    UnexpectedAppendOffset { expected: i64, found: i64 },
    #[error("malformed file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} is not a partition directory (expected <topic>-<partition>)")]
    NotAPartitionDir { path: PathBuf },
    #[error("broker.id {configured} does not match {found} in {path}")]
    InconsistentBrokerId {
        configured: i32,
        found: i32,
        path: PathBuf,
    },
    /// The log dir belongs to another cluster (Kafka's
    /// InconsistentClusterIdException).
    #[error("cluster id {current} does not match {found} in {path}")]
    InconsistentClusterId {
        current: String,
        found: String,
        path: PathBuf,
    },
    #[error("the log manager has been shut down")]
    ShutDown,
}

impl LogError {
    /// Wraps an I/O error with the file it happened on, so messages say
    /// where. The path is only copied if there is an error: this sits on the
    /// append and read paths.
    pub fn io<P: AsRef<std::path::Path>>(path: P) -> impl FnOnce(io::Error) -> LogError {
        move |source| LogError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = LogError> = std::result::Result<T, E>;
