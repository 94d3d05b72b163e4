//! What the controller core decides, for the executor to perform: ZooKeeper
//! reads and writes (each answered with a [`ZkReply`] fed back into the
//! core), broker channels to open or close, requests to send, and the
//! answer to a ControlledShutdown.
//!
//! Owns: the decision and reply types. Must not depend on: tokio, the
//! ZooKeeper client, sockets — a ZooKeeper failure reaches the core as a
//! [`ZkFailure`], not as the client's error.

use std::collections::BTreeMap;

use super::context::Leadership;
use super::event::TopicSnapshot;
use super::request_batch::ControllerRequest;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_zk::data::{LeaderIsrAndControllerEpoch, PartitionReassignment, TopicAssignment};

/// One thing to do, in order: a [`Decision::Zk`] is always the last of a
/// step, as the core waits for its answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Read or write ZooKeeper; every write is fenced on the controller
    /// epoch's zkVersion by the executor.
    Zk(ZkRequest),
    /// Open (or move) the channel to a broker at `host:port`.
    ConnectBroker { broker: BrokerId, address: String },
    /// Close a dead broker's channel.
    DisconnectBroker { broker: BrokerId },
    /// Queue a request on a broker's channel.
    Send {
        broker: BrokerId,
        request: ControllerRequest,
    },
    /// Answer the ControlledShutdown being handled.
    ControlledShutdownReply(Result<Vec<TopicPartition>, ControlledShutdownError>),
}

/// A ZooKeeper operation the core needs done before it can go on.
#[derive(Debug, Clone, PartialEq)]
pub enum ZkRequest {
    /// `/brokers/topics/<topic>` and its partitions' state znodes:
    /// [`ZkReply::Topic`].
    ReadTopic { topic: String },
    /// A partition's state znode: [`ZkReply::PartitionState`].
    ReadPartitionState { tp: TopicPartition },
    /// `/config/topics/<topic>`: [`ZkReply::TopicConfig`].
    ReadTopicConfig { topic: String },
    /// Creates a new partition's state znode: [`ZkReply::Written`], or
    /// [`ZkReply::Conflict`] with the state found if it exists already.
    CreatePartitionState {
        tp: TopicPartition,
        state: LeaderIsrAndControllerEpoch,
    },
    /// Replaces a partition's state if its znode is still at
    /// `expected_zk_version`: [`ZkReply::Written`], or
    /// [`ZkReply::Conflict`] with the current state.
    UpdatePartitionState {
        tp: TopicPartition,
        state: LeaderIsrAndControllerEpoch,
        expected_zk_version: i32,
    },
    /// Rewrites `/brokers/topics/<topic>`: [`ZkReply::Done`], or
    /// [`ZkReply::UnknownTopic`] if it is gone.
    SetTopicAssignment {
        topic: String,
        assignment: TopicAssignment,
    },
    /// Leaves only `remaining` in `/admin/reassign_partitions` (deletes it
    /// when empty): [`ZkReply::Done`].
    SetPartitionReassignment {
        remaining: Vec<PartitionReassignment>,
    },
    /// Deletes a znode the controller has finished with; one already gone
    /// is fine: [`ZkReply::Done`].
    Delete { path: String },
    /// Deletes a deleted topic's znodes, its marker last: [`ZkReply::Done`].
    DeleteTopicZnodes { topic: String },
}

/// The executor's answer to a [`ZkRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZkReply {
    Done,
    Topic(Option<TopicSnapshot>),
    PartitionState(Option<Leadership>),
    TopicConfig(BTreeMap<String, String>),
    /// The conditional write succeeded; the znode is now at `zk_version`.
    Written {
        zk_version: i32,
    },
    /// The znode was not at the expected version (or already existed):
    /// its current state, re-read.
    Conflict {
        current: Option<Leadership>,
    },
    UnknownTopic,
}

/// Why ZooKeeper could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkFailure {
    /// A fenced write failed on `/controller_epoch`: another broker is the
    /// controller now, and this one must stop.
    #[error("another broker is the controller now")]
    ControllerMoved,
    /// Anything else (connection loss, a session ending): the event is
    /// handled again later.
    #[error("ZooKeeper failed: {0}")]
    Unavailable(String),
}

/// Why a ControlledShutdown was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlledShutdownError {
    #[error("broker {0} is not registered")]
    BrokerNotAvailable(BrokerId),
    #[error("broker {0} sent a stale broker epoch")]
    StaleBrokerEpoch(BrokerId),
    #[error("this broker is no longer the controller")]
    NotController,
    #[error("controller failed: {0}")]
    Failed(String),
}

impl ControlledShutdownError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ControlledShutdownError::BrokerNotAvailable(_) => ErrorCode::BROKER_NOT_AVAILABLE,
            ControlledShutdownError::StaleBrokerEpoch(_) => ErrorCode::STALE_BROKER_EPOCH,
            ControlledShutdownError::NotController => ErrorCode::NOT_CONTROLLER,
            ControlledShutdownError::Failed(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
        }
    }
}
