//! The replica manager (Kafka's `ReplicaManager`): the partitions this broker
//! hosts, whether it leads or follows each as the controller says
//! (LeaderAndIsr, StopReplica), the produce, fetch and list-offsets
//! operations their leader serves, and replication.
//!
//! Replication as in ZooKeeper-mode Kafka: followers fetch from their leader
//! (`fetcher`) and append what they get with the leader's offsets; the
//! leader learns each follower's log end offset from its fetches, keeps the
//! ISR (`partition`, written to ZooKeeper through `isr`) and commits
//! records once every in-sync replica has them (the high watermark), and
//! consumers see only committed records; an acks=all producer is answered
//! once its records are committed, and refused while the ISR is smaller
//! than `min.insync.replicas`. A follower of a new leader first asks it
//! where their logs diverge (OffsetForLeaderEpoch, `truncation`) and
//! truncates there before fetching.

mod config;
mod error;
mod fetcher;
#[cfg(test)]
mod fetcher_tests;
mod isr;
mod manager;
mod partition;
mod remote_replica;
#[cfg(test)]
mod replication_tests;
mod state_change;
#[cfg(test)]
mod testing;
mod truncation;

pub use config::{FetcherConfig, ReplicaConfig};
pub use error::ReplicaError;
pub use isr::{IsrStore, StoreFuture, ZkIsrStore};
pub use manager::{
    AwaitedCommit, FetchParams, FetchPartition, PartitionData, ReplicaManager, TimestampAndOffset,
};
pub use partition::{Partition, Role};
pub use state_change::{
    LeaderAndIsrPartition, PartitionResults, StopReplicaPartition, EPOCH_DURING_DELETE, NO_EPOCH,
    NO_LEADER,
};
