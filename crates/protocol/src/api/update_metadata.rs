//! UpdateMetadata (key 6): the controller pushes the cluster's live brokers
//! and partition states to every broker, which answers Metadata requests
//! from that cache. A broker only ever receives it from the controller.
//!
//! Versions 0 to 7, as in Kafka 2.8: v1 gives each broker a list of
//! endpoints instead of one host and port; v2 adds the rack; v3 the listener
//! name; v4 the offline replicas; v5 the broker epoch and groups partitions
//! by topic (v0-v4 name the topic inside every partition state); v6 is
//! flexible; v7 (KIP-516) adds topic ids.

use crate::codec::{message, Request};
use crate::Uuid;

message! {
    /// UpdateMetadata request.
    pub message UpdateMetadataRequest {
        api_key: UpdateMetadata, versions: 0..=7, flexible: 6..;
        /// The current controller's broker id.
        controller_id: i32 [0..],
        /// The current controller epoch.
        controller_epoch: i32 [0..],
        /// The receiving broker's epoch, -1 if unknown (v5+).
        broker_epoch: i64 [5..] = -1,
        /// The partition states, each naming its topic (v0-v4).
        ungrouped_partition_states: Vec<UpdateMetadataPartitionState> [0..=4],
        /// The partition states grouped by topic (v5+).
        topic_states: Vec<UpdateMetadataTopicState> [5..],
        /// Every live broker.
        live_brokers: Vec<UpdateMetadataBroker> [0..],
    }

    /// One topic's partition states (v5+).
    pub struct UpdateMetadataTopicState {
        topic_name: String [5..],
        /// The topic's unique id (v7+); zero when unknown.
        topic_id: Uuid [7..],
        partition_states: Vec<UpdateMetadataPartitionState> [5..],
    }

    /// One partition's state. Shared by v0-v4's flat list, where it names
    /// its topic, and v5+'s per-topic lists, where it does not.
    pub struct UpdateMetadataPartitionState {
        /// The topic (v0-v4 only; v5+ take it from the enclosing topic).
        topic_name: String [0..=4],
        partition_index: i32 [0..],
        /// The epoch of the controller that last changed this partition.
        controller_epoch: i32 [0..],
        /// The leader's broker id; -1 if none, -2 while the topic is being
        /// deleted.
        leader: i32 [0..],
        leader_epoch: i32 [0..],
        /// The in-sync replicas' broker ids.
        isr: Vec<i32> [0..],
        /// The version of the partition's state znode this was read from.
        zk_version: i32 [0..],
        /// All replicas' broker ids, preferred leader first.
        replicas: Vec<i32> [0..],
        /// The replicas whose log directory is offline (v4+).
        offline_replicas: Vec<i32> [4..],
    }

    /// A live broker.
    pub struct UpdateMetadataBroker {
        id: i32 [0..],
        /// The broker's one host (v0 only; v1+ list endpoints).
        v0_host: String [0..=0],
        /// The broker's one port (v0 only).
        v0_port: i32 [0..=0],
        /// Where the broker listens (v1+).
        endpoints: Vec<UpdateMetadataEndpoint> [1..],
        /// The broker's rack, null if none (v2+).
        rack: Option<String> [2..] nullable [0..],
    }

    /// One listener of a broker (v1+).
    pub struct UpdateMetadataEndpoint {
        port: i32 [1..],
        host: String [1..],
        /// The listener's name (v3+; before, it is named after the
        /// security protocol).
        listener: String [3..],
        /// The security protocol: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT,
        /// 3 SASL_SSL.
        security_protocol: i16 [1..],
    }

    /// UpdateMetadata response.
    pub message UpdateMetadataResponse {
        api_key: UpdateMetadata, versions: 0..=7, flexible: 6..;
        /// 0, or why the update was refused (STALE_CONTROLLER_EPOCH, ...).
        error_code: i16 [0..],
    }
}

impl Request for UpdateMetadataRequest {
    type Response = UpdateMetadataResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, check_known_bytes};
    use crate::{DecodeError, Message};
    use bytes::Bytes;

    // kafka-protocol 0.18 follows Kafka 4.0, which removed the ZooKeeper-mode
    // controller RPCs, so there is no differential check: round trips,
    // robustness, and known bytes built by hand from the spec.
    #[test]
    fn round_trip() {
        testing::check_round_trip::<UpdateMetadataRequest>();
        testing::check_round_trip::<UpdateMetadataResponse>();
    }

    #[test]
    fn decode_never_panics() {
        testing::check_decode_never_panics::<UpdateMetadataRequest>();
        testing::check_decode_never_panics::<UpdateMetadataResponse>();
    }

    fn state(topic: &str) -> UpdateMetadataPartitionState {
        UpdateMetadataPartitionState {
            topic_name: topic.into(),
            partition_index: 2,
            controller_epoch: 3,
            leader: 1,
            leader_epoch: 4,
            isr: vec![1],
            zk_version: 5,
            replicas: vec![1],
            offline_replicas: vec![],
        }
    }

    #[test]
    fn known_bytes_v0_one_host_per_broker() {
        let req = UpdateMetadataRequest {
            controller_id: 7,
            controller_epoch: 9,
            ungrouped_partition_states: vec![state("t")],
            live_brokers: vec![UpdateMetadataBroker {
                id: 1,
                v0_host: "h".into(),
                v0_port: 9092,
                endpoints: vec![],
                rack: None,
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        check_known_bytes(&req, 0, &[
            0, 0, 0, 7, 0, 0, 0, 9, // controller_id, controller_epoch
            0, 0, 0, 1, 0, 1, b't', // ungrouped_partition_states: one, topic t
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, // partition, ctrl epoch, leader, leader epoch
            0, 0, 0, 1, 0, 0, 0, 1, // isr [1]
            0, 0, 0, 5, // zk_version
            0, 0, 0, 1, 0, 0, 0, 1, // replicas [1]
            0, 0, 0, 1, 0, 0, 0, 1, 0, 1, b'h', 0, 0, 0x23, 0x84, // live_brokers
        ]);
        check_known_bytes(&UpdateMetadataResponse { error_code: 11 }, 0, &[0, 11]);
    }

    #[test]
    fn known_bytes_v4_endpoints_rack_offline_replicas() {
        let req = UpdateMetadataRequest {
            controller_id: 7,
            controller_epoch: 9,
            ungrouped_partition_states: vec![UpdateMetadataPartitionState {
                offline_replicas: vec![2],
                ..state("t")
            }],
            live_brokers: vec![UpdateMetadataBroker {
                id: 1,
                endpoints: vec![UpdateMetadataEndpoint {
                    port: 9092,
                    host: "h".into(),
                    listener: "L".into(),
                    security_protocol: 0,
                }],
                rack: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        check_known_bytes(&req, 4, &[
            0, 0, 0, 7, 0, 0, 0, 9, // controller_id, controller_epoch
            0, 0, 0, 1, 0, 1, b't', // ungrouped_partition_states: one, topic t
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, // partition, ctrl epoch, leader, leader epoch
            0, 0, 0, 1, 0, 0, 0, 1, // isr [1]
            0, 0, 0, 5, // zk_version
            0, 0, 0, 1, 0, 0, 0, 1, // replicas [1]
            0, 0, 0, 1, 0, 0, 0, 2, // offline_replicas [2]
            0, 0, 0, 1, 0, 0, 0, 1, // live_brokers: one, id 1
            0, 0, 0, 1, 0, 0, 0x23, 0x84, 0, 1, b'h', 0, 1, b'L', 0, 0, // endpoints
            0xff, 0xff, // rack: null
        ]);
    }

    #[test]
    fn known_bytes_flexible_v7_topic_ids() {
        let req = UpdateMetadataRequest {
            controller_id: 7,
            controller_epoch: 9,
            broker_epoch: 3,
            topic_states: vec![UpdateMetadataTopicState {
                topic_name: "t".into(),
                topic_id: Uuid::from_bytes([0xcd; 16]),
                partition_states: vec![state("")],
            }],
            live_brokers: vec![UpdateMetadataBroker {
                id: 1,
                endpoints: vec![],
                rack: Some("r".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        #[rustfmt::skip]
        let mut v7: Vec<u8> = vec![
            0, 0, 0, 7, 0, 0, 0, 9, // controller_id, controller_epoch
            0, 0, 0, 0, 0, 0, 0, 3, // broker_epoch
            2, 2, b't', // topic_states: one, named t
        ];
        v7.extend_from_slice(&[0xcd; 16]); // topic_id
        #[rustfmt::skip]
        v7.extend_from_slice(&[
            2, // partition_states: one
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, // partition, ctrl epoch, leader, leader epoch
            2, 0, 0, 0, 1, // isr [1]
            0, 0, 0, 5, // zk_version
            2, 0, 0, 0, 1, // replicas [1]
            1, // offline_replicas []
            0, 0, // partition state and topic state tagged fields
            2, 0, 0, 0, 1, 1, 2, b'r', 0, // live_brokers: id 1, no endpoints, rack r
            0, // request tagged fields
        ]);
        check_known_bytes(&req, 7, &v7);
        // v6 is the same without the topic id, which decodes to zero.
        let mut v6 = v7.clone();
        v6.drain(19..35);
        let back = UpdateMetadataRequest::decode(&Bytes::from(v6.clone()), 6).unwrap();
        assert_eq!(back.topic_states[0].topic_id, Uuid::default());
        check_known_bytes(&back, 6, &v6);
        check_known_bytes(&UpdateMetadataResponse { error_code: 0 }, 7, &[0, 0, 0]);
        assert_eq!(
            UpdateMetadataRequest::decode(&Bytes::new(), 8),
            Err(DecodeError::UnsupportedVersion {
                message: "UpdateMetadataRequest",
                version: 8
            })
        );
    }
}
