//! What gregor's tests share, kept out of every library so that no test
//! helper ships: a stand-in broker answer for code that exercises the socket
//! server without a broker behind it (the dispatch unit tests, the server's
//! and the client's tests, the pipeline benchmark and the request fuzzer).
//!
//! A dev-dependency only; it may depend on any library crate, and none may
//! depend on it outside `[dev-dependencies]`.

use gregor_protocol::api::metadata::{MetadataRequest, MetadataResponse, MetadataResponseTopic};
use gregor_server::{Reply, RequestContext, RequestHandler};

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
