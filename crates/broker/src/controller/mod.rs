//! The controller: one broker, elected through ZooKeeper, that owns every
//! partition leadership decision (Kafka's `kafka.controller` package).
//!
//! - [`election`]: winning `/controller` and bumping `/controller_epoch`;
//! - [`kafka_controller`]: the elected controller's event loop — broker
//!   failures and arrivals, topic creation and deletion, preferred leader
//!   election, partition reassignment, ISR change notifications,
//!   controlled shutdown;
//! - [`context`], [`leader_election`], `partition_state_machine`,
//!   `replica_state_machine`, `reassignment`, `topic_deletion`: its state
//!   and decisions;
//! - [`request_batch`] and [`channel`]: LeaderAndIsr, UpdateMetadata and
//!   StopReplica to every broker.

pub mod channel;
pub mod context;
pub mod election;
pub mod kafka_controller;
pub mod leader_election;
mod partition_state_machine;
mod reassignment;
mod replica_state_machine;
pub mod request_batch;
mod topic_deletion;

pub use election::{elect, ControllerElector, ControllerState, Election};
pub use kafka_controller::{
    ActiveController, ControlledShutdownError, ControllerConfig, ControllerHandle,
};
