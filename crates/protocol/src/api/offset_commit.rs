//! OffsetCommit (key 8): a consumer stores its position in each partition
//! with its group's coordinator, which appends it to `__consumer_offsets`.
//!
//! Versions 0 to 8: v0 stored offsets in ZooKeeper in Kafka; v1 adds the
//! generation and member id and a per-partition commit timestamp; v2
//! replaces the timestamp with a group-wide retention time; v3 adds the
//! throttle time to the response; v5 drops the retention time (broker
//! config only); v6 adds the leader epoch; v7 the static member's group
//! instance id (KIP-345); v8 is flexible.

use crate::codec::{message, Request};

message! {
    /// OffsetCommit request.
    pub message OffsetCommitRequest {
        api_key: OffsetCommit, versions: 0..=8, flexible: 8..;
        /// The group committing.
        group_id: String [0..],
        /// The group generation the member belongs to, -1 for a simple
        /// (groupless) consumer.
        generation_id: i32 [1..] = -1,
        /// The member id the coordinator assigned; empty for a simple consumer.
        member_id: String [1..],
        /// The static member's instance id, null for a dynamic member.
        group_instance_id: Option<String> [7..] nullable [7..] = None,
        /// How long to keep the offsets in ms, -1 for the broker default (v2-v4).
        retention_time_ms: i64 [2..=4] = -1,
        /// The topics to commit offsets for.
        topics: Vec<OffsetCommitRequestTopic> [0..],
    }

    /// The offsets to commit in one topic.
    pub struct OffsetCommitRequestTopic {
        /// The topic name.
        name: String [0..],
        /// Each partition to commit an offset for.
        partitions: Vec<OffsetCommitRequestPartition> [0..],
    }

    /// The offset to commit in one partition.
    pub struct OffsetCommitRequestPartition {
        /// The partition index.
        partition_index: i32 [0..],
        /// The offset of the next record the consumer will read.
        committed_offset: i64 [0..],
        /// The leader epoch of the last record consumed, -1 if unknown.
        committed_leader_epoch: i32 [6..] = -1,
        /// When the commit happened, in ms, -1 for now (v1 only).
        commit_timestamp: i64 [1..=1] = -1,
        /// Free-form metadata stored with the offset.
        committed_metadata: Option<String> [0..] nullable [0..] = Some(String::new()),
    }

    /// OffsetCommit response.
    pub message OffsetCommitResponse {
        api_key: OffsetCommit, versions: 0..=8, flexible: 8..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [3..],
        /// The result for each topic.
        topics: Vec<OffsetCommitResponseTopic> [0..],
    }

    /// The results for one topic.
    pub struct OffsetCommitResponseTopic {
        /// The topic name.
        name: String [0..],
        /// The result for each partition.
        partitions: Vec<OffsetCommitResponsePartition> [0..],
    }

    /// The result for one partition.
    pub struct OffsetCommitResponsePartition {
        /// The partition index.
        partition_index: i32 [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
    }
}

impl Request for OffsetCommitRequest {
    type Response = OffsetCommitResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::offset_commit_request as kpq;
    use kafka_protocol::messages::offset_commit_response as kpr;
    use kafka_protocol::messages::{GroupId, TopicName};

    fn their_request(r: &OffsetCommitRequest) -> kp::OffsetCommitRequest {
        kp::OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(&r.group_id)))
            .with_generation_id_or_member_epoch(r.generation_id)
            .with_member_id(str_bytes(&r.member_id))
            .with_group_instance_id(r.group_instance_id.as_deref().map(str_bytes))
            .with_retention_time_ms(r.retention_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpq::OffsetCommitRequestTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpq::OffsetCommitRequestPartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_committed_offset(p.committed_offset)
                                            .with_committed_leader_epoch(p.committed_leader_epoch)
                                            .with_committed_metadata(
                                                p.committed_metadata.as_deref().map(str_bytes),
                                            )
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn their_response(r: &OffsetCommitResponse) -> kp::OffsetCommitResponse {
        kp::OffsetCommitResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::OffsetCommitResponseTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpr::OffsetCommitResponsePartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(p.error_code)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    // kafka-protocol 0.18 follows Kafka 4.0, which dropped v0 and v1
    // (KIP-896); those are pinned by the known-bytes tests below.
    testing::codec_tests!(
        OffsetCommitRequest,
        OffsetCommitResponse,
        their_request,
        their_response,
        2..=8
    );

    fn one_offset() -> OffsetCommitRequest {
        OffsetCommitRequest {
            group_id: "g".into(),
            generation_id: 3,
            member_id: "m".into(),
            topics: vec![OffsetCommitRequestTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 42,
                    committed_metadata: None,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn known_bytes_v0_v1() {
        let req = one_offset();
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 1, b'g', // group_id; no generation or member in v0
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 42,
            0xff, 0xff, // metadata = null
        ];
        assert_eq!(&buf[..], v0);
        let back = OffsetCommitRequest::decode(&Bytes::from_static(v0), 0).unwrap();
        assert_eq!((back.generation_id, back.member_id.as_str()), (-1, ""));
        assert_eq!(back.topics, req.topics);

        let mut buf = BytesMut::new();
        req.encode(&mut buf, 1).unwrap();
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 1, b'g',
            0, 0, 0, 3, // generation_id
            0, 1, b'm', // member_id
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 42,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // commit_timestamp -1
            0xff, 0xff,
        ];
        assert_eq!(&buf[..], v1);
        assert_eq!(
            OffsetCommitRequest::decode(&Bytes::from_static(v1), 1).unwrap(),
            req
        );

        // The v0/v1 response has no throttle time.
        let resp = OffsetCommitResponse {
            throttle_time_ms: 0,
            topics: vec![OffsetCommitResponseTopic {
                name: "t".into(),
                partitions: vec![OffsetCommitResponsePartition {
                    partition_index: 0,
                    error_code: 25, // UNKNOWN_MEMBER_ID
                }],
            }],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 1).unwrap();
        let v1: &[u8] = &[0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 25];
        assert_eq!(&buf[..], v1);
        assert_eq!(
            OffsetCommitResponse::decode(&Bytes::from_static(v1), 0).unwrap(),
            resp
        );
    }

    #[test]
    fn known_bytes_v8() {
        let req = one_offset();
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 8).unwrap();
        #[rustfmt::skip]
        let v8: &[u8] = &[
            2, b'g',
            0, 0, 0, 3,
            2, b'm',
            0, // group_instance_id = null
            2, 2, b't',
            2, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 42,
            0xff, 0xff, 0xff, 0xff, // committed_leader_epoch -1
            0, // metadata = null
            0, 0, 0, // tagged sections: partition, topic, request
        ];
        assert_eq!(&buf[..], v8);
        assert_eq!(
            OffsetCommitRequest::decode(&Bytes::from_static(v8), 8).unwrap(),
            req
        );
    }
}
