//! Fetch (key 1): consumers read records, and followers replicate them
//! (`replica_id` set to their broker id).
//!
//! Versions 4 to 12: v4 is the first whose clients accept record batches of
//! magic v2 and that carries the isolation level; v7 adds incremental fetch
//! sessions (KIP-227), v11 the consumer's rack (KIP-392), and v12 is flexible
//! and adds the KIP-595 tagged fields. The record data stays an opaque,
//! zero-copy slice, so the broker can hand out log segment bytes as they are.

use bytes::Bytes;

use crate::codec::{message, Request};

message! {
    /// Fetch request.
    pub message FetchRequest {
        api_key: Fetch, versions: 4..=12, flexible: 12..;
        /// The cluster id, if the sender knows it.
        cluster_id: Option<String> [12..] nullable [12..] tag 0 = None,
        /// The follower's broker id, or -1 for a consumer.
        replica_id: i32 [0..],
        /// The longest to wait for `min_bytes` to accumulate, in ms.
        max_wait_ms: i32 [0..],
        /// The least data worth answering with.
        min_bytes: i32 [0..],
        /// The most data to answer with (KIP-74: the first batch is sent
        /// whole even past it).
        max_bytes: i32 [3..] = i32::MAX,
        /// 0 READ_UNCOMMITTED: every record below the high watermark; 1
        /// READ_COMMITTED: only below the last stable offset, with the
        /// aborted transactions listed.
        isolation_level: i8 [4..] = 0,
        /// The fetch session id, 0 for none.
        session_id: i32 [7..] = 0,
        /// The fetch session epoch, -1 for a full fetch without a session.
        session_epoch: i32 [7..] = -1,
        /// The topics to fetch.
        topics: Vec<FetchTopic> [0..],
        /// In an incremental fetch, the partitions to drop from the session.
        forgotten_topics_data: Vec<ForgottenTopic> [7..],
        /// The consumer's rack, for fetching from the closest replica.
        rack_id: String [11..] = String::new(),
    }

    /// The partitions of one topic to fetch.
    pub struct FetchTopic {
        /// The topic name.
        topic: String [0..],
        /// The partitions to fetch.
        partitions: Vec<FetchPartition> [0..],
    }

    /// Where to fetch one partition from.
    pub struct FetchPartition {
        /// The partition index.
        partition: i32 [0..],
        /// The leader epoch the sender believes current, -1 if unknown.
        current_leader_epoch: i32 [9..] = -1,
        /// The offset to fetch from.
        fetch_offset: i64 [0..],
        /// The epoch of the last record fetched, -1 if none.
        last_fetched_epoch: i32 [12..] = -1,
        /// The follower's log start offset (followers only), else -1.
        log_start_offset: i64 [5..] = -1,
        /// The most data to return for this partition.
        partition_max_bytes: i32 [0..],
    }

    /// Partitions to remove from an incremental fetch session.
    pub struct ForgottenTopic {
        /// The topic name.
        topic: String [7..],
        /// The partition indexes to forget.
        partitions: Vec<i32> [7..],
    }

    /// Fetch response.
    pub message FetchResponse {
        api_key: Fetch, versions: 4..=12, flexible: 12..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// The top-level error code (fetch session errors).
        error_code: i16 [7..],
        /// The fetch session id, 0 if not part of a session.
        session_id: i32 [7..] = 0,
        /// The data of each topic.
        responses: Vec<FetchableTopicResponse> [0..],
    }

    /// The data of one topic.
    pub struct FetchableTopicResponse {
        /// The topic name.
        topic: String [0..],
        /// The data of each partition.
        partitions: Vec<PartitionData> [0..],
    }

    /// The data of one partition.
    pub struct PartitionData {
        /// The partition index.
        partition_index: i32 [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The high watermark: the end of the committed records.
        high_watermark: i64 [0..],
        /// The last stable offset: every transaction before it is decided.
        last_stable_offset: i64 [4..] = -1,
        /// The log start offset.
        log_start_offset: i64 [5..] = -1,
        /// When the fetch's last fetched epoch and offset diverge from the
        /// leader's log: the largest epoch, and its end offset, after which
        /// records diverge.
        diverging_epoch: EpochEndOffset [12..] tag 0,
        /// The current leader, for a sender that asked the wrong broker.
        current_leader: LeaderIdAndEpoch [12..] tag 1,
        /// For a fetch below the log start offset, the snapshot to fetch
        /// instead (KRaft; unused with ZooKeeper).
        snapshot_id: SnapshotId [12..] tag 2,
        /// The aborted transactions in the returned range (READ_COMMITTED),
        /// null when the broker does not list them.
        aborted_transactions: Option<Vec<AbortedTransaction>> [4..] nullable [4..]
            = Some(Vec::new()),
        /// The replica the consumer should fetch from next, -1 for the leader.
        preferred_read_replica: i32 [11..] = -1,
        /// The record batches, as stored in the log.
        records: Option<Bytes> [0..] nullable [0..],
    }

    /// An epoch and the offset it ends at.
    pub struct EpochEndOffset {
        epoch: i32 [12..] = -1,
        end_offset: i64 [12..] = -1,
    }

    /// A partition's leader and its epoch.
    pub struct LeaderIdAndEpoch {
        /// The leader's broker id, -1 if unknown.
        leader_id: i32 [12..] = -1,
        /// The latest known leader epoch.
        leader_epoch: i32 [12..] = -1,
    }

    /// A snapshot's end offset and epoch.
    pub struct SnapshotId {
        end_offset: i64 [12..] = -1,
        epoch: i32 [12..] = -1,
    }

    /// A transaction aborted within the returned range.
    pub struct AbortedTransaction {
        /// The producer id of the transaction.
        producer_id: i64 [4..],
        /// The first offset of the transaction.
        first_offset: i64 [4..],
    }
}

impl Request for FetchRequest {
    type Response = FetchResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, Message};
    use bytes::BytesMut;
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::fetch_request as kpq;
    use kafka_protocol::messages::fetch_response as kpr;
    use kafka_protocol::messages::{BrokerId, ProducerId, TopicName};

    fn their_request(r: &FetchRequest) -> kp::FetchRequest {
        kp::FetchRequest::default()
            .with_cluster_id(r.cluster_id.as_deref().map(str_bytes))
            .with_replica_id(BrokerId(r.replica_id))
            .with_max_wait_ms(r.max_wait_ms)
            .with_min_bytes(r.min_bytes)
            .with_max_bytes(r.max_bytes)
            .with_isolation_level(r.isolation_level)
            .with_session_id(r.session_id)
            .with_session_epoch(r.session_epoch)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpq::FetchTopic::default()
                            .with_topic(TopicName(str_bytes(&t.topic)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpq::FetchPartition::default()
                                            .with_partition(p.partition)
                                            .with_current_leader_epoch(p.current_leader_epoch)
                                            .with_fetch_offset(p.fetch_offset)
                                            .with_last_fetched_epoch(p.last_fetched_epoch)
                                            .with_log_start_offset(p.log_start_offset)
                                            .with_partition_max_bytes(p.partition_max_bytes)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .with_forgotten_topics_data(
                r.forgotten_topics_data
                    .iter()
                    .map(|t| {
                        kpq::ForgottenTopic::default()
                            .with_topic(TopicName(str_bytes(&t.topic)))
                            .with_partitions(t.partitions.clone())
                    })
                    .collect(),
            )
            .with_rack_id(str_bytes(&r.rack_id))
    }

    fn their_partition(p: &PartitionData) -> kpr::PartitionData {
        kpr::PartitionData::default()
            .with_partition_index(p.partition_index)
            .with_error_code(p.error_code)
            .with_high_watermark(p.high_watermark)
            .with_last_stable_offset(p.last_stable_offset)
            .with_log_start_offset(p.log_start_offset)
            .with_diverging_epoch(
                kpr::EpochEndOffset::default()
                    .with_epoch(p.diverging_epoch.epoch)
                    .with_end_offset(p.diverging_epoch.end_offset),
            )
            .with_current_leader(
                kpr::LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(p.current_leader.leader_id))
                    .with_leader_epoch(p.current_leader.leader_epoch),
            )
            .with_snapshot_id(
                kpr::SnapshotId::default()
                    .with_end_offset(p.snapshot_id.end_offset)
                    .with_epoch(p.snapshot_id.epoch),
            )
            .with_aborted_transactions(p.aborted_transactions.as_ref().map(|txns| {
                txns.iter()
                    .map(|a| {
                        kpr::AbortedTransaction::default()
                            .with_producer_id(ProducerId(a.producer_id))
                            .with_first_offset(a.first_offset)
                    })
                    .collect()
            }))
            .with_preferred_read_replica(BrokerId(p.preferred_read_replica))
            .with_records(p.records.clone())
    }

    fn their_response(r: &FetchResponse) -> kp::FetchResponse {
        kp::FetchResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_session_id(r.session_id)
            .with_responses(
                r.responses
                    .iter()
                    .map(|t| {
                        kpr::FetchableTopicResponse::default()
                            .with_topic(TopicName(str_bytes(&t.topic)))
                            .with_partitions(t.partitions.iter().map(their_partition).collect())
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        FetchRequest,
        FetchResponse,
        their_request,
        their_response,
        FetchRequest::VERSIONS
    );

    fn one_partition(records: Option<Bytes>) -> FetchResponse {
        FetchResponse {
            responses: vec![FetchableTopicResponse {
                topic: "t".into(),
                partitions: vec![PartitionData {
                    high_watermark: 10,
                    records,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn records_are_zero_copy_and_byte_identical() {
        let blob = Bytes::from((0..=255u8).cycle().take(5000).collect::<Vec<u8>>());
        for version in FetchResponse::VERSIONS {
            testing::check_bytes_zero_copy(&one_partition(Some(blob.clone())), version, |r| {
                r.responses[0].partitions[0].records.as_ref()
            });
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let req = FetchRequest::default();
        assert_eq!(req.max_bytes, i32::MAX);
        assert_eq!((req.session_id, req.session_epoch), (0, -1));
        assert_eq!(req.cluster_id, None);
        let p = PartitionData::default();
        assert_eq!((p.last_stable_offset, p.log_start_offset), (-1, -1));
        assert_eq!(p.preferred_read_replica, -1);
        assert_eq!(p.aborted_transactions, Some(vec![]));
        assert_eq!(
            (p.current_leader.leader_id, p.current_leader.leader_epoch),
            (-1, -1)
        );
        // A v4 request has none of the session fields: they decode to their
        // defaults.
        #[rustfmt::skip]
        let v4: &[u8] = &[
            0xff, 0xff, 0xff, 0xff, // replica_id -1
            0, 0, 1, 0xf4, // max_wait_ms 500
            0, 0, 0, 1, // min_bytes 1
            0, 0x10, 0, 0, // max_bytes
            1, // isolation_level READ_COMMITTED
            0, 0, 0, 0, // no topics
        ];
        let req = FetchRequest::decode(&Bytes::from_static(v4), 4).unwrap();
        assert_eq!(req.session_epoch, -1);
        assert_eq!(req.isolation_level, 1);
        assert_eq!(req.max_bytes, 0x0010_0000);
    }

    #[test]
    fn tagged_fields_only_when_set() {
        let mut resp = one_partition(None);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 12).unwrap();
        #[rustfmt::skip]
        let plain: &[u8] = &[
            0, 0, 0, 0, // throttle
            0, 0, // error
            0, 0, 0, 0, // session
            2, 2, b't', // one topic "t"
            2, // one partition
            0, 0, 0, 0, 0, 0, // index, error
            0, 0, 0, 0, 0, 0, 0, 10, // hw
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // lso -1
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // log start -1
            1, // empty aborted transactions
            0xff, 0xff, 0xff, 0xff, // preferred replica -1
            0, // null records
            0, // partition tags: none
            0, // topic tags
            0, // response tags
        ];
        assert_eq!(&buf[..], plain);

        resp.responses[0].partitions[0].current_leader = LeaderIdAndEpoch {
            leader_id: 2,
            leader_epoch: 7,
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 12).unwrap();
        let tags_at = plain.len() - 3;
        assert_eq!(
            &buf[tags_at..],
            &[1, 1, 9, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0],
            "one tagged field: tag 1, 9 bytes (two int32 and an empty tag section)"
        );
        assert_eq!(FetchResponse::decode(&buf.freeze(), 12).unwrap(), resp);
        // Before v12 the tagged fields do not exist and are dropped.
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 11).unwrap();
        assert_eq!(
            FetchResponse::decode(&buf.freeze(), 11).unwrap(),
            one_partition(None)
        );
    }

    #[test]
    fn cluster_id_is_a_request_tag() {
        let req = FetchRequest {
            cluster_id: Some("c".into()),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 12).unwrap();
        // ..., empty topics, empty forgotten, empty rack, then tag 0 of 2
        // bytes: compact string "c".
        assert_eq!(&buf[buf.len() - 8..], &[1, 1, 1, 1, 0, 2, 2, b'c']);
        assert_eq!(FetchRequest::decode(&buf.freeze(), 12).unwrap(), req);
    }

    #[test]
    fn unsupported_versions_are_refused() {
        assert!(matches!(
            FetchRequest::decode(&Bytes::new(), 3),
            Err(DecodeError::UnsupportedVersion { version: 3, .. })
        ));
        assert!(FetchResponse::default()
            .encode(&mut BytesMut::new(), 13)
            .is_err());
    }
}
