//! DeleteGroups (key 42): delete empty groups and their committed offsets.
//!
//! Versions 0 to 2: v1 is v0 again (throttling before the response); v2 is
//! flexible.

use crate::codec::{message, Request};

message! {
    /// DeleteGroups request.
    pub message DeleteGroupsRequest {
        api_key: DeleteGroups, versions: 0..=2, flexible: 2..;
        /// The groups to delete.
        groups_names: Vec<String> [0..],
    }

    /// DeleteGroups response.
    pub message DeleteGroupsResponse {
        api_key: DeleteGroups, versions: 0..=2, flexible: 2..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [0..],
        /// The result for each group.
        results: Vec<DeletableGroupResult> [0..],
    }

    /// The result for one group.
    pub struct DeletableGroupResult {
        /// The group id.
        group_id: String [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
    }
}

impl Request for DeleteGroupsRequest {
    type Response = DeleteGroupsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::delete_groups_response as kpr;
    use kafka_protocol::messages::GroupId;

    fn their_request(r: &DeleteGroupsRequest) -> kp::DeleteGroupsRequest {
        kp::DeleteGroupsRequest::default().with_groups_names(
            r.groups_names
                .iter()
                .map(|g| GroupId(str_bytes(g)))
                .collect(),
        )
    }

    fn their_response(r: &DeleteGroupsResponse) -> kp::DeleteGroupsResponse {
        kp::DeleteGroupsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_results(
                r.results
                    .iter()
                    .map(|g| {
                        kpr::DeletableGroupResult::default()
                            .with_group_id(GroupId(str_bytes(&g.group_id)))
                            .with_error_code(g.error_code)
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        DeleteGroupsRequest,
        DeleteGroupsResponse,
        their_request,
        their_response,
        0..=2
    );

    #[test]
    fn known_bytes() {
        let resp = DeleteGroupsResponse {
            throttle_time_ms: 0,
            results: vec![DeletableGroupResult {
                group_id: "g".into(),
                error_code: 68, // NON_EMPTY_GROUP
            }],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b'g', 0, 68]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 2).unwrap();
        let v2: &[u8] = &[0, 0, 0, 0, 2, 2, b'g', 0, 68, 0, 0];
        assert_eq!(&buf[..], v2);
        assert_eq!(
            DeleteGroupsResponse::decode(&Bytes::from_static(v2), 2).unwrap(),
            resp
        );
    }
}
