//! How a leader records a change of its partition's in-sync replicas, as a
//! ZooKeeper-mode Kafka leader does (`Partition.expandIsr` / `shrinkIsr`
//! through `ReplicationUtils.updateLeaderAndIsr`): a conditional write of
//! the partition state znode at the zkVersion the leader holds, then an
//! `/isr_change_notification` entry so the controller sends the new ISR to
//! every broker (UpdateMetadata).
//!
//! The replica manager reaches ZooKeeper only through [`IsrStore`], so it
//! can be tested without one.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::watch;

use gregor_protocol::TopicPartition;
use gregor_zk::client::{KafkaZkClient, ZkError};
use gregor_zk::data::LeaderIsrAndControllerEpoch;

/// A future of an [`IsrStore`] operation.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ZkError>> + Send + 'a>>;

/// Where a leader writes its ISR changes: ZooKeeper in a broker
/// ([`ZkIsrStore`]), a fake in tests.
pub trait IsrStore: Send + Sync {
    /// Replaces the partition's state with `state` if its znode is still at
    /// `zk_version`, and returns the new zkVersion;
    /// [`ZkError::BadVersion`] if someone (the controller) wrote it since.
    fn update_partition_state<'a>(
        &'a self,
        tp: &'a TopicPartition,
        state: &'a LeaderIsrAndControllerEpoch,
        zk_version: i32,
    ) -> StoreFuture<'a, i32>;

    /// Tells the controller that the ISR of `partitions` changed.
    fn notify_isr_change<'a>(&'a self, partitions: &'a [TopicPartition]) -> StoreFuture<'a, ()>;
}

/// One ISR change on its way to the store: the partition's new state,
/// written as its leader in `leader_epoch` at the zkVersion it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IsrUpdate {
    pub topic_partition: TopicPartition,
    pub leader_epoch: i32,
    /// Leader, leader epoch, new ISR and the epoch of the controller that
    /// last wrote the state, which the leader keeps (Kafka's
    /// `updateLeaderAndIsr` writes the partition's controller epoch back).
    pub state: LeaderIsrAndControllerEpoch,
    pub zk_version: i32,
}

/// The broker's [`IsrStore`]: the current ZooKeeper session's client.
pub struct ZkIsrStore {
    sessions: watch::Receiver<KafkaZkClient>,
}

impl ZkIsrStore {
    /// Writes through the client of whichever session is current
    /// (`ZkSession::subscribe`), across session expiry.
    pub fn new(sessions: watch::Receiver<KafkaZkClient>) -> Self {
        ZkIsrStore { sessions }
    }

    fn client(&self) -> KafkaZkClient {
        self.sessions.borrow().clone()
    }
}

impl IsrStore for ZkIsrStore {
    /// A write whose answer was lost (the connection dropped after
    /// ZooKeeper applied it) is retried at the old zkVersion and fails; as
    /// Kafka's `checkLeaderAndIsrZkData`, finding exactly the state written
    /// counts as success at the znode's version.
    fn update_partition_state<'a>(
        &'a self,
        tp: &'a TopicPartition,
        state: &'a LeaderIsrAndControllerEpoch,
        zk_version: i32,
    ) -> StoreFuture<'a, i32> {
        Box::pin(async move {
            let zk = self.client();
            let (topic, partition) = (tp.topic.as_str(), tp.partition);
            match zk
                .update_partition_state(topic, partition, state, zk_version)
                .await
            {
                Err(bad @ ZkError::BadVersion { .. }) => {
                    match zk.get_partition_state(topic, partition).await? {
                        Some(current) if current.value == *state => Ok(current.zk_version),
                        _ => Err(bad),
                    }
                }
                written => written,
            }
        })
    }

    fn notify_isr_change<'a>(&'a self, partitions: &'a [TopicPartition]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let path = self
                .client()
                .create_isr_change_notification(partitions)
                .await?;
            ::log::debug!("ISR change of {partitions:?} announced at {path}");
            Ok(())
        })
    }
}
