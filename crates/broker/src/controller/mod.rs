//! The controller: one broker, elected through ZooKeeper, that owns every
//! partition leadership decision (Kafka's `kafka.controller` package).
//!
//! Its decisions are a sans-io core, testable without ZooKeeper or sockets:
//!
//! - [`kafka_controller`]: [`KafkaController`], the event handlers —
//!   failover, broker failures and arrivals, topic creation, preferred
//!   leader election, ISR change notifications, controlled shutdown — fed
//!   [`event`]s and returning [`decision`]s, waiting through [`port`]
//!   whenever a handler needs ZooKeeper's answer;
//! - [`context`], `partition_state_machine`, `replica_state_machine`,
//!   [`leader_election`], `reassignment`, `topic_deletion`: its state, the
//!   state machines with Kafka's legal transitions, and the decisions;
//! - [`request_batch`]: LeaderAndIsr, UpdateMetadata and StopReplica per
//!   broker.
//!
//! Around it, the I/O: [`election`] (winning `/controller` and bumping
//! `/controller_epoch`), [`executor`] (the elected controller's task:
//! ZooKeeper, watches, timers) and [`channel`] (the connections to brokers).

pub mod channel;
pub mod context;
pub mod decision;
pub mod election;
pub mod event;
pub mod executor;
pub mod kafka_controller;
pub mod leader_election;
pub mod partition_state_machine;
pub mod port;
mod reassignment;
pub mod replica_state_machine;
pub mod request_batch;
mod topic_deletion;

#[cfg(test)]
mod tests;

pub use decision::ControlledShutdownError;
pub use election::{elect, ControllerElector, ControllerState, Election};
pub use executor::{ActiveController, ControllerHandle};
pub use kafka_controller::{ControllerConfig, KafkaController};
