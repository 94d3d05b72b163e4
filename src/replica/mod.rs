//! The replica manager (Kafka's `ReplicaManager`): the partitions this broker
//! hosts, whether it leads or follows each as the controller says
//! (LeaderAndIsr, StopReplica), and the produce, fetch and list-offsets
//! operations their leader serves.
//!
//! Followers do not replicate yet: a follower only refuses clients, and the
//! leader's high watermark follows its own log end offset. Follower fetching,
//! the ISR and delayed acks=all produce arrive with replication.

mod error;
mod manager;
mod partition;
mod state_change;
#[cfg(test)]
mod testing;

pub use error::ReplicaError;
pub use manager::{FetchPartition, PartitionData, ReplicaManager, TimestampAndOffset};
pub use partition::{Partition, Role};
pub use state_change::{
    LeaderAndIsrPartition, PartitionResults, StopReplicaPartition, EPOCH_DURING_DELETE, NO_EPOCH,
    NO_LEADER,
};
