//! gregor's own Kafka client, speaking the same wire protocol as the
//! clients people already use.
//!
//! [`BrokerConnection`] is a request/response exchange with one broker (the
//! controller's channel to the brokers, `crate::controller::channel`, is
//! built on it); [`NetworkClient`] routes requests to the right broker from
//! the cluster's metadata, and the producer, consumer and admin client
//! behind the `gregor` commands are built on that.

pub mod connection;
pub mod consumer;
pub mod network;

pub use connection::{BrokerConnection, ClientError, DEFAULT_REQUEST_TIMEOUT, MAX_RESPONSE_SIZE};
pub use network::{ClientConfig, ClusterMetadata, NetworkClient, PartitionInfo, TopicInfo};
