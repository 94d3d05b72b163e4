//! The broker as the server's request handler: each API method forwards to
//! its handler in `apis/`.

use gregor_protocol::api::alter_configs::{AlterConfigsRequest, AlterConfigsResponse};
use gregor_protocol::api::controlled_shutdown::{
    ControlledShutdownRequest, ControlledShutdownResponse,
};
use gregor_protocol::api::create_topics::{CreateTopicsRequest, CreateTopicsResponse};
use gregor_protocol::api::delete_groups::{DeleteGroupsRequest, DeleteGroupsResponse};
use gregor_protocol::api::delete_topics::{DeleteTopicsRequest, DeleteTopicsResponse};
use gregor_protocol::api::describe_configs::{DescribeConfigsRequest, DescribeConfigsResponse};
use gregor_protocol::api::describe_groups::{DescribeGroupsRequest, DescribeGroupsResponse};
use gregor_protocol::api::fetch::{FetchRequest, FetchResponse};
use gregor_protocol::api::find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
use gregor_protocol::api::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use gregor_protocol::api::incremental_alter_configs::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use gregor_protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use gregor_protocol::api::join_group::{JoinGroupRequest, JoinGroupResponse};
use gregor_protocol::api::leader_and_isr::{LeaderAndIsrRequest, LeaderAndIsrResponse};
use gregor_protocol::api::leave_group::{LeaveGroupRequest, LeaveGroupResponse};
use gregor_protocol::api::list_groups::{ListGroupsRequest, ListGroupsResponse};
use gregor_protocol::api::list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
use gregor_protocol::api::metadata::{MetadataRequest, MetadataResponse};
use gregor_protocol::api::offset_commit::{OffsetCommitRequest, OffsetCommitResponse};
use gregor_protocol::api::offset_delete::{OffsetDeleteRequest, OffsetDeleteResponse};
use gregor_protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchResponse};
use gregor_protocol::api::offset_for_leader_epoch::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use gregor_protocol::api::produce::{ProduceRequest, ProduceResponse};
use gregor_protocol::api::stop_replica::{StopReplicaRequest, StopReplicaResponse};
use gregor_protocol::api::sync_group::{SyncGroupRequest, SyncGroupResponse};
use gregor_protocol::api::update_metadata::{UpdateMetadataRequest, UpdateMetadataResponse};
use gregor_server::{Reply, RequestContext, RequestHandler};

use super::Broker;

/// `acks=0`: the producer reads no response.
const NO_ACKS: i16 = 0;

impl RequestHandler for Broker {
    fn finalized_features_epoch(&self) -> i64 {
        self.features.epoch()
    }

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

    async fn fetch(&self, ctx: &RequestContext<'_>, request: FetchRequest) -> Reply<FetchResponse> {
        let version = ctx.header.api_version;
        Reply::Respond(Broker::fetch(self, request, version).await)
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
        Reply::Respond(
            Broker::metadata(
                self,
                request,
                ctx.header.api_version,
                &ctx.connection.listener,
            )
            .await,
        )
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

    async fn alter_configs(
        &self,
        _ctx: &RequestContext<'_>,
        request: AlterConfigsRequest,
    ) -> Reply<AlterConfigsResponse> {
        Reply::Respond(Broker::alter_configs(self, request).await)
    }

    async fn incremental_alter_configs(
        &self,
        _ctx: &RequestContext<'_>,
        request: IncrementalAlterConfigsRequest,
    ) -> Reply<IncrementalAlterConfigsResponse> {
        Reply::Respond(Broker::incremental_alter_configs(self, request).await)
    }

    async fn find_coordinator(
        &self,
        ctx: &RequestContext<'_>,
        request: FindCoordinatorRequest,
    ) -> Reply<FindCoordinatorResponse> {
        Reply::Respond(
            Broker::find_coordinator(
                self,
                request,
                ctx.header.api_version,
                &ctx.connection.listener,
            )
            .await,
        )
    }

    async fn join_group(
        &self,
        ctx: &RequestContext<'_>,
        request: JoinGroupRequest,
    ) -> Reply<JoinGroupResponse> {
        Reply::Respond(Broker::join_group(self, ctx, request).await)
    }

    async fn sync_group(
        &self,
        ctx: &RequestContext<'_>,
        request: SyncGroupRequest,
    ) -> Reply<SyncGroupResponse> {
        Reply::Respond(Broker::sync_group(self, request, ctx.header.api_version).await)
    }

    async fn heartbeat(
        &self,
        _ctx: &RequestContext<'_>,
        request: HeartbeatRequest,
    ) -> Reply<HeartbeatResponse> {
        Reply::Respond(Broker::heartbeat(self, request))
    }

    async fn leave_group(
        &self,
        ctx: &RequestContext<'_>,
        request: LeaveGroupRequest,
    ) -> Reply<LeaveGroupResponse> {
        Reply::Respond(Broker::leave_group(self, request, ctx.header.api_version))
    }

    async fn offset_commit(
        &self,
        _ctx: &RequestContext<'_>,
        request: OffsetCommitRequest,
    ) -> Reply<OffsetCommitResponse> {
        Reply::Respond(Broker::offset_commit(self, request).await)
    }

    async fn offset_fetch(
        &self,
        ctx: &RequestContext<'_>,
        request: OffsetFetchRequest,
    ) -> Reply<OffsetFetchResponse> {
        Reply::Respond(Broker::offset_fetch(self, request, ctx.header.api_version))
    }

    async fn describe_groups(
        &self,
        _ctx: &RequestContext<'_>,
        request: DescribeGroupsRequest,
    ) -> Reply<DescribeGroupsResponse> {
        Reply::Respond(Broker::describe_groups(self, request))
    }

    async fn list_groups(
        &self,
        _ctx: &RequestContext<'_>,
        request: ListGroupsRequest,
    ) -> Reply<ListGroupsResponse> {
        Reply::Respond(Broker::list_groups(self, request))
    }

    async fn delete_groups(
        &self,
        _ctx: &RequestContext<'_>,
        request: DeleteGroupsRequest,
    ) -> Reply<DeleteGroupsResponse> {
        Reply::Respond(Broker::delete_groups(self, request))
    }

    async fn offset_delete(
        &self,
        _ctx: &RequestContext<'_>,
        request: OffsetDeleteRequest,
    ) -> Reply<OffsetDeleteResponse> {
        Reply::Respond(Broker::offset_delete(self, request))
    }
}

#[cfg(test)]
mod tests {
    use gregor_protocol::ApiKey;
    use gregor_server::dispatch::supported_apis;

    #[test]
    fn controller_requests_are_served_in_every_version_the_codecs_know() {
        let apis = supported_apis();
        assert!(apis.contains(&(ApiKey::LeaderAndIsr, 0..=5)));
        assert!(apis.contains(&(ApiKey::StopReplica, 0..=3)));
        assert!(apis.contains(&(ApiKey::UpdateMetadata, 0..=7)));
        assert!(apis.contains(&(ApiKey::OffsetForLeaderEpoch, 0..=4)));
    }

    #[test]
    fn config_apis_are_served_in_kafka_2_8_versions() {
        let apis = supported_apis();
        assert!(apis.contains(&(ApiKey::DescribeConfigs, 0..=4)));
        assert!(apis.contains(&(ApiKey::AlterConfigs, 0..=1)));
        assert!(apis.contains(&(ApiKey::IncrementalAlterConfigs, 0..=1)));
    }

    #[test]
    fn group_apis_are_served_in_kafka_2_8_versions_and_later() {
        let apis = supported_apis();
        for (key, versions) in [
            (ApiKey::FindCoordinator, 0..=4),
            (ApiKey::JoinGroup, 0..=7),
            (ApiKey::SyncGroup, 0..=5),
            (ApiKey::Heartbeat, 0..=4),
            (ApiKey::LeaveGroup, 0..=4),
            (ApiKey::OffsetCommit, 0..=8),
            (ApiKey::OffsetFetch, 0..=7),
            (ApiKey::DescribeGroups, 0..=5),
            (ApiKey::ListGroups, 0..=4),
            (ApiKey::DeleteGroups, 0..=2),
            (ApiKey::OffsetDelete, 0..=0),
        ] {
            assert!(
                apis.contains(&(key, versions.clone())),
                "{key:?} {versions:?}"
            );
        }
    }
}
