//! A stand-in broker answer for code that exercises the server without a
//! broker behind it: the dispatch unit tests, `tests/server.rs`, the
//! pipeline benchmark and the request fuzzer.

use crate::protocol::api::metadata::{MetadataRequest, MetadataResponse, MetadataResponseTopic};
use crate::server::{Reply, RequestContext, RequestHandler};

/// A handler that answers Metadata with [`echo_topics`] and closes the
/// connection on everything else (the trait's default).
pub struct EchoBroker;

impl RequestHandler for EchoBroker {
    async fn metadata(
        &self,
        _ctx: &RequestContext<'_>,
        request: MetadataRequest,
    ) -> Reply<MetadataResponse> {
        echo_topics(request).into()
    }
}

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
