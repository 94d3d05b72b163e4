//! gregor: a message broker faithful to Apache Kafka's ZooKeeper-coordinated
//! architecture, speaking Kafka's wire protocol.
//!
//! See `shared/design/ARCHITECTURE.md` for the module map.

pub mod config;
pub mod log;
pub mod protocol;
pub mod record;
pub mod server;
mod topic_partition;

pub use topic_partition::TopicPartition;
