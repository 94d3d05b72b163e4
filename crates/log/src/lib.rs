//! The partition log: segments, indexes, recovery, retention.
//!
//! Owns Kafka's on-disk layout of a partition (`.log`, `.index`, `.timeindex`,
//! `.snapshot`, `leader-epoch-checkpoint`, the recovery and cleaner
//! checkpoints, `meta.properties`), the log manager's threads, the cleaner and
//! idempotent-producer state. Built on `gregor-record`; it must never depend on
//! ZooKeeper, sockets, the controller or the replica manager: leadership and
//! replication drive it from `gregor-broker` through plain method calls. It
//! runs on its own threads and uses no tokio. The only unsafe code of the
//! workspace lives here (memory-mapped indexes), each block with its
//! `// SAFETY:` note.

pub mod checkpoint;
pub mod cleaner;
pub mod config;
mod error;
pub mod index;
pub mod leader_epoch;
pub mod manager;
pub mod partition_log;
pub mod producer_state;
pub mod segment;

pub use cleaner::CleanerConfig;
pub use config::{CleanupPolicy, LogConfig};
pub use error::{LogError, Result};
pub use manager::{LogManager, LogManagerConfig, SharedLog};
pub use partition_log::{LoadState, LogAppendInfo, PartitionLog};
pub use segment::FileRange;
#[cfg(test)]
mod tests;
