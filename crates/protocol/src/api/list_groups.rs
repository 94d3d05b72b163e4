//! ListGroups (key 16): the groups this broker coordinates.
//!
//! Versions 0 to 4: v1 adds the throttle time; v3 is flexible; v4 filters by
//! group state and returns each group's state (KIP-518).

use crate::codec::{message, Request};

message! {
    /// ListGroups request.
    pub message ListGroupsRequest {
        api_key: ListGroups, versions: 0..=4, flexible: 3..;
        /// Only groups in these states; empty for all (v4+).
        states_filter: Vec<String> [4..],
    }

    /// ListGroups response.
    pub message ListGroupsResponse {
        api_key: ListGroups, versions: 0..=4, flexible: 3..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// Each group.
        groups: Vec<ListedGroup> [0..],
    }

    /// One group.
    pub struct ListedGroup {
        /// The group id.
        group_id: String [0..],
        /// The protocol type, "consumer" for consumer groups.
        protocol_type: String [0..],
        /// The group state (v4+).
        group_state: String [4..],
    }
}

impl Request for ListGroupsRequest {
    type Response = ListGroupsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::list_groups_response as kpr;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &ListGroupsRequest) -> kp::ListGroupsRequest {
        kp::ListGroupsRequest::default()
            .with_states_filter(r.states_filter.iter().map(|s| str_bytes(s)).collect())
    }

    fn their_response(r: &ListGroupsResponse) -> kp::ListGroupsResponse {
        kp::ListGroupsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_groups(
                r.groups
                    .iter()
                    .map(|g| {
                        kpr::ListedGroup::default()
                            .with_group_id(GroupId(str_bytes(&g.group_id)))
                            .with_protocol_type(str_bytes(&g.protocol_type))
                            .with_group_state(str_bytes(&g.group_state))
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        ListGroupsRequest,
        ListGroupsResponse,
        their_request,
        their_response,
        0..=4
    );

    #[test]
    fn known_bytes() {
        // v0-v2 requests are empty; v3 is just the tagged section.
        let mut buf = BytesMut::new();
        ListGroupsRequest::default().encode(&mut buf, 0).unwrap();
        assert!(buf.is_empty());
        let mut buf = BytesMut::new();
        ListGroupsRequest::default().encode(&mut buf, 3).unwrap();
        assert_eq!(&buf[..], &[0]);
        let req = ListGroupsRequest {
            states_filter: vec!["Stable".into()],
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 4).unwrap();
        let v4: &[u8] = &[2, 7, b'S', b't', b'a', b'b', b'l', b'e', 0];
        assert_eq!(&buf[..], v4);
        assert_eq!(
            ListGroupsRequest::decode(&Bytes::from_static(v4), 4).unwrap(),
            req
        );

        let resp = ListGroupsResponse {
            groups: vec![ListedGroup {
                group_id: "g".into(),
                protocol_type: "consumer".into(),
                group_state: String::new(),
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0, // error_code
            0, 0, 0, 1, 0, 1, b'g',
            0, 8, b'c', b'o', b'n', b's', b'u', b'm', b'e', b'r',
        ];
        assert_eq!(&buf[..], v0);
    }
}
