//! gregor's own Kafka client, speaking the same wire protocol as the
//! clients people already use.
//!
//! So far it is one [`BrokerConnection`]: a request/response exchange with
//! one broker, which the controller's channel to the brokers
//! (`crate::controller::channel`) is built on. It will grow into the
//! producer, consumer and admin client behind the `gregor produce`,
//! `consume` and `topics` commands (issue 9).

pub mod connection;

pub use connection::{BrokerConnection, ClientError, DEFAULT_REQUEST_TIMEOUT, MAX_RESPONSE_SIZE};
