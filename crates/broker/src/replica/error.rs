//! Errors of produce/fetch/list-offsets and of the controller's requests,
//! and the Kafka error code each one is answered with on the wire.

use gregor_log::producer_state::ProducerStateError;
use gregor_log::LogError;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_record::BatchError;

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// Clients get NOT_LEADER_OR_FOLLOWER instead when the cluster has the
    /// partition: only the broker's metadata cache knows (its
    /// `partition_error_code`).
    #[error("this broker hosts no partition {0}")]
    UnknownTopicOrPartition(TopicPartition),
    #[error("this broker follows {tp} (leader: {leader:?}), it does not lead it")]
    NotLeader {
        tp: TopicPartition,
        leader: Option<BrokerId>,
    },
    /// The client's (or StopReplica's) leader epoch is older than this
    /// broker's.
    #[error("{tp}: leader epoch {request} is fenced, this broker is at epoch {current}")]
    FencedLeaderEpoch {
        tp: TopicPartition,
        request: i32,
        current: i32,
    },
    /// The client knows a newer leader epoch than this broker (which has not
    /// heard of it from the controller yet).
    #[error("{tp}: leader epoch {request} is newer than this broker's {current}")]
    UnknownLeaderEpoch {
        tp: TopicPartition,
        request: i32,
        current: i32,
    },
    /// A request from a controller older than one already heard from.
    #[error("controller epoch {request} is older than the newest seen, {newest}")]
    StaleControllerEpoch { request: i32, newest: i32 },
    /// LeaderAndIsr for a partition in a leader epoch this broker already
    /// has, or an older one.
    #[error("{tp}: leader epoch {request} is not newer than this broker's {current}")]
    StaleLeaderEpoch {
        tp: TopicPartition,
        request: i32,
        current: i32,
    },
    /// LeaderAndIsr with a topic id other than the one in the partition's
    /// `partition.metadata`.
    #[error("{0}: the topic id differs from the one in partition.metadata")]
    InconsistentTopicId(TopicPartition),
    /// LeaderAndIsr for a partition whose replicas do not include this
    /// broker.
    #[error("{tp}: broker {broker} is not one of its replicas")]
    NotAssigned {
        tp: TopicPartition,
        broker: BrokerId,
    },
    /// acks=all with fewer in-sync replicas than `min.insync.replicas`:
    /// nothing was appended.
    #[error("{tp}: the ISR has {isr} replicas, fewer than min.insync.replicas ({min})")]
    NotEnoughReplicas {
        tp: TopicPartition,
        isr: usize,
        min: u32,
    },
    /// acks=all: the batch was committed, but the ISR had meanwhile shrunk
    /// below `min.insync.replicas`.
    #[error("{tp}: committed, but the ISR shrank to {isr} replicas, fewer than min.insync.replicas ({min})")]
    NotEnoughReplicasAfterAppend {
        tp: TopicPartition,
        isr: usize,
        min: u32,
    },
    /// acks=all: the ISR did not have the batch within the produce
    /// request's timeout.
    #[error("{tp}: offset {offset} not committed within {timeout:?}")]
    CommitTimedOut {
        tp: TopicPartition,
        offset: i64,
        timeout: std::time::Duration,
    },
    #[error(transparent)]
    Log(#[from] LogError),
}

impl ReplicaError {
    /// The code a client gets for this error, as Kafka maps its exceptions.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ReplicaError::UnknownTopicOrPartition(_) | ReplicaError::NotAssigned { .. } => {
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            }
            ReplicaError::NotLeader { .. } => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ReplicaError::InconsistentTopicId(_) => ErrorCode::INCONSISTENT_TOPIC_ID,
            ReplicaError::FencedLeaderEpoch { .. } => ErrorCode::FENCED_LEADER_EPOCH,
            ReplicaError::NotEnoughReplicas { .. } => ErrorCode::NOT_ENOUGH_REPLICAS,
            ReplicaError::NotEnoughReplicasAfterAppend { .. } => {
                ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
            }
            ReplicaError::CommitTimedOut { .. } => ErrorCode::REQUEST_TIMED_OUT,
            ReplicaError::UnknownLeaderEpoch { .. } => ErrorCode::UNKNOWN_LEADER_EPOCH,
            // Kafka answers a stale leader epoch in LeaderAndIsr with the
            // controller's error too: the request comes from a controller
            // that missed a newer decision.
            ReplicaError::StaleControllerEpoch { .. } | ReplicaError::StaleLeaderEpoch { .. } => {
                ErrorCode::STALE_CONTROLLER_EPOCH
            }
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
            ReplicaError::Log(LogError::MissingKeyInCompactedTopic) => ErrorCode::INVALID_RECORD,
            ReplicaError::Log(LogError::OffsetOutOfRange { .. }) => ErrorCode::OFFSET_OUT_OF_RANGE,
            ReplicaError::Log(_) => ErrorCode::KAFKA_STORAGE_ERROR,
        }
    }
}
