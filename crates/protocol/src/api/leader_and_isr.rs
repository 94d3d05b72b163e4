//! LeaderAndIsr (key 4): the controller tells a broker which partitions it
//! now leads or follows, with each partition's leader, leader epoch, ISR and
//! replicas. A broker only ever receives it from the controller.
//!
//! Versions 0 to 5, as in Kafka 2.8: v1 adds `is_new`; v2 the broker epoch
//! and groups the partitions by topic (v0-v1 name the topic inside every
//! partition state); v3 the replicas being added and removed by a
//! reassignment; v4 is flexible; v5 (KIP-516) the request `type` and topic
//! ids, and the response groups its partition errors by topic id.

use crate::codec::{message, Request};
use crate::Uuid;

message! {
    /// LeaderAndIsr request.
    pub message LeaderAndIsrRequest {
        api_key: LeaderAndIsr, versions: 0..=5, flexible: 4..;
        /// The current controller's broker id.
        controller_id: i32 [0..],
        /// The current controller epoch.
        controller_epoch: i32 [0..],
        /// The receiving broker's epoch (its registration's czxid), -1 if
        /// unknown; a broker refuses a request for an older epoch of itself.
        broker_epoch: i64 [2..] = -1,
        /// 0: an incremental update; 1: the full set of the broker's
        /// partitions (KIP-516), so it may delete the logs of any other.
        r#type: i8 [5..],
        /// The state of each partition, each naming its topic (v0-v1).
        ungrouped_partition_states: Vec<LeaderAndIsrPartitionState> [0..=1],
        /// The partition states grouped by topic (v2+).
        topic_states: Vec<LeaderAndIsrTopicState> [2..],
        /// The leaders among the partitions, and where to reach them.
        live_leaders: Vec<LeaderAndIsrLiveLeader> [0..],
    }

    /// One topic's partition states (v2+).
    pub struct LeaderAndIsrTopicState {
        topic_name: String [2..],
        /// The topic's unique id (v5+); zero when unknown.
        topic_id: Uuid [5..],
        partition_states: Vec<LeaderAndIsrPartitionState> [2..],
    }

    /// One partition's leadership. Shared by v0-v1's flat list, where it
    /// names its topic, and v2+'s per-topic lists, where it does not.
    pub struct LeaderAndIsrPartitionState {
        /// The topic (v0-v1 only; v2+ take it from the enclosing topic).
        topic_name: String [0..=1],
        partition_index: i32 [0..],
        /// The epoch of the controller that last changed this partition.
        controller_epoch: i32 [0..],
        /// The leader's broker id, -1 if the partition has none.
        leader: i32 [0..],
        leader_epoch: i32 [0..],
        /// The in-sync replicas' broker ids.
        isr: Vec<i32> [0..],
        /// The version of the partition's state znode this was read from.
        zk_version: i32 [0..],
        /// All replicas' broker ids, preferred leader first.
        replicas: Vec<i32> [0..],
        /// Replicas a reassignment is adding (v3+).
        adding_replicas: Vec<i32> [3..],
        /// Replicas a reassignment is removing (v3+).
        removing_replicas: Vec<i32> [3..],
        /// Whether the replica is being created, so the broker may create
        /// its log rather than treat a missing one as lost (v1+).
        is_new: bool [1..] = false,
    }

    /// A live partition leader.
    pub struct LeaderAndIsrLiveLeader {
        broker_id: i32 [0..],
        host_name: String [0..],
        port: i32 [0..],
    }

    /// LeaderAndIsr response. Up to v4 one flat list of partition errors
    /// naming their topics; v5 groups them by topic id.
    pub message LeaderAndIsrResponse {
        api_key: LeaderAndIsr, versions: 0..=5, flexible: 4..;
        /// The request-level error, 0 if none (STALE_CONTROLLER_EPOCH,
        /// STALE_BROKER_EPOCH, ...).
        error_code: i16 [0..],
        /// Each partition's outcome (v0-v4).
        partition_errors: Vec<LeaderAndIsrPartitionError> [0..=4],
        /// Each topic's partition outcomes (v5+).
        topics: Vec<LeaderAndIsrTopicError> [5..],
    }

    /// One topic's partition outcomes (v5+).
    pub struct LeaderAndIsrTopicError {
        topic_id: Uuid [5..],
        partition_errors: Vec<LeaderAndIsrPartitionError> [5..],
    }

    /// One partition's outcome.
    pub struct LeaderAndIsrPartitionError {
        /// The topic (v0-v4 only; v5 takes it from the enclosing topic).
        topic_name: String [0..=4],
        partition_index: i32 [0..],
        error_code: i16 [0..],
    }
}

impl Request for LeaderAndIsrRequest {
    type Response = LeaderAndIsrResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{DecodeError, Message};
    use bytes::{Bytes, BytesMut};

    // kafka-protocol 0.18 follows Kafka 4.0, which removed the ZooKeeper-mode
    // controller RPCs, so there is no differential check: round trips,
    // robustness, and known bytes built by hand from the spec.
    #[test]
    fn round_trip() {
        testing::check_round_trip::<LeaderAndIsrRequest>();
        testing::check_round_trip::<LeaderAndIsrResponse>();
    }

    #[test]
    fn decode_never_panics() {
        testing::check_decode_never_panics::<LeaderAndIsrRequest>();
        testing::check_decode_never_panics::<LeaderAndIsrResponse>();
    }

    fn state(topic: &str) -> LeaderAndIsrPartitionState {
        LeaderAndIsrPartitionState {
            topic_name: topic.into(),
            partition_index: 2,
            controller_epoch: 3,
            leader: 1,
            leader_epoch: 4,
            isr: vec![1],
            zk_version: 5,
            replicas: vec![1, 2],
            adding_replicas: vec![],
            removing_replicas: vec![],
            is_new: true,
        }
    }

    #[test]
    fn known_bytes_v1_names_topic_in_each_partition() {
        let req = LeaderAndIsrRequest {
            controller_id: 7,
            controller_epoch: 9,
            ungrouped_partition_states: vec![state("t")],
            live_leaders: vec![LeaderAndIsrLiveLeader {
                broker_id: 1,
                host_name: "h".into(),
                port: 9092,
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 0, 0, 7, // controller_id
            0, 0, 0, 9, // controller_epoch
            0, 0, 0, 1, // ungrouped_partition_states
            0, 1, b't', // topic_name
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, // partition, ctrl epoch, leader, leader epoch
            0, 0, 0, 1, 0, 0, 0, 1, // isr [1]
            0, 0, 0, 5, // zk_version
            0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, // replicas [1, 2]
            1, // is_new
            0, 0, 0, 1, 0, 0, 0, 1, 0, 1, b'h', 0, 0, 0x23, 0x84, // live_leaders
        ];
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 1).unwrap();
        assert_eq!(&buf[..], v1);
        assert_eq!(
            LeaderAndIsrRequest::decode(&Bytes::from_static(v1), 1).unwrap(),
            req
        );
        // v0 has no is_new: the same bytes less that one decode to false.
        let mut v0 = v1.to_vec();
        v0.remove(55);
        let back = LeaderAndIsrRequest::decode(&Bytes::from(v0.clone()), 0).unwrap();
        assert!(!back.ungrouped_partition_states[0].is_new);
        let mut buf = BytesMut::new();
        back.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &v0[..]);

        let resp = LeaderAndIsrResponse {
            error_code: 0,
            partition_errors: vec![LeaderAndIsrPartitionError {
                topic_name: "t".into(),
                partition_index: 2,
                error_code: 56,
            }],
            topics: vec![],
        };
        let bytes: &[u8] = &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 56];
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], bytes);
        assert_eq!(
            LeaderAndIsrResponse::decode(&Bytes::from_static(bytes), 3).unwrap(),
            resp
        );
    }

    #[test]
    fn known_bytes_v5_groups_by_topic_with_ids() {
        let id = Uuid::from_bytes([0xab; 16]);
        let req = LeaderAndIsrRequest {
            controller_id: 7,
            controller_epoch: 9,
            broker_epoch: 0x10,
            r#type: 1,
            ungrouped_partition_states: vec![],
            topic_states: vec![LeaderAndIsrTopicState {
                topic_name: "t".into(),
                topic_id: id,
                partition_states: vec![LeaderAndIsrPartitionState {
                    adding_replicas: vec![2],
                    ..state("")
                }],
            }],
            live_leaders: vec![],
        };
        #[rustfmt::skip]
        let mut v5: Vec<u8> = vec![
            0, 0, 0, 7, // controller_id
            0, 0, 0, 9, // controller_epoch
            0, 0, 0, 0, 0, 0, 0, 0x10, // broker_epoch
            1, // type
            2, // topic_states: one (compact)
            2, b't', // topic_name
        ];
        v5.extend_from_slice(&[0xab; 16]); // topic_id
        #[rustfmt::skip]
        v5.extend_from_slice(&[
            2, // partition_states: one
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, // partition, ctrl epoch, leader, leader epoch
            2, 0, 0, 0, 1, // isr [1]
            0, 0, 0, 5, // zk_version
            3, 0, 0, 0, 1, 0, 0, 0, 2, // replicas [1, 2]
            2, 0, 0, 0, 2, // adding_replicas [2]
            1, // removing_replicas []
            1, // is_new
            0, // partition state tagged fields
            0, // topic state tagged fields
            1, // live_leaders: none
            0, // request tagged fields
        ]);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 5).unwrap();
        assert_eq!(&buf[..], &v5[..]);
        assert_eq!(
            LeaderAndIsrRequest::decode(&Bytes::from(v5.clone()), 5).unwrap(),
            req
        );
        // v4 is the same less the type and the topic id, which decode to
        // their defaults.
        let mut v4 = v5.clone();
        v4.drain(20..36);
        v4.remove(16);
        let back = LeaderAndIsrRequest::decode(&Bytes::from(v4), 4).unwrap();
        assert_eq!(
            (back.r#type, back.topic_states[0].topic_id),
            (0, Uuid::default())
        );

        let resp = LeaderAndIsrResponse {
            error_code: 0,
            partition_errors: vec![],
            topics: vec![LeaderAndIsrTopicError {
                topic_id: id,
                partition_errors: vec![LeaderAndIsrPartitionError {
                    topic_name: String::new(),
                    partition_index: 2,
                    error_code: 0,
                }],
            }],
        };
        let mut expected = vec![0, 0, 2];
        expected.extend_from_slice(&[0xab; 16]);
        expected.extend_from_slice(&[2, 0, 0, 0, 2, 0, 0, 0, 0, 0]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 5).unwrap();
        assert_eq!(&buf[..], &expected[..]);
        assert_eq!(
            LeaderAndIsrResponse::decode(&Bytes::from(expected), 5).unwrap(),
            resp
        );
        assert_eq!(
            LeaderAndIsrRequest::decode(&Bytes::new(), 6),
            Err(DecodeError::UnsupportedVersion {
                message: "LeaderAndIsrRequest",
                version: 6
            })
        );
    }
}
