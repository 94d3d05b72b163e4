//! The controller: one broker, elected through ZooKeeper, that owns every
//! partition leadership decision (Kafka's `kafka.controller` package).
//!
//! So far only [`election`]: winning `/controller` and bumping
//! `/controller_epoch`, as Kafka's `KafkaController.elect()`.
//! Also [`channel`]: the per-broker request queues (`ControllerChannelManager`).

pub mod channel;
pub mod election;

pub use election::{elect, ControllerElector, ControllerState, Election};
