//! The partition log: segments, indexes, recovery, retention.

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
