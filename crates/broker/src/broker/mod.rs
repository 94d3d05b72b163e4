//! A gregor broker (Kafka's `KafkaServer`): start-up in Kafka's order
//! (ZooKeeper session, cluster id, broker id, logs, hosted partitions,
//! listeners, then the ephemeral registration), the request handlers, and a
//! clean shutdown.

mod apis;
mod features;
mod handler;
mod producer_ids;
mod startup;
mod topic_configs;
mod topics;

pub use startup::{Broker, BrokerError};
pub use topics::TopicError;
