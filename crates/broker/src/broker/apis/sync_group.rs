//! SyncGroup (API key 14): the leader hands in the assignment, every member
//! receives its part (Kafka's `KafkaApis.handleSyncGroupRequest`).

use crate::coordinator::SyncRequest;
use gregor_protocol::api::sync_group::{SyncGroupRequest, SyncGroupResponse};
use gregor_protocol::ErrorCode;

use crate::broker::Broker;

/// From v5 the protocol type and name are mandatory.
const MANDATORY_PROTOCOL_VERSION: i16 = 5;

impl Broker {
    pub(crate) async fn sync_group(
        &self,
        request: SyncGroupRequest,
        version: i16,
    ) -> SyncGroupResponse {
        let missing_protocol = version >= MANDATORY_PROTOCOL_VERSION
            && (request.protocol_type.is_none() || request.protocol_name.is_none());
        if missing_protocol {
            return SyncGroupResponse {
                error_code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL.code(),
                ..Default::default()
            };
        }
        let sync = SyncRequest {
            member_id: request.member_id,
            group_instance_id: request.group_instance_id,
            generation_id: request.generation_id,
            protocol_type: request.protocol_type,
            protocol_name: request.protocol_name,
            assignments: request
                .assignments
                .into_iter()
                .map(|a| (a.member_id, a.assignment))
                .collect(),
        };
        let result = self.coordinator.sync_group(&request.group_id, sync).await;
        SyncGroupResponse {
            throttle_time_ms: 0,
            error_code: result.error.code(),
            protocol_type: result.protocol_type,
            protocol_name: result.protocol_name,
            assignment: result.assignment,
        }
    }
}
