//! OffsetForLeaderEpoch (key 23): where a leader epoch ends in the leader's
//! log. A follower that starts following a new leader asks it with its own
//! latest epoch and truncates what it holds past the answer (KIP-101,
//! KIP-279); a consumer asks to detect a log truncated under it (KIP-320).
//!
//! Versions 0 to 4, as in Kafka 2.8: v1 answers with the epoch found as
//! well, v2 adds the requester's current leader epoch (fencing) and the
//! throttle time, v3 the requester's broker id, and v4 is flexible.

use crate::codec::{message, Request};

message! {
    /// OffsetForLeaderEpoch request.
    pub message OffsetForLeaderEpochRequest {
        api_key: OffsetForLeaderEpoch, versions: 0..=4, flexible: 4..;
        /// The follower's broker id; -1 for a consumer, -2 (the default) for
        /// a requester before v3.
        replica_id: i32 [3..] = -2,
        /// Each topic to get offsets for.
        topics: Vec<OffsetForLeaderTopic> [0..],
    }

    /// The partitions of one topic to look up.
    pub struct OffsetForLeaderTopic {
        /// The topic name.
        topic: String [0..],
        /// Each partition to look up.
        partitions: Vec<OffsetForLeaderPartition> [0..],
    }

    /// One partition to look up.
    pub struct OffsetForLeaderPartition {
        /// The partition index.
        partition: i32 [0..],
        /// The leader epoch the requester believes current, -1 if unknown:
        /// older than the broker's answers FENCED_LEADER_EPOCH, newer
        /// UNKNOWN_LEADER_EPOCH.
        current_leader_epoch: i32 [2..] = -1,
        /// The epoch whose end offset is asked for.
        leader_epoch: i32 [0..],
    }

    /// OffsetForLeaderEpoch response.
    pub message OffsetForLeaderEpochResponse {
        api_key: OffsetForLeaderEpoch, versions: 0..=4, flexible: 4..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [2..],
        /// Each topic in the response.
        topics: Vec<OffsetForLeaderTopicResult> [0..],
    }

    /// The answers for one topic.
    pub struct OffsetForLeaderTopicResult {
        /// The topic name.
        topic: String [0..],
        /// Each partition in the response.
        partitions: Vec<EpochEndOffset> [0..],
    }

    /// The answer for one partition.
    pub struct EpochEndOffset {
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The partition index.
        partition: i32 [0..],
        /// The largest epoch at or below the requested one that the leader
        /// knows, -1 if none.
        leader_epoch: i32 [1..] = -1,
        /// Where that epoch ends: the start of the next one, or the log end
        /// for the current epoch; -1 if unknown.
        end_offset: i64 [0..] = -1,
    }
}

impl Request for OffsetForLeaderEpochRequest {
    type Response = OffsetForLeaderEpochResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::offset_for_leader_epoch_request as kpq;
    use kafka_protocol::messages::offset_for_leader_epoch_response as kpr;
    use kafka_protocol::messages::{BrokerId, TopicName};

    fn their_request(r: &OffsetForLeaderEpochRequest) -> kp::OffsetForLeaderEpochRequest {
        kp::OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(r.replica_id))
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpq::OffsetForLeaderTopic::default()
                            .with_topic(TopicName(str_bytes(&t.topic)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpq::OffsetForLeaderPartition::default()
                                            .with_partition(p.partition)
                                            .with_current_leader_epoch(p.current_leader_epoch)
                                            .with_leader_epoch(p.leader_epoch)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn their_response(r: &OffsetForLeaderEpochResponse) -> kp::OffsetForLeaderEpochResponse {
        kp::OffsetForLeaderEpochResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::OffsetForLeaderTopicResult::default()
                            .with_topic(TopicName(str_bytes(&t.topic)))
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpr::EpochEndOffset::default()
                                            .with_error_code(p.error_code)
                                            .with_partition(p.partition)
                                            .with_leader_epoch(p.leader_epoch)
                                            .with_end_offset(p.end_offset)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    // kafka-protocol 0.18 follows Kafka 4.0, which dropped v0 and v1
    // (KIP-896): those are pinned byte for byte below.
    testing::codec_tests!(
        OffsetForLeaderEpochRequest,
        OffsetForLeaderEpochResponse,
        their_request,
        their_response,
        2..=4
    );

    fn request(replica_id: i32, current_leader_epoch: i32) -> OffsetForLeaderEpochRequest {
        OffsetForLeaderEpochRequest {
            replica_id,
            topics: vec![OffsetForLeaderTopic {
                topic: "t".into(),
                partitions: vec![OffsetForLeaderPartition {
                    partition: 1,
                    current_leader_epoch,
                    leader_epoch: 3,
                }],
            }],
        }
    }

    fn response(leader_epoch: i32) -> OffsetForLeaderEpochResponse {
        OffsetForLeaderEpochResponse {
            throttle_time_ms: 0,
            topics: vec![OffsetForLeaderTopicResult {
                topic: "t".into(),
                partitions: vec![EpochEndOffset {
                    error_code: 0,
                    partition: 1,
                    leader_epoch,
                    end_offset: 42,
                }],
            }],
        }
    }

    #[test]
    fn known_bytes_of_v0_and_v1() {
        // v0 and v1 requests are the same: no current epoch, no replica id.
        #[rustfmt::skip]
        let request_v0: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't', // one topic "t"
            0, 0, 0, 1, // one partition
            0, 0, 0, 1, // partition 1
            0, 0, 0, 3, // leader_epoch 3
        ];
        for version in [0, 1] {
            testing::check_known_bytes(&request(-2, -1), version, request_v0);
        }
        #[rustfmt::skip]
        let response_v0: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1,
            0, 0, // error_code
            0, 0, 0, 1, // partition 1
            0, 0, 0, 0, 0, 0, 0, 42, // end_offset
        ];
        // v0 has no epoch in the answer: it decodes to -1.
        testing::check_known_bytes(&response(-1), 0, response_v0);
        #[rustfmt::skip]
        let response_v1: &[u8] = &[
            0, 0, 0, 1, 0, 1, b't',
            0, 0, 0, 1,
            0, 0,
            0, 0, 0, 1,
            0, 0, 0, 5, // leader_epoch 5
            0, 0, 0, 0, 0, 0, 0, 42,
        ];
        testing::check_known_bytes(&response(5), 1, response_v1);
    }

    #[test]
    fn known_bytes_of_the_flexible_v4() {
        #[rustfmt::skip]
        let request_v4: &[u8] = &[
            0, 0, 0, 2, // replica_id 2
            2, 2, b't', // compact array of one topic, compact string "t"
            2, 0, 0, 0, 1, // one partition, partition 1
            0, 0, 0, 7, // current_leader_epoch 7
            0, 0, 0, 3, // leader_epoch 3
            0, 0, 0, // tagged fields: partition, topic, request
        ];
        testing::check_known_bytes(&request(2, 7), 4, request_v4);
    }
}
