//! A stand-in broker answer for code that exercises the server without a
//! broker behind it: the dispatch unit tests, `tests/server.rs`, the
//! pipeline benchmark and the request fuzzer.

use crate::protocol::api::metadata::{MetadataRequest, MetadataResponse, MetadataResponseTopic};

/// A Metadata answer that names each requested topic and says nothing else.
pub fn echo_topics(request: MetadataRequest) -> MetadataResponse {
    MetadataResponse {
        topics: request
            .topics
            .unwrap_or_default()
            .into_iter()
            .map(|t| MetadataResponseTopic {
                name: t.name,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
