//! gregor: a message broker faithful to Apache Kafka's ZooKeeper-coordinated
//! architecture, speaking Kafka's wire protocol.
//!
//! `docs/ARCHITECTURE.md` in the repository describes the design and the
//! module map.

pub mod admin;
pub mod broker;
pub mod client;
pub mod config;
pub mod controller;
pub mod coordinator;
pub mod log;
pub mod metadata;
pub mod protocol;
pub mod record;
pub mod replica;
pub mod server;
mod topic_partition;
pub mod zk;

pub use topic_partition::TopicPartition;

// zookeeper-client runs its session task through `spawns`; linking `spawns`
// with its tokio feature is what routes that task onto the tokio runtime
// (without it `connect` panics with "no spawner").
use spawns as _;
