//! Errors of produce/fetch/list-offsets, and the Kafka error code each one
//! is answered with on the wire.

use crate::log::producer_state::ProducerStateError;
use crate::log::LogError;
use crate::protocol::ErrorCode;
use crate::record::BatchError;
use crate::TopicPartition;

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("this broker hosts no partition {0}")]
    UnknownTopicOrPartition(TopicPartition),
    #[error(transparent)]
    Log(#[from] LogError),
}

impl ReplicaError {
    /// The code a client gets for this error, as Kafka maps its exceptions.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ReplicaError::UnknownTopicOrPartition(_) => ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            ReplicaError::Log(LogError::InvalidBatch(e)) => match e {
                BatchError::TooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
                BatchError::UnsupportedMagic(_) => ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
                BatchError::InconsistentCount { .. } => ErrorCode::INVALID_RECORD,
                BatchError::CorruptCrc { .. }
                | BatchError::Truncated { .. }
                | BatchError::InvalidLength(_) => ErrorCode::CORRUPT_MESSAGE,
            },
            // A stored batch whose records do not decode: Kafka's
            // CorruptRecordException.
            ReplicaError::Log(LogError::InvalidRecords(_)) => ErrorCode::CORRUPT_MESSAGE,
            ReplicaError::Log(LogError::ProducerState(e)) => match e {
                ProducerStateError::InvalidProducerEpoch { .. } => {
                    ErrorCode::INVALID_PRODUCER_EPOCH
                }
                ProducerStateError::OutOfOrderSequence { .. } => {
                    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                }
                ProducerStateError::InvalidBatch { .. } => ErrorCode::INVALID_RECORD,
            },
            ReplicaError::Log(LogError::OffsetOutOfRange { .. }) => ErrorCode::OFFSET_OUT_OF_RANGE,
            ReplicaError::Log(_) => ErrorCode::KAFKA_STORAGE_ERROR,
        }
    }
}
