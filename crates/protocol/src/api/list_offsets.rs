//! ListOffsets (key 2): the offset of the first record at or after a
//! timestamp, or with the special timestamps -2 (earliest) and -1 (latest),
//! the log start offset or the end of the log. Consumers call it to reset
//! their position.
//!
//! Versions 1 to 6: v1 answers with a single offset (v0's array of offsets and
//! its `max_num_offsets` are left out), v2 adds the isolation level, v4 the
//! leader epochs, and v6 is flexible.

use crate::codec::{message, Request};

message! {
    /// ListOffsets request.
    pub message ListOffsetsRequest {
        api_key: ListOffsets, versions: 1..=6, flexible: 6..;
        /// The requester's broker id, or -1 for a consumer.
        replica_id: i32 [0..],
        /// 0 READ_UNCOMMITTED: "latest" is the high watermark; 1
        /// READ_COMMITTED: it is the last stable offset.
        isolation_level: i8 [2..],
        /// Each topic in the request.
        topics: Vec<ListOffsetsTopic> [0..],
    }

    /// The partitions of one topic to look up.
    pub struct ListOffsetsTopic {
        /// The topic name.
        name: String [0..],
        /// Each partition to look up.
        partitions: Vec<ListOffsetsPartition> [0..],
    }

    /// One partition to look up.
    pub struct ListOffsetsPartition {
        /// The partition index.
        partition_index: i32 [0..],
        /// The leader epoch the sender believes current, -1 if unknown.
        current_leader_epoch: i32 [4..] = -1,
        /// The timestamp to look up, or -1 latest, -2 earliest.
        timestamp: i64 [0..],
    }

    /// ListOffsets response.
    pub message ListOffsetsResponse {
        api_key: ListOffsets, versions: 1..=6, flexible: 6..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [2..],
        /// Each topic in the response.
        topics: Vec<ListOffsetsTopicResponse> [0..],
    }

    /// The answers for one topic.
    pub struct ListOffsetsTopicResponse {
        /// The topic name.
        name: String [0..],
        /// Each partition in the response.
        partitions: Vec<ListOffsetsPartitionResponse> [0..],
    }

    /// The answer for one partition.
    pub struct ListOffsetsPartitionResponse {
        /// The partition index.
        partition_index: i32 [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The timestamp of the record at `offset`, -1 if none.
        timestamp: i64 [1..] = -1,
        /// The offset found, -1 if none.
        offset: i64 [1..] = -1,
        /// The leader epoch of the record at `offset`, -1 if unknown.
        leader_epoch: i32 [4..] = -1,
    }
}

impl Request for ListOffsetsRequest {
    type Response = ListOffsetsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, Message};
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::list_offsets_request as kpq;
    use kafka_protocol::messages::list_offsets_response as kpr;
    use kafka_protocol::messages::{BrokerId, TopicName};

    fn their_request(r: &ListOffsetsRequest) -> kp::ListOffsetsRequest {
        kp::ListOffsetsRequest::default()
            .with_replica_id(BrokerId(r.replica_id))
            .with_isolation_level(r.isolation_level)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpq::ListOffsetsTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpq::ListOffsetsPartition::default()
                                            .with_partition_index(p.partition_index)
                                            .with_current_leader_epoch(p.current_leader_epoch)
                                            .with_timestamp(p.timestamp)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn their_response(r: &ListOffsetsResponse) -> kp::ListOffsetsResponse {
        kp::ListOffsetsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::ListOffsetsTopicResponse::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpr::ListOffsetsPartitionResponse::default()
                                            .with_partition_index(p.partition_index)
                                            .with_error_code(p.error_code)
                                            .with_timestamp(p.timestamp)
                                            .with_offset(p.offset)
                                            .with_leader_epoch(p.leader_epoch)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        ListOffsetsRequest,
        ListOffsetsResponse,
        their_request,
        their_response,
        ListOffsetsRequest::VERSIONS
    );

    #[test]
    fn known_bytes() {
        // A consumer asking for the latest offset of t-0, v1 then v6.
        let req = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: "t".into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 0,
                    timestamp: -1,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 1).unwrap();
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, // replica_id
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1, 0, 0, 0, 0,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // latest
        ];
        assert_eq!(&buf[..], v1);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 6).unwrap();
        #[rustfmt::skip]
        let v6: &[u8] = &[
            0xff, 0xff, 0xff, 0xff,
            0, // isolation_level
            2, 2, b't',
            2, 0, 0, 0, 0,
            0xff, 0xff, 0xff, 0xff, // current_leader_epoch -1
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0, 0, 0, // tagged sections
        ];
        assert_eq!(&buf[..], v6);
        assert_eq!(
            ListOffsetsRequest::decode(&Bytes::copy_from_slice(v6), 6).unwrap(),
            req
        );
    }

    #[test]
    fn absent_fields_take_spec_defaults() {
        // v1 response: no throttle, no leader epoch.
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1,
            0, 0, 0, 3, 0, 0, // partition 3, no error
            0, 0, 0, 0, 0, 0, 0, 9, // timestamp
            0, 0, 0, 0, 0, 0, 0, 5, // offset
        ];
        let resp = ListOffsetsResponse::decode(&Bytes::from_static(v1), 1).unwrap();
        let p = &resp.topics[0].partitions[0];
        assert_eq!((p.partition_index, p.timestamp, p.offset), (3, 9, 5));
        assert_eq!(p.leader_epoch, -1);
        assert_eq!(resp.throttle_time_ms, 0);
    }

    #[test]
    fn v0_is_not_supported() {
        assert!(matches!(
            ListOffsetsRequest::decode(&Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0]), 0),
            Err(DecodeError::UnsupportedVersion { version: 0, .. })
        ));
        assert!(ListOffsetsResponse::default()
            .encode(&mut BytesMut::new(), 7)
            .is_err());
    }
}
