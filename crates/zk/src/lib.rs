//! Everything gregor keeps in ZooKeeper, laid out exactly as Kafka 2.8 does.
//!
//! Operators inspect a gregor cluster with `zkCli` the way they would a Kafka
//! cluster, so every znode path ([`paths`]) and every JSON payload ([`data`])
//! mirrors Kafka's `kafka.zk.ZkData`. [`KafkaZkClient`] is the typed access
//! layer over those znodes (Kafka's `KafkaZkClient`), and [`ZkSession`] keeps
//! a broker's ephemeral state alive across ZooKeeper session expiry;
//! [`tree`] reads a whole tree for operators.
//!
//! # Place in the workspace
//! Built on `gregor-protocol` (broker ids, topic-partitions, topic ids) and
//! the `zookeeper-client` crate. It must never depend on the broker's
//! configuration, the log, the server or the client: what to write is
//! decided above it (the controller, the broker's start-up, the admin
//! handlers); this crate only knows how Kafka lays it out.

pub mod client;
mod controller_zk;
pub mod data;
pub mod paths;
pub mod session;
pub mod tree;

pub use client::{KafkaZkClient, Versioned, ZkError};
pub use data::{BrokerInfo, DecodeError, LeaderIsrAndControllerEpoch, TopicAssignment};
pub use session::ZkSession;

// zookeeper-client runs its session task through `spawns`; linking `spawns`
// with its tokio feature is what routes that task onto the tokio runtime
// (without it `connect` panics with "no spawner").
use spawns as _;
