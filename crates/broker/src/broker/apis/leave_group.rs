//! LeaveGroup (API key 13): members leave their group at once instead of
//! letting their sessions run out (Kafka's `KafkaApis.handleLeaveGroupRequest`).
//! v0-v2 name one member and answer with one error; v3+ (KIP-345) batch
//! members, static ones possibly by group instance id alone.

use crate::coordinator::LeavingMember;
use gregor_protocol::api::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberResponse};
use gregor_protocol::ErrorCode;

use crate::broker::Broker;

/// The first version that batches members.
const BATCHED_VERSION: i16 = 3;

impl Broker {
    pub(crate) fn leave_group(
        &self,
        request: LeaveGroupRequest,
        version: i16,
    ) -> LeaveGroupResponse {
        let leaving: Vec<LeavingMember> = if version >= BATCHED_VERSION {
            request
                .members
                .into_iter()
                .map(|m| LeavingMember {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                })
                .collect()
        } else {
            vec![LeavingMember {
                member_id: request.member_id,
                group_instance_id: None,
            }]
        };
        let (error, members) = match self.coordinator.leave_group(&request.group_id, &leaving) {
            Ok(codes) => (ErrorCode::NONE, codes),
            Err(error) => (error, Vec::new()),
        };
        if version < BATCHED_VERSION {
            // One member: its error is the request's.
            let error = members
                .first()
                .copied()
                .filter(|_| error == ErrorCode::NONE)
                .unwrap_or(error);
            return LeaveGroupResponse {
                error_code: error.code(),
                ..Default::default()
            };
        }
        LeaveGroupResponse {
            throttle_time_ms: 0,
            error_code: error.code(),
            members: leaving
                .into_iter()
                .zip(members)
                .map(|(m, code)| MemberResponse {
                    member_id: m.member_id,
                    group_instance_id: m.group_instance_id,
                    error_code: code.code(),
                })
                .collect(),
        }
    }
}
