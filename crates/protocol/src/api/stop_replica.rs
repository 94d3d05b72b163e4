//! StopReplica (key 5): the controller tells a broker to stop replicating
//! partitions, and possibly to delete them (topic deletion, a replica moved
//! away by a reassignment). A broker only ever receives it from the
//! controller.
//!
//! Versions 0 to 3, as in Kafka 2.8: v1 adds the broker epoch and groups
//! partitions by topic; v2 is flexible; v3 (KIP-570) carries a leader epoch
//! and a delete flag per partition instead of one flag for the request.

use crate::codec::{message, Request};

message! {
    /// StopReplica request.
    pub message StopReplicaRequest {
        api_key: StopReplica, versions: 0..=3, flexible: 2..;
        /// The current controller's broker id.
        controller_id: i32 [0..],
        /// The current controller epoch.
        controller_epoch: i32 [0..],
        /// The receiving broker's epoch, -1 if unknown (v1+).
        broker_epoch: i64 [1..] = -1,
        /// Whether to delete the partitions as well (v0-v2; v3 says so per
        /// partition).
        delete_partitions: bool [0..=2],
        /// The partitions to stop, each naming its topic (v0).
        ungrouped_partitions: Vec<StopReplicaPartitionV0> [0..=0],
        /// The partitions to stop, by topic (v1-v2).
        topics: Vec<StopReplicaTopicV1> [1..=2],
        /// The partitions to stop with their leader epochs, by topic (v3+).
        topic_states: Vec<StopReplicaTopicState> [3..],
    }

    /// A partition to stop (v0).
    pub struct StopReplicaPartitionV0 {
        topic_name: String [0..=0],
        partition_index: i32 [0..=0],
    }

    /// A topic's partitions to stop (v1-v2).
    pub struct StopReplicaTopicV1 {
        name: String [1..=2],
        partition_indexes: Vec<i32> [1..=2],
    }

    /// A topic's partitions to stop (v3+).
    pub struct StopReplicaTopicState {
        topic_name: String [3..],
        partition_states: Vec<StopReplicaPartitionState> [3..],
    }

    /// A partition to stop (v3+).
    pub struct StopReplicaPartitionState {
        partition_index: i32 [3..],
        /// The partition's leader epoch: the broker refuses the request
        /// (FENCED_LEADER_EPOCH) if it knows a newer one. -1 skips the
        /// check; -2 (a topic being deleted) also skips it.
        leader_epoch: i32 [3..] = -1,
        /// Whether to delete the partition as well.
        delete_partition: bool [3..],
    }

    /// StopReplica response.
    pub message StopReplicaResponse {
        api_key: StopReplica, versions: 0..=3, flexible: 2..;
        /// The request-level error, 0 if none.
        error_code: i16 [0..],
        /// Each partition's outcome.
        partition_errors: Vec<StopReplicaPartitionError> [0..],
    }

    /// One partition's outcome.
    pub struct StopReplicaPartitionError {
        topic_name: String [0..],
        partition_index: i32 [0..],
        error_code: i16 [0..],
    }
}

impl Request for StopReplicaRequest {
    type Response = StopReplicaResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use crate::{DecodeError, Message};
    use bytes::Bytes;

    // kafka-protocol 0.18 follows Kafka 4.0, which removed the ZooKeeper-mode
    // controller RPCs, so there is no differential check: round trips,
    // robustness, and known bytes built by hand from the spec.
    #[test]
    fn round_trip() {
        testing::check_round_trip::<StopReplicaRequest>();
        testing::check_round_trip::<StopReplicaResponse>();
    }

    #[test]
    fn decode_never_panics() {
        testing::check_decode_never_panics::<StopReplicaRequest>();
        testing::check_decode_never_panics::<StopReplicaResponse>();
    }

    #[test]
    fn known_bytes_v0_and_v1() {
        let v0 = StopReplicaRequest {
            controller_id: 1,
            controller_epoch: 2,
            delete_partitions: true,
            ungrouped_partitions: vec![StopReplicaPartitionV0 {
                topic_name: "t".into(),
                partition_index: 3,
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        testing::check_known_bytes(&v0, 0, &[
            0, 0, 0, 1, 0, 0, 0, 2, // controller_id, controller_epoch
            1, // delete_partitions
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 3, // ungrouped_partitions
        ]);
        let v1 = StopReplicaRequest {
            controller_id: 1,
            controller_epoch: 2,
            broker_epoch: 5,
            delete_partitions: false,
            topics: vec![StopReplicaTopicV1 {
                name: "t".into(),
                partition_indexes: vec![3, 4],
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        testing::check_known_bytes(&v1, 1, &[
            0, 0, 0, 1, 0, 0, 0, 2, // controller_id, controller_epoch
            0, 0, 0, 0, 0, 0, 0, 5, // broker_epoch
            0, // delete_partitions
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, // topics
        ]);
        // v0 has no broker epoch: it decodes to the spec default.
        let back = StopReplicaRequest::decode(
            &Bytes::from_static(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0]),
            0,
        )
        .unwrap();
        assert_eq!(back.broker_epoch, -1);

        let resp = StopReplicaResponse {
            error_code: 0,
            partition_errors: vec![StopReplicaPartitionError {
                topic_name: "t".into(),
                partition_index: 3,
                error_code: 6,
            }],
        };
        testing::check_known_bytes(&resp, 1, &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 3, 0, 6]);
    }

    #[test]
    fn known_bytes_flexible_v2_and_v3() {
        let v2 = StopReplicaRequest {
            controller_id: 1,
            controller_epoch: 2,
            broker_epoch: 5,
            delete_partitions: true,
            topics: vec![StopReplicaTopicV1 {
                name: "t".into(),
                partition_indexes: vec![3],
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        testing::check_known_bytes(&v2, 2, &[
            0, 0, 0, 1, 0, 0, 0, 2, // controller_id, controller_epoch
            0, 0, 0, 0, 0, 0, 0, 5, // broker_epoch
            1, // delete_partitions
            2, 2, b't', 2, 0, 0, 0, 3, 0, // topics (compact), topic tagged fields
            0, // request tagged fields
        ]);
        let v3 = StopReplicaRequest {
            controller_id: 1,
            controller_epoch: 2,
            broker_epoch: 5,
            topic_states: vec![StopReplicaTopicState {
                topic_name: "t".into(),
                partition_states: vec![StopReplicaPartitionState {
                    partition_index: 3,
                    leader_epoch: -2,
                    delete_partition: true,
                }],
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        testing::check_known_bytes(&v3, 3, &[
            0, 0, 0, 1, 0, 0, 0, 2, // controller_id, controller_epoch
            0, 0, 0, 0, 0, 0, 0, 5, // broker_epoch
            2, 2, b't', // topic_states: one, named t
            2, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xfe, 1, 0, // partition 3, epoch -2, delete
            0, // topic state tagged fields
            0, // request tagged fields
        ]);
        let resp = StopReplicaResponse {
            error_code: 0,
            partition_errors: vec![StopReplicaPartitionError {
                topic_name: "t".into(),
                partition_index: 3,
                error_code: 74,
            }],
        };
        testing::check_known_bytes(&resp, 3, &[0, 0, 2, 2, b't', 0, 0, 0, 3, 0, 74, 0, 0]);
        assert_eq!(
            StopReplicaResponse::decode(&Bytes::new(), 4),
            Err(DecodeError::UnsupportedVersion {
                message: "StopReplicaResponse",
                version: 4
            })
        );
    }
}
