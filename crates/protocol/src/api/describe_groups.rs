//! DescribeGroups (key 15): the state, protocol and members of groups, as
//! `kafka-consumer-groups --describe` shows them.
//!
//! Versions 0 to 5: v1 adds the throttle time; v3 the authorized operations
//! (KIP-430); v4 the members' static instance ids; v5 is flexible.

use bytes::Bytes;

use crate::codec::{message, Request};

message! {
    /// DescribeGroups request.
    pub message DescribeGroupsRequest {
        api_key: DescribeGroups, versions: 0..=5, flexible: 5..;
        /// The groups to describe.
        groups: Vec<String> [0..],
        /// Whether to return the operations the caller may perform (v3+).
        include_authorized_operations: bool [3..],
    }

    /// DescribeGroups response.
    pub message DescribeGroupsResponse {
        api_key: DescribeGroups, versions: 0..=5, flexible: 5..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// Each group described.
        groups: Vec<DescribedGroup> [0..],
    }

    /// One group.
    pub struct DescribedGroup {
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The group id.
        group_id: String [0..],
        /// Dead, Empty, PreparingRebalance, CompletingRebalance or Stable.
        group_state: String [0..],
        /// The protocol type, "consumer" for consumer groups.
        protocol_type: String [0..],
        /// The chosen assignment protocol.
        protocol_data: String [0..],
        /// The members.
        members: Vec<DescribedGroupMember> [0..],
        /// A bit field of the operations the caller may perform (v3+).
        authorized_operations: i32 [3..] = i32::MIN,
    }

    /// One member of a group.
    pub struct DescribedGroupMember {
        /// The member id.
        member_id: String [0..],
        /// The static member's instance id, null for a dynamic member (v4+).
        group_instance_id: Option<String> [4..] nullable [4..] = None,
        /// The client id the member sent.
        client_id: String [0..],
        /// The host the member connected from.
        client_host: String [0..],
        /// The member's metadata for the chosen protocol.
        member_metadata: Bytes [0..],
        /// The member's current assignment.
        member_assignment: Bytes [0..],
    }
}

impl Request for DescribeGroupsRequest {
    type Response = DescribeGroupsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::BytesMut;
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::describe_groups_response as kpr;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &DescribeGroupsRequest) -> kp::DescribeGroupsRequest {
        kp::DescribeGroupsRequest::default()
            .with_groups(r.groups.iter().map(|g| GroupId(str_bytes(g))).collect())
            .with_include_authorized_operations(r.include_authorized_operations)
    }

    fn their_response(r: &DescribeGroupsResponse) -> kp::DescribeGroupsResponse {
        kp::DescribeGroupsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        kpr::DescribedGroup::default()
                            .with_error_code(g.error_code)
                            .with_group_id(GroupId(str_bytes(&g.group_id)))
                            .with_group_state(str_bytes(&g.group_state))
                            .with_protocol_type(str_bytes(&g.protocol_type))
                            .with_protocol_data(str_bytes(&g.protocol_data))
                            .with_members(
                                g.members
                                    .iter()
                                    .map(|m| {
                                        kpr::DescribedGroupMember::default()
                                            .with_member_id(str_bytes(&m.member_id))
                                            .with_group_instance_id(
                                                m.group_instance_id.as_deref().map(str_bytes),
                                            )
                                            .with_client_id(str_bytes(&m.client_id))
                                            .with_client_host(str_bytes(&m.client_host))
                                            .with_member_metadata(m.member_metadata.clone())
                                            .with_member_assignment(m.member_assignment.clone())
                                    })
                                    .collect(),
                            )
                            .with_authorized_operations(g.authorized_operations)
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        DescribeGroupsRequest,
        DescribeGroupsResponse,
        their_request,
        their_response,
        0..=5
    );

    #[test]
    fn known_bytes() {
        let req = DescribeGroupsRequest {
            groups: vec!["g".into()],
            include_authorized_operations: true,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 1, 0, 1, b'g']);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 5).unwrap();
        let v5: &[u8] = &[2, 2, b'g', 1, 0];
        assert_eq!(&buf[..], v5);
        assert_eq!(
            DescribeGroupsRequest::decode(&Bytes::from_static(v5), 5).unwrap(),
            req
        );
        // An unknown group in v0: Dead, no members; authorized operations
        // absent decode to the spec default.
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0, 0, 1,
            0, 0, 0, 1, b'g', 0, 4, b'D', b'e', b'a', b'd', 0, 0, 0, 0,
            0, 0, 0, 0,
        ];
        let resp = DescribeGroupsResponse::decode(&Bytes::from_static(v0), 0).unwrap();
        assert_eq!(resp.groups[0].group_state, "Dead");
        assert_eq!(resp.groups[0].authorized_operations, i32::MIN);
    }
}
