//! OffsetDelete (key 47): delete a group's committed offsets for some
//! partitions (KIP-496); refused for partitions the group still consumes.
//!
//! Version 0 only, not flexible.

use crate::codec::{message, Request};

message! {
    /// OffsetDelete request.
    pub message OffsetDeleteRequest {
        api_key: OffsetDelete, versions: 0..=0, flexible: none;
        /// The group.
        group_id: String [0..],
        /// The topics whose offsets to delete.
        topics: Vec<OffsetDeleteRequestTopic> [0..],
    }

    /// The partitions of one topic.
    pub struct OffsetDeleteRequestTopic {
        /// The topic name.
        name: String [0..],
        /// Each partition.
        partitions: Vec<OffsetDeleteRequestPartition> [0..],
    }

    /// One partition.
    pub struct OffsetDeleteRequestPartition {
        /// The partition index.
        partition_index: i32 [0..],
    }

    /// OffsetDelete response.
    pub message OffsetDeleteResponse {
        api_key: OffsetDelete, versions: 0..=0, flexible: none;
        /// The group-level error code, 0 if none.
        error_code: i16 [0..],
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [0..],
        /// The result for each topic.
        topics: Vec<OffsetDeleteResponseTopic> [0..],
    }

    /// The results for one topic.
    pub struct OffsetDeleteResponseTopic {
        /// The topic name.
        name: String [0..],
        /// The result for each partition.
        partitions: Vec<OffsetDeleteResponsePartition> [0..],
    }

    /// The result for one partition.
    pub struct OffsetDeleteResponsePartition {
        /// The partition index.
        partition_index: i32 [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
    }
}

impl Request for OffsetDeleteRequest {
    type Response = OffsetDeleteResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::offset_delete_request as kpq;
    use kafka_protocol::messages::offset_delete_response as kpr;
    use kafka_protocol::messages::{GroupId, TopicName};

    fn their_request(r: &OffsetDeleteRequest) -> kp::OffsetDeleteRequest {
        kp::OffsetDeleteRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpq::OffsetDeleteRequestTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpq::OffsetDeleteRequestPartition::default()
                                            .with_partition_index(p.partition_index)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn their_response(r: &OffsetDeleteResponse) -> kp::OffsetDeleteResponse {
        kp::OffsetDeleteResponse::default()
            .with_error_code(r.error_code)
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::OffsetDeleteResponseTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpr::OffsetDeleteResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(p.error_code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        OffsetDeleteRequest,
        OffsetDeleteResponse,
        their_request,
        their_response,
        0..=0
    );

    #[test]
    fn known_bytes() {
        let req = OffsetDeleteRequest {
            group_id: "g".into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetDeleteRequestPartition { partition_index: 2 }],
            }],
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        let v0: &[u8] = &[0, 1, b'g', 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(&buf[..], v0);
        assert_eq!(
            OffsetDeleteRequest::decode(&Bytes::from_static(v0), 0).unwrap(),
            req
        );
    }
}
