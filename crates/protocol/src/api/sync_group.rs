//! SyncGroup (key 14): after a JoinGroup round the leader sends every
//! member's assignment, and every member (the leader included) receives
//! its own.
//!
//! Versions 0 to 5: v1 adds the throttle time; v3 the static member's group
//! instance id; v4 is flexible; v5 carries the protocol type and name so
//! the coordinator and members can check they agree.

use bytes::Bytes;

use crate::codec::{message, Request};

message! {
    /// SyncGroup request.
    pub message SyncGroupRequest {
        api_key: SyncGroup, versions: 0..=5, flexible: 4..;
        /// The group.
        group_id: String [0..],
        /// The generation the member joined.
        generation_id: i32 [0..],
        /// The member id.
        member_id: String [0..],
        /// The static member's instance id, null for a dynamic member.
        group_instance_id: Option<String> [3..] nullable [3..] = None,
        /// The group's protocol type (v5+).
        protocol_type: Option<String> [5..] nullable [5..] = None,
        /// The group's chosen protocol (v5+).
        protocol_name: Option<String> [5..] nullable [5..] = None,
        /// Each member's assignment; sent by the leader only.
        assignments: Vec<SyncGroupRequestAssignment> [0..],
    }

    /// The assignment of one member.
    pub struct SyncGroupRequestAssignment {
        /// The member id.
        member_id: String [0..],
        /// The assignment, opaque to the coordinator.
        assignment: Bytes [0..],
    }

    /// SyncGroup response.
    pub message SyncGroupResponse {
        api_key: SyncGroup, versions: 0..=5, flexible: 4..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The group's protocol type (v5+).
        protocol_type: Option<String> [5..] nullable [5..] = None,
        /// The group's chosen protocol (v5+).
        protocol_name: Option<String> [5..] nullable [5..] = None,
        /// This member's assignment.
        assignment: Bytes [0..],
    }
}

impl Request for SyncGroupRequest {
    type Response = SyncGroupResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::BytesMut;
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::sync_group_request as kpq;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &SyncGroupRequest) -> kp::SyncGroupRequest {
        kp::SyncGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_generation_id(r.generation_id)
            .with_member_id(str_bytes(&r.member_id))
            .with_group_instance_id(r.group_instance_id.as_deref().map(str_bytes))
            .with_protocol_type(r.protocol_type.as_deref().map(str_bytes))
            .with_protocol_name(r.protocol_name.as_deref().map(str_bytes))
            .with_assignments(
                r.assignments
                    .iter()
                    .map(|a| {
                        kpq::SyncGroupRequestAssignment::default()
                            .with_member_id(str_bytes(&a.member_id))
                            .with_assignment(a.assignment.clone())
                    })
                    .collect(),
            )
    }

    fn their_response(r: &SyncGroupResponse) -> kp::SyncGroupResponse {
        kp::SyncGroupResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_protocol_type(r.protocol_type.as_deref().map(str_bytes))
            .with_protocol_name(r.protocol_name.as_deref().map(str_bytes))
            .with_assignment(r.assignment.clone())
    }

    testing::codec_tests!(
        SyncGroupRequest,
        SyncGroupResponse,
        their_request,
        their_response,
        0..=5
    );

    #[test]
    fn known_bytes() {
        let resp = SyncGroupResponse {
            assignment: Bytes::from_static(&[1, 2]),
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 2, 1, 2]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 5).unwrap();
        #[rustfmt::skip]
        let v5: &[u8] = &[
            0, 0, 0, 0, // throttle_time_ms
            0, 0, // error_code
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            6, b'r', b'a', b'n', b'g', b'e',
            3, 1, 2, // compact bytes
            0,
        ];
        assert_eq!(&buf[..], v5);
        assert_eq!(
            SyncGroupResponse::decode(&Bytes::from_static(v5), 5).unwrap(),
            resp
        );
    }
}
