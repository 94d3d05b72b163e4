//! Heartbeat (API key 12): a member is alive; the answer says whether the
//! group is rebalancing (Kafka's `KafkaApis.handleHeartbeatRequest`).

use gregor_protocol::api::heartbeat::{HeartbeatRequest, HeartbeatResponse};

use crate::broker::Broker;

impl Broker {
    pub(crate) fn heartbeat(&self, request: HeartbeatRequest) -> HeartbeatResponse {
        let error = self.coordinator.heartbeat(
            &request.group_id,
            &request.member_id,
            request.group_instance_id.as_deref(),
            request.generation_id,
        );
        HeartbeatResponse {
            throttle_time_ms: 0,
            error_code: error.code(),
        }
    }
}
