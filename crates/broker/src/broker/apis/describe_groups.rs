//! DescribeGroups (API key 15): each group's state, protocol and members
//! (Kafka's `KafkaApis.handleDescribeGroupRequest`); members' metadata and
//! assignments only while the group is Stable.

use crate::coordinator::GroupSummary;
use gregor_protocol::api::describe_groups::{
    DescribeGroupsRequest, DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};
use gregor_protocol::ErrorCode;

use crate::broker::Broker;

/// What anyone may do to a group without an authorizer (Kafka's supported
/// group operations READ 3, DELETE 6, DESCRIBE 8, as a bit field).
const ALL_GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);
/// `authorized_operations` when not asked for.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;

impl Broker {
    pub(crate) fn describe_groups(&self, request: DescribeGroupsRequest) -> DescribeGroupsResponse {
        let authorized_operations = if request.include_authorized_operations {
            ALL_GROUP_OPERATIONS
        } else {
            OPERATIONS_NOT_REQUESTED
        };
        let groups = request
            .groups
            .into_iter()
            .map(|group_id| {
                let mut described = match self.coordinator.describe_group(&group_id) {
                    Ok(summary) => described(summary),
                    // Kafka's `EmptyGroup`: no state at all.
                    Err(error) => DescribedGroup {
                        error_code: error.code(),
                        ..Default::default()
                    },
                };
                described.group_id = group_id;
                described.authorized_operations = authorized_operations;
                described
            })
            .collect();
        DescribeGroupsResponse {
            throttle_time_ms: 0,
            groups,
        }
    }
}

fn described(summary: GroupSummary) -> DescribedGroup {
    DescribedGroup {
        error_code: ErrorCode::NONE.code(),
        group_id: String::new(),
        group_state: summary.state.name().to_owned(),
        protocol_type: summary.protocol_type,
        protocol_data: summary.protocol,
        members: summary
            .members
            .into_iter()
            .map(|m| DescribedGroupMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                member_metadata: m.metadata,
                member_assignment: m.assignment,
            })
            .collect(),
        authorized_operations: OPERATIONS_NOT_REQUESTED,
    }
}
