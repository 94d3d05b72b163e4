//! The broker as the server's request handler: each API method forwards to
//! its handler in `apis/`.

use crate::protocol::api::fetch::{FetchRequest, FetchResponse};
use crate::protocol::api::list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
use crate::protocol::api::metadata::{MetadataRequest, MetadataResponse};
use crate::protocol::api::produce::{ProduceRequest, ProduceResponse};
use crate::server::{Reply, RequestContext, RequestHandler};

use super::Broker;

/// `acks=0`: the producer reads no response.
const NO_ACKS: i16 = 0;

impl RequestHandler for Broker {
    async fn produce(
        &self,
        _ctx: &RequestContext<'_>,
        request: ProduceRequest,
    ) -> Reply<ProduceResponse> {
        let acks = request.acks;
        let outcome = Broker::produce(self, request);
        match (acks, outcome.any_error) {
            (NO_ACKS, false) => Reply::NoResponse,
            // Kafka closes the connection so that a producer that reads no
            // responses notices the failure (and refreshes its metadata).
            (NO_ACKS, true) => Reply::CloseConnection,
            _ => Reply::Respond(outcome.response),
        }
    }

    async fn fetch(
        &self,
        _ctx: &RequestContext<'_>,
        request: FetchRequest,
    ) -> Reply<FetchResponse> {
        Reply::Respond(Broker::fetch(self, request).await)
    }

    async fn list_offsets(
        &self,
        _ctx: &RequestContext<'_>,
        request: ListOffsetsRequest,
    ) -> Reply<ListOffsetsResponse> {
        Reply::Respond(Broker::list_offsets(self, request))
    }

    async fn metadata(
        &self,
        ctx: &RequestContext<'_>,
        request: MetadataRequest,
    ) -> Reply<MetadataResponse> {
        Reply::Respond(Broker::metadata(self, request, ctx.header.api_version).await)
    }
}
