//! JoinGroup (API key 11): a member joins, or rejoins, its group's next
//! generation; the answer waits for the rebalance (Kafka's
//! `KafkaApis.handleJoinGroupRequest`).

use std::time::Duration;

use crate::coordinator::{JoinRequest, Protocol};
use gregor_protocol::api::join_group::{
    JoinGroupRequest, JoinGroupResponse, JoinGroupResponseMember,
};
use gregor_server::RequestContext;

use crate::broker::Broker;

/// From v4 a new member first learns its member id (MEMBER_ID_REQUIRED).
const MEMBER_ID_REQUIRED_VERSION: i16 = 4;
/// From v7 the protocol name may be null and the type is returned.
const NULLABLE_PROTOCOL_VERSION: i16 = 7;

/// A request's int32 milliseconds; a negative one is below every minimum.
fn millis(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The member's address as Kafka shows it (`InetAddress.toString`).
fn client_host(ctx: &RequestContext<'_>) -> String {
    format!("/{}", ctx.connection.peer.ip())
}

impl Broker {
    pub(crate) async fn join_group(
        &self,
        ctx: &RequestContext<'_>,
        request: JoinGroupRequest,
    ) -> JoinGroupResponse {
        let version = ctx.header.api_version;
        // v0 had no rebalance timeout: the session timeout served for both.
        let rebalance_timeout_ms = if version == 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        };
        let join = JoinRequest {
            member_id: request.member_id,
            group_instance_id: request.group_instance_id,
            require_known_member_id: version >= MEMBER_ID_REQUIRED_VERSION,
            client_id: ctx.header.client_id.clone().unwrap_or_default(),
            client_host: client_host(ctx),
            rebalance_timeout: millis(rebalance_timeout_ms),
            session_timeout: millis(request.session_timeout_ms),
            protocol_type: request.protocol_type,
            protocols: request
                .protocols
                .into_iter()
                .map(|p| Protocol {
                    name: p.name,
                    metadata: p.metadata,
                })
                .collect(),
        };
        let result = self.coordinator.join_group(&request.group_id, join).await;
        let protocol_name = if version >= NULLABLE_PROTOCOL_VERSION {
            result.protocol_name
        } else {
            Some(result.protocol_name.unwrap_or_default())
        };
        JoinGroupResponse {
            throttle_time_ms: 0,
            error_code: result.error.code(),
            generation_id: result.generation_id,
            protocol_type: result.protocol_type,
            protocol_name,
            leader: result.leader_id,
            member_id: result.member_id,
            members: result
                .members
                .into_iter()
                .map(|m| JoinGroupResponseMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    metadata: m.metadata,
                })
                .collect(),
        }
    }
}
