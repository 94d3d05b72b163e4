//! LeaveGroup (key 13): members leave a group, triggering a rebalance
//! without waiting for their session to time out.
//!
//! Versions 0 to 4: v1 adds the throttle time; v3 (KIP-345) replaces the
//! single member id with a batch of members, each with its static instance
//! id, and answers per member; v4 is flexible.

use crate::codec::{message, Request};

message! {
    /// LeaveGroup request.
    pub message LeaveGroupRequest {
        api_key: LeaveGroup, versions: 0..=4, flexible: 4..;
        /// The group.
        group_id: String [0..],
        /// The member leaving (v0-v2).
        member_id: String [0..=2],
        /// The members leaving (v3+).
        members: Vec<MemberIdentity> [3..],
    }

    /// One member leaving.
    pub struct MemberIdentity {
        /// The member id.
        member_id: String [3..],
        /// The static member's instance id, null for a dynamic member.
        group_instance_id: Option<String> [3..] nullable [3..] = None,
    }

    /// LeaveGroup response.
    pub message LeaveGroupResponse {
        api_key: LeaveGroup, versions: 0..=4, flexible: 4..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The result for each member (v3+).
        members: Vec<MemberResponse> [3..],
    }

    /// The result for one member.
    pub struct MemberResponse {
        /// The member id.
        member_id: String [3..],
        /// The static member's instance id.
        group_instance_id: Option<String> [3..] nullable [3..] = Some(String::new()),
        /// The error code, 0 if none.
        error_code: i16 [3..],
    }
}

impl Request for LeaveGroupRequest {
    type Response = LeaveGroupResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::leave_group_request as kpq;
    use kafka_protocol::messages::leave_group_response as kpr;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &LeaveGroupRequest) -> kp::LeaveGroupRequest {
        kp::LeaveGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_member_id(str_bytes(&r.member_id))
            .with_members(
                r.members
                    .iter()
                    .map(|m| {
                        kpq::MemberIdentity::default()
                            .with_member_id(str_bytes(&m.member_id))
                            .with_group_instance_id(m.group_instance_id.as_deref().map(str_bytes))
                    })
                    .collect(),
            )
    }

    fn their_response(r: &LeaveGroupResponse) -> kp::LeaveGroupResponse {
        kp::LeaveGroupResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_members(
                r.members
                    .iter()
                    .map(|m| {
                        kpr::MemberResponse::default()
                            .with_member_id(str_bytes(&m.member_id))
                            .with_group_instance_id(m.group_instance_id.as_deref().map(str_bytes))
                            .with_error_code(m.error_code)
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        LeaveGroupRequest,
        LeaveGroupResponse,
        their_request,
        their_response,
        0..=4
    );

    #[test]
    fn known_bytes() {
        let v0 = LeaveGroupRequest {
            group_id: "g".into(),
            member_id: "m".into(),
            members: Vec::new(),
        };
        let mut buf = BytesMut::new();
        v0.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 1, b'g', 0, 1, b'm']);
        let v4 = LeaveGroupRequest {
            group_id: "g".into(),
            member_id: String::new(),
            members: vec![MemberIdentity {
                member_id: "m".into(),
                group_instance_id: None,
            }],
        };
        let mut buf = BytesMut::new();
        v4.encode(&mut buf, 4).unwrap();
        let bytes: &[u8] = &[2, b'g', 2, 2, b'm', 0, 0, 0];
        assert_eq!(&buf[..], bytes);
        assert_eq!(
            LeaveGroupRequest::decode(&Bytes::from_static(bytes), 4).unwrap(),
            v4
        );
    }
}
