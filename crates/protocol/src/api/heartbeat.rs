//! Heartbeat (key 12): a member tells the coordinator it is alive; the
//! answer REBALANCE_IN_PROGRESS tells it to rejoin.
//!
//! Versions 0 to 4: v1 adds the throttle time; v3 the static member's group
//! instance id; v4 is flexible.

use crate::codec::{message, Request};

message! {
    /// Heartbeat request.
    pub message HeartbeatRequest {
        api_key: Heartbeat, versions: 0..=4, flexible: 4..;
        /// The group.
        group_id: String [0..],
        /// The generation the member believes current.
        generation_id: i32 [0..],
        /// The member id.
        member_id: String [0..],
        /// The static member's instance id, null for a dynamic member.
        group_instance_id: Option<String> [3..] nullable [3..] = None,
    }

    /// Heartbeat response.
    pub message HeartbeatResponse {
        api_key: Heartbeat, versions: 0..=4, flexible: 4..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
    }
}

impl Request for HeartbeatRequest {
    type Response = HeartbeatResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &HeartbeatRequest) -> kp::HeartbeatRequest {
        kp::HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_generation_id(r.generation_id)
            .with_member_id(str_bytes(&r.member_id))
            .with_group_instance_id(r.group_instance_id.as_deref().map(str_bytes))
    }

    fn their_response(r: &HeartbeatResponse) -> kp::HeartbeatResponse {
        kp::HeartbeatResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
    }

    testing::codec_tests!(
        HeartbeatRequest,
        HeartbeatResponse,
        their_request,
        their_response,
        0..=4
    );

    #[test]
    fn known_bytes() {
        let req = HeartbeatRequest {
            group_id: "g".into(),
            generation_id: 2,
            member_id: "m".into(),
            group_instance_id: Some("i".into()),
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 1, b'g', 0, 0, 0, 2, 0, 1, b'm']);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 4).unwrap();
        let v4: &[u8] = &[2, b'g', 0, 0, 0, 2, 2, b'm', 2, b'i', 0];
        assert_eq!(&buf[..], v4);
        assert_eq!(
            HeartbeatRequest::decode(&Bytes::from_static(v4), 4).unwrap(),
            req
        );
        // REBALANCE_IN_PROGRESS in v0: the error code alone.
        let resp = HeartbeatResponse::decode(&Bytes::from_static(&[0, 27]), 0).unwrap();
        assert_eq!((resp.throttle_time_ms, resp.error_code), (0, 27));
    }
}
