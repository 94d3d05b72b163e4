//! OffsetFetch (key 9): a consumer reads its group's committed positions
//! from the group coordinator.
//!
//! Versions 0 to 7: v0 read offsets from ZooKeeper in Kafka and v1 from
//! `__consumer_offsets` (same bytes); v2 lets the topic list be null (every
//! topic the group committed) and adds a top-level error code; v3 adds the
//! throttle time; v5 the leader epoch of each offset; v6 is flexible; v7
//! adds `require_stable` (KIP-447). v8's batch of groups (KIP-709, Kafka
//! 3.0) is not implemented.

use crate::codec::{message, Request};

message! {
    /// OffsetFetch request.
    pub message OffsetFetchRequest {
        api_key: OffsetFetch, versions: 0..=7, flexible: 6..;
        /// The group whose offsets to read.
        group_id: String [0..],
        /// The topics to read, or null (v2+) for every topic.
        topics: Option<Vec<OffsetFetchRequestTopic>> [0..] nullable [2..] = Some(Vec::new()),
        /// Answer UNSTABLE_OFFSET_COMMIT for partitions with a pending
        /// transactional commit instead of the last stable offset.
        require_stable: bool [7..],
    }

    /// The partitions of one topic to read.
    pub struct OffsetFetchRequestTopic {
        /// The topic name.
        name: String [0..],
        /// The partition indexes to read.
        partition_indexes: Vec<i32> [0..],
    }

    /// OffsetFetch response.
    pub message OffsetFetchResponse {
        api_key: OffsetFetch, versions: 0..=7, flexible: 6..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [3..],
        /// The offsets of each topic.
        topics: Vec<OffsetFetchResponseTopic> [0..],
        /// The group-level error code, 0 if none (v2+).
        error_code: i16 [2..],
    }

    /// The offsets of one topic.
    pub struct OffsetFetchResponseTopic {
        /// The topic name.
        name: String [0..],
        /// The offset of each partition.
        partitions: Vec<OffsetFetchResponsePartition> [0..],
    }

    /// The committed offset of one partition.
    pub struct OffsetFetchResponsePartition {
        /// The partition index.
        partition_index: i32 [0..],
        /// The committed offset, -1 if none.
        committed_offset: i64 [0..],
        /// The leader epoch stored with the offset, -1 if unknown.
        committed_leader_epoch: i32 [5..] = -1,
        /// The metadata stored with the offset.
        metadata: Option<String> [0..] nullable [0..] = Some(String::new()),
        /// The error code, 0 if none.
        error_code: i16 [0..],
    }
}

impl Request for OffsetFetchRequest {
    type Response = OffsetFetchResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, Message};
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::offset_fetch_request as kpq;
    use kafka_protocol::messages::offset_fetch_response as kpr;
    use kafka_protocol::messages::{GroupId, TopicName};

    fn their_request(r: &OffsetFetchRequest) -> kp::OffsetFetchRequest {
        kp::OffsetFetchRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_topics(r.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| {
                        kpq::OffsetFetchRequestTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partition_indexes(t.partition_indexes.clone())
                    })
                    .collect()
            }))
            .with_require_stable(r.require_stable)
    }

    fn their_response(r: &OffsetFetchResponse) -> kp::OffsetFetchResponse {
        kp::OffsetFetchResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::OffsetFetchResponseTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpr::OffsetFetchResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_committed_offset(p.committed_offset)
                                            .with_committed_leader_epoch(p.committed_leader_epoch)
                                            .with_metadata(p.metadata.as_deref().map(str_bytes))
                                            .with_error_code(p.error_code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .with_error_code(r.error_code)
    }

    // kafka-protocol 0.18 follows Kafka 4.0, which dropped v0 (KIP-896);
    // it is pinned by the known-bytes test below.
    testing::codec_tests!(
        OffsetFetchRequest,
        OffsetFetchResponse,
        their_request,
        their_response,
        1..=7
    );

    #[test]
    fn known_bytes_v0() {
        let req = OffsetFetchRequest {
            group_id: "g".into(),
            topics: Some(vec![OffsetFetchRequestTopic {
                name: "t".into(),
                partition_indexes: vec![0, 1],
            }]),
            require_stable: false,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 1, b'g',
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        assert_eq!(&buf[..], v0);
        assert_eq!(
            OffsetFetchRequest::decode(&Bytes::from_static(v0), 0).unwrap(),
            req
        );
        // A null topic list means "all topics" only from v2 on.
        let all = OffsetFetchRequest {
            topics: None,
            ..req
        };
        assert!(all.encode(&mut BytesMut::new(), 0).is_err());
        assert!(matches!(
            OffsetFetchRequest::decode(
                &Bytes::from_static(&[0, 1, b'g', 0xff, 0xff, 0xff, 0xff]),
                1
            ),
            Err(DecodeError::UnexpectedNull { .. })
        ));

        let resp = OffsetFetchResponse {
            topics: vec![OffsetFetchResponseTopic {
                name: "t".into(),
                partitions: vec![OffsetFetchResponsePartition {
                    partition_index: 0,
                    committed_offset: 42,
                    metadata: Some(String::new()),
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 42,
            0, 0, // metadata ""
            0, 0, // error_code; no top-level error code in v0
        ];
        assert_eq!(&buf[..], v0);
        assert_eq!(
            OffsetFetchResponse::decode(&Bytes::from_static(v0), 0).unwrap(),
            resp
        );
    }

    #[test]
    fn known_bytes_v7() {
        let req = OffsetFetchRequest {
            group_id: "g".into(),
            topics: None,
            require_stable: true,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 7).unwrap();
        let v7: &[u8] = &[2, b'g', 0, 1, 0];
        assert_eq!(&buf[..], v7);
        assert_eq!(
            OffsetFetchRequest::decode(&Bytes::from_static(v7), 7).unwrap(),
            req
        );
    }
}
