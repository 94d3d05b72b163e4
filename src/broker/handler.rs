//! The broker as the server's request handler: each API method forwards to
//! its handler in `apis/`.

use crate::protocol::api::controlled_shutdown::{
    ControlledShutdownRequest, ControlledShutdownResponse,
};
use crate::protocol::api::create_topics::{CreateTopicsRequest, CreateTopicsResponse};
use crate::protocol::api::delete_topics::{DeleteTopicsRequest, DeleteTopicsResponse};
use crate::protocol::api::describe_configs::{DescribeConfigsRequest, DescribeConfigsResponse};
use crate::protocol::api::fetch::{FetchRequest, FetchResponse};
use crate::protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use crate::protocol::api::leader_and_isr::{LeaderAndIsrRequest, LeaderAndIsrResponse};
use crate::protocol::api::list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
use crate::protocol::api::metadata::{MetadataRequest, MetadataResponse};
use crate::protocol::api::offset_for_leader_epoch::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use crate::protocol::api::produce::{ProduceRequest, ProduceResponse};
use crate::protocol::api::stop_replica::{StopReplicaRequest, StopReplicaResponse};
use crate::protocol::api::update_metadata::{UpdateMetadataRequest, UpdateMetadataResponse};
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
        let outcome = Broker::produce(self, request).await;
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

    async fn leader_and_isr(
        &self,
        ctx: &RequestContext<'_>,
        request: LeaderAndIsrRequest,
    ) -> Reply<LeaderAndIsrResponse> {
        Reply::Respond(Broker::leader_and_isr(self, request, ctx.header.api_version).await)
    }

    async fn stop_replica(
        &self,
        _ctx: &RequestContext<'_>,
        request: StopReplicaRequest,
    ) -> Reply<StopReplicaResponse> {
        Reply::Respond(Broker::stop_replica(self, request).await)
    }

    async fn update_metadata(
        &self,
        ctx: &RequestContext<'_>,
        request: UpdateMetadataRequest,
    ) -> Reply<UpdateMetadataResponse> {
        Reply::Respond(Broker::update_metadata(self, request, ctx.header.api_version).await)
    }

    async fn create_topics(
        &self,
        _ctx: &RequestContext<'_>,
        request: CreateTopicsRequest,
    ) -> Reply<CreateTopicsResponse> {
        Reply::Respond(Broker::create_topics(self, request).await)
    }

    async fn delete_topics(
        &self,
        _ctx: &RequestContext<'_>,
        request: DeleteTopicsRequest,
    ) -> Reply<DeleteTopicsResponse> {
        Reply::Respond(Broker::delete_topics(self, request).await)
    }

    async fn init_producer_id(
        &self,
        _ctx: &RequestContext<'_>,
        request: InitProducerIdRequest,
    ) -> Reply<InitProducerIdResponse> {
        Reply::Respond(Broker::init_producer_id(self, request).await)
    }

    async fn controlled_shutdown(
        &self,
        _ctx: &RequestContext<'_>,
        request: ControlledShutdownRequest,
    ) -> Reply<ControlledShutdownResponse> {
        Reply::Respond(self.controlled_shutdown_request(request).await)
    }

    async fn offset_for_leader_epoch(
        &self,
        _ctx: &RequestContext<'_>,
        request: OffsetForLeaderEpochRequest,
    ) -> Reply<OffsetForLeaderEpochResponse> {
        Reply::Respond(Broker::offset_for_leader_epoch(self, request))
    }

    async fn describe_configs(
        &self,
        _ctx: &RequestContext<'_>,
        request: DescribeConfigsRequest,
    ) -> Reply<DescribeConfigsResponse> {
        Reply::Respond(Broker::describe_configs(self, request).await)
    }
}

#[cfg(test)]
mod tests {
    use crate::protocol::ApiKey;
    use crate::server::dispatch::supported_apis;

    #[test]
    fn controller_requests_are_served_in_every_version_the_codecs_know() {
        let apis = supported_apis();
        assert!(apis.contains(&(ApiKey::LeaderAndIsr, 0..=5)));
        assert!(apis.contains(&(ApiKey::StopReplica, 0..=3)));
        assert!(apis.contains(&(ApiKey::UpdateMetadata, 0..=7)));
        assert!(apis.contains(&(ApiKey::OffsetForLeaderEpoch, 0..=4)));
    }
}
