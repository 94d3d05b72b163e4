//! One hosted partition (Kafka's `Partition`): its local log and the leader
//! epoch this broker leads it in.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::log::{manager::lock, PartitionLog, SharedLog};
use crate::TopicPartition;

pub struct Partition {
    topic_partition: TopicPartition,
    log: SharedLog,
    leader_epoch: AtomicI32,
}

impl Partition {
    pub fn new(topic_partition: TopicPartition, log: SharedLog, leader_epoch: i32) -> Self {
        Partition {
            topic_partition,
            log,
            leader_epoch: AtomicI32::new(leader_epoch),
        }
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn set_leader_epoch(&self, epoch: i32) {
        self.leader_epoch.store(epoch, Ordering::Release);
    }

    /// Locks the log for one operation.
    pub fn log(&self) -> std::sync::MutexGuard<'_, PartitionLog> {
        lock(&self.log)
    }
}
