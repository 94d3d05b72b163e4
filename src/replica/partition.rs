//! One hosted partition (Kafka's `Partition`): its local log, whether this
//! broker leads or follows it, and the leader epoch the controller gave it.

use std::sync::{RwLock, RwLockReadGuard};

use crate::log::{manager::lock, PartitionLog, SharedLog};
use crate::zk::data::BrokerId;
use crate::TopicPartition;

use super::error::ReplicaError;

/// This broker's part in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Serves produce, fetch and list-offsets.
    Leader,
    /// Refuses clients (NOT_LEADER_OR_FOLLOWER). `leader` is `None` while
    /// the partition has no leader.
    Follower { leader: Option<BrokerId> },
}

/// The leader epoch of a partition not placed yet.
const NO_LEADER_EPOCH: i32 = -1;

/// Role and epoch change together, under one lock.
#[derive(Debug, Clone, Copy)]
struct Leadership {
    role: Role,
    leader_epoch: i32,
}

pub struct Partition {
    topic_partition: TopicPartition,
    log: SharedLog,
    /// Held for reading while a client operation uses the log, so a
    /// leadership change waits for appends in flight (Kafka's
    /// `leaderIsrUpdateLock`). Always taken before the log's lock.
    leadership: RwLock<Leadership>,
}

impl Partition {
    /// A partition the controller has not placed yet: it follows no one, in
    /// no epoch (Kafka starts a `Partition` at leader epoch -1), until
    /// [`set_leadership`](Self::set_leadership).
    pub fn new(topic_partition: TopicPartition, log: SharedLog) -> Self {
        Partition {
            topic_partition,
            log,
            leadership: RwLock::new(Leadership {
                role: Role::Follower { leader: None },
                leader_epoch: NO_LEADER_EPOCH,
            }),
        }
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn leader_epoch(&self) -> i32 {
        self.read_leadership().leader_epoch
    }

    pub fn role(&self) -> Role {
        self.read_leadership().role
    }

    /// Takes the `role` in `leader_epoch`. A new leader's high watermark is
    /// its log end offset: with no followers fetching yet, this broker is the
    /// only replica it counts, as a Kafka leader whose ISR is itself
    /// (replication replaces this with the ISR's smallest log end offset).
    /// A follower keeps its high watermark; it will learn the leader's from
    /// its fetches.
    pub fn set_leadership(&self, role: Role, leader_epoch: i32) {
        let mut leadership = self.leadership.write().unwrap_or_else(|p| p.into_inner());
        *leadership = Leadership { role, leader_epoch };
        if role == Role::Leader {
            let mut log = self.log();
            let end = log.log_end_offset();
            log.set_high_watermark(end);
        }
    }

    /// Runs `operation` on the log with the leader epoch, if this broker
    /// leads the partition in the epoch the client believes current (Kafka's
    /// `Partition.getLocalLog` with `requireLeader`). `current_leader_epoch`
    /// `None` skips the epoch check (clients before Fetch v9 / ListOffsets v4,
    /// or that do not know it).
    pub fn with_leader_log<R>(
        &self,
        current_leader_epoch: Option<i32>,
        operation: impl FnOnce(&mut PartitionLog, i32) -> Result<R, ReplicaError>,
    ) -> Result<R, ReplicaError> {
        let leadership = self.read_leadership();
        let epoch = leadership.leader_epoch;
        match current_leader_epoch {
            Some(theirs) if theirs < epoch => {
                return Err(ReplicaError::FencedLeaderEpoch {
                    tp: self.topic_partition.clone(),
                    request: theirs,
                    current: epoch,
                })
            }
            Some(theirs) if theirs > epoch => {
                return Err(ReplicaError::UnknownLeaderEpoch {
                    tp: self.topic_partition.clone(),
                    request: theirs,
                    current: epoch,
                })
            }
            _ => {}
        }
        if let Role::Follower { leader } = leadership.role {
            return Err(ReplicaError::NotLeader {
                tp: self.topic_partition.clone(),
                leader,
            });
        }
        operation(&mut self.log(), epoch)
    }

    /// Locks the log for one operation.
    pub fn log(&self) -> std::sync::MutexGuard<'_, PartitionLog> {
        lock(&self.log)
    }

    fn read_leadership(&self) -> RwLockReadGuard<'_, Leadership> {
        self.leadership.read().unwrap_or_else(|p| p.into_inner())
    }
}
