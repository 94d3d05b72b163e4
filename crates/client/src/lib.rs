//! gregor's own Kafka client, speaking the same wire protocol as the
//! clients people already use.
//!
//! [`BrokerConnection`] is a request/response exchange with one broker (the
//! controller's channel to the brokers, `gregor_broker::controller::channel`, is
//! built on it); [`PipelinedConnection`] keeps several requests in flight on
//! one connection; [`NetworkClient`] routes requests to the right broker from
//! the cluster's metadata, and the [`Producer`], consumer and admin client
//! ([`admin::AdminClient`]) behind the `gregor` commands are built on those.
//! [`partitioner`] is Kafka's default partitioner.
//!
//! # Place in the workspace
//! Built on `gregor-protocol` and `gregor-record`; it must never depend on the
//! broker, the server, the log or ZooKeeper, so that it is the same client a
//! user's application would link. The broker depends on it, not the reverse.

pub mod admin;
pub mod connection;
pub mod consumer;
pub mod network;
pub mod partitioner;
pub mod pipeline;
pub mod producer;
pub mod versions;

pub use connection::{BrokerConnection, ClientError, DEFAULT_REQUEST_TIMEOUT, MAX_RESPONSE_SIZE};
pub use network::{ClientConfig, ClusterMetadata, NetworkClient, PartitionInfo, TopicInfo};
pub use pipeline::PipelinedConnection;
pub use producer::{
    Acks, DeliveryFuture, ProduceError, Producer, ProducerConfig, ProducerRecord, RecordMetadata,
};
