//! Kafka's binary wire protocol: framing, primitives, headers and one module
//! per API, so unmodified Kafka clients can talk to gregor.
//!
//! The flow for a request: [`frame::FrameDecoder`] splits a frame off the
//! connection's buffer, [`header::RequestHeader::decode`] reads the header,
//! and the server's dispatch table (`gregor_server::dispatch`, the one list
//! of implemented APIs) decodes the body with the API's
//! [`Message::decode_prefix`]. Every byte field (records above all) stays a
//! slice of the frame's `Bytes`: nothing from the socket is copied.
//!
//! To add an API or a version, see [`codec`].
//!
//! # Place in the workspace
//! The bottom crate: every other gregor crate builds on it. It owns the wire
//! codec and the Kafka types all layers share ([`BrokerId`],
//! [`TopicPartition`], the one [`Uuid`], [`ErrorCode`]). It must never depend
//! on tokio, ZooKeeper, memory maps, the file system or another gregor crate:
//! a message is bytes in, a value out (sans-io), so it can be fuzzed and
//! property-tested alone. See `docs/ARCHITECTURE.md` for the crate map.

pub mod api;
pub mod api_key;
pub mod codec;
pub mod consumer_protocol;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod header;
pub mod id;
pub mod primitives;
#[cfg(test)]
pub(crate) mod testing;

pub use api_key::ApiKey;
pub use codec::{Codec, Message, Request};
pub use error::{DecodeError, EncodeError, PResult};
pub use error_code::ErrorCode;
pub use frame::{FrameDecoder, FrameError};
pub use header::{RequestHeader, ResponseHeader};
pub use id::Uuid;
pub use topic_partition::TopicPartition;

mod topic_partition;

/// A broker's `broker.id`, as every znode, request and response carries it.
pub type BrokerId = i32;
