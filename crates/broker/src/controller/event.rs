//! What the controller reacts to (Kafka's `ControllerEvent`s), each
//! carrying the ZooKeeper data it is about, read by the executor before the
//! event enters the core.
//!
//! Owns: the event types and the [`ClusterSnapshot`] a failover loads.
//! Must not depend on: tokio, the ZooKeeper client, sockets — events are
//! plain data, so tests build them by hand.

use std::collections::{BTreeMap, BTreeSet};

use super::context::{Leadership, LiveBroker};
use super::request_batch::ControllerResponse;
use gregor_protocol::BrokerId;
use gregor_zk::data::{PartitionReassignment, TopicAssignment, TopicPartition};

/// One topic as ZooKeeper holds it: its assignment and the state znode of
/// each partition that has one (a partition without is New).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSnapshot {
    pub assignment: TopicAssignment,
    pub partition_states: BTreeMap<i32, Leadership>,
}

/// Everything a new controller loads (Kafka's `initializeControllerContext`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSnapshot {
    /// `/brokers/ids`, with each broker's epoch.
    pub brokers: BTreeMap<BrokerId, LiveBroker>,
    /// `/brokers/topics`.
    pub topics: BTreeMap<String, TopicSnapshot>,
}

/// Something the controller must react to.
#[derive(Debug, Clone, PartialEq)]
pub enum ControllerEvent {
    /// This broker was elected: load the cluster, tell every broker its
    /// partitions, repair what the previous controller left.
    Failover(ClusterSnapshot),
    /// `/brokers/ids` changed; these are the brokers registered now.
    BrokerChange(BTreeMap<BrokerId, LiveBroker>),
    /// `/brokers/topics` changed; these are its children now.
    TopicChange(BTreeSet<String>),
    /// `/brokers/topics/<topic>` changed (partitions may have been added);
    /// `None` if it is gone.
    PartitionModifications {
        topic: String,
        assignment: Option<TopicAssignment>,
    },
    /// `/admin/delete_topics` changed; these are the topics marked now.
    TopicDeletion(Vec<String>),
    /// `/admin/preferred_replica_election` changed: its partitions, `None`
    /// if there is no request.
    PreferredReplicaElection(Option<Vec<TopicPartition>>),
    /// `/admin/reassign_partitions` changed: its partitions, `None` if
    /// there is no request.
    PartitionReassignment(Option<Vec<PartitionReassignment>>),
    /// `/isr_change_notification` changed: each notification's path with
    /// the partitions it lists.
    IsrChangeNotification(Vec<(String, Vec<TopicPartition>)>),
    /// A topic's configuration changed (the broker's `/config/changes`
    /// watcher tells the controller, as Kafka's `TopicConfigHandler` does
    /// with `TopicUncleanLeaderElectionEnable`): its offline partitions may
    /// now elect an unclean leader.
    TopicConfigChange(String),
    /// `leader.imbalance.check.interval.seconds` elapsed (the executor's
    /// timer is the controller's only clock).
    AutoRebalanceTick,
    /// A broker asked to shut down; answered with a
    /// [`Decision::ControlledShutdownReply`](super::decision::Decision).
    ControlledShutdown {
        broker_id: BrokerId,
        broker_epoch: i64,
    },
    /// A broker answered one of the controller's requests.
    BrokerResponse {
        broker: BrokerId,
        response: ControllerResponse,
    },
}
