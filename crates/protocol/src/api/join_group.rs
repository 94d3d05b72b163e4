//! JoinGroup (key 11): a member asks to join a group (or rejoin in a
//! rebalance), naming the assignment protocols it supports; the coordinator
//! answers once every member has joined, choosing a protocol and a leader,
//! and sends the leader everyone's metadata.
//!
//! Versions 0 to 7: v1 adds the rebalance timeout; v2 the throttle time; v4
//! makes a member without an id rejoin with the one it is given
//! (MEMBER_ID_REQUIRED, KIP-394); v5 adds the static member's group instance
//! id (KIP-345); v6 is flexible; v7 returns the protocol type and lets the
//! protocol name be null.

use bytes::Bytes;

use crate::codec::{message, Request};

message! {
    /// JoinGroup request.
    pub message JoinGroupRequest {
        api_key: JoinGroup, versions: 0..=7, flexible: 6..;
        /// The group to join.
        group_id: String [0..],
        /// The member is dropped if the coordinator hears no heartbeat for
        /// this long, in ms.
        session_timeout_ms: i32 [0..],
        /// How long the coordinator waits for every member to rejoin in a
        /// rebalance, in ms (v0 uses the session timeout).
        rebalance_timeout_ms: i32 [1..] = -1,
        /// The member id from a previous join, empty for a new member.
        member_id: String [0..],
        /// The static member's instance id, null for a dynamic member.
        group_instance_id: Option<String> [5..] nullable [5..] = None,
        /// The kind of group, "consumer" for consumer groups.
        protocol_type: String [0..],
        /// The assignment protocols the member supports, preferred first.
        protocols: Vec<JoinGroupRequestProtocol> [0..],
    }

    /// One assignment protocol a member supports.
    pub struct JoinGroupRequestProtocol {
        /// The protocol name ("range", "cooperative-sticky", ...).
        name: String [0..],
        /// The member's subscription, opaque to the coordinator.
        metadata: Bytes [0..],
    }

    /// JoinGroup response.
    pub message JoinGroupResponse {
        api_key: JoinGroup, versions: 0..=7, flexible: 6..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [2..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The generation the group moved to, -1 on error.
        generation_id: i32 [0..] = -1,
        /// The group's protocol type (v7+).
        protocol_type: Option<String> [7..] nullable [7..] = None,
        /// The chosen assignment protocol (null allowed from v7).
        protocol_name: Option<String> [0..] nullable [7..] = Some(String::new()),
        /// The member id of the group leader.
        leader: String [0..],
        /// The member id the coordinator gave this member.
        member_id: String [0..],
        /// Every member and its metadata; sent to the leader only.
        members: Vec<JoinGroupResponseMember> [0..],
    }

    /// One member of the group, as the leader sees it.
    pub struct JoinGroupResponseMember {
        /// The member id.
        member_id: String [0..],
        /// The static member's instance id, null for a dynamic member.
        group_instance_id: Option<String> [5..] nullable [5..] = None,
        /// The member's metadata for the chosen protocol.
        metadata: Bytes [0..],
    }
}

impl Request for JoinGroupRequest {
    type Response = JoinGroupResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::BytesMut;
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::join_group_request as kpq;
    use kafka_protocol::messages::join_group_response as kpr;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &JoinGroupRequest) -> kp::JoinGroupRequest {
        kp::JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_session_timeout_ms(r.session_timeout_ms)
            .with_rebalance_timeout_ms(r.rebalance_timeout_ms)
            .with_member_id(str_bytes(&r.member_id))
            .with_group_instance_id(r.group_instance_id.as_deref().map(str_bytes))
            .with_protocol_type(str_bytes(&r.protocol_type))
            .with_protocols(
                r.protocols
                    .iter()
                    .map(|p| {
                        kpq::JoinGroupRequestProtocol::default()
                            .with_name(str_bytes(&p.name))
                            .with_metadata(p.metadata.clone())
                    })
                    .collect(),
            )
    }

    fn their_response(r: &JoinGroupResponse) -> kp::JoinGroupResponse {
        kp::JoinGroupResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_generation_id(r.generation_id)
            .with_protocol_type(r.protocol_type.as_deref().map(str_bytes))
            .with_protocol_name(r.protocol_name.as_deref().map(str_bytes))
            .with_leader(str_bytes(&r.leader))
            .with_member_id(str_bytes(&r.member_id))
            .with_members(
                r.members
                    .iter()
                    .map(|m| {
                        kpr::JoinGroupResponseMember::default()
                            .with_member_id(str_bytes(&m.member_id))
                            .with_group_instance_id(m.group_instance_id.as_deref().map(str_bytes))
                            .with_metadata(m.metadata.clone())
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        JoinGroupRequest,
        JoinGroupResponse,
        their_request,
        their_response,
        0..=7
    );

    #[test]
    fn known_bytes() {
        let req = JoinGroupRequest {
            group_id: "g".into(),
            session_timeout_ms: 10_000,
            rebalance_timeout_ms: 30_000,
            member_id: String::new(),
            group_instance_id: None,
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: Bytes::from_static(&[9]),
            }],
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 1, b'g',
            0, 0, 0x27, 0x10, // session timeout 10000; no rebalance timeout
            0, 0, // member_id ""
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            0, 0, 0, 1, 0, 5, b'r', b'a', b'n', b'g', b'e', 0, 0, 0, 1, 9,
        ];
        assert_eq!(&buf[..], v0);
        let back = JoinGroupRequest::decode(&Bytes::from_static(v0), 0).unwrap();
        assert_eq!(back.rebalance_timeout_ms, -1);

        let mut buf = BytesMut::new();
        req.encode(&mut buf, 7).unwrap();
        #[rustfmt::skip]
        let v7: &[u8] = &[
            2, b'g',
            0, 0, 0x27, 0x10,
            0, 0, 0x75, 0x30, // rebalance timeout 30000
            1, // member_id ""
            0, // group_instance_id null
            9, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
            2, 6, b'r', b'a', b'n', b'g', b'e', 2, 9, 0, // protocol + its tags
            0,
        ];
        assert_eq!(&buf[..], v7);
        assert_eq!(
            JoinGroupRequest::decode(&Bytes::from_static(v7), 7).unwrap(),
            req
        );

        // A null protocol name is refused before v7.
        let resp = JoinGroupResponse {
            protocol_name: None,
            ..Default::default()
        };
        assert!(resp.encode(&mut BytesMut::new(), 6).is_err());
        assert!(resp.encode(&mut BytesMut::new(), 7).is_ok());
    }
}
