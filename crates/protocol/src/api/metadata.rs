//! Metadata (key 3): which brokers exist, which topics and partitions they
//! host, who leads each partition and who is in sync. Clients call it to
//! route every produce and fetch.

use crate::codec::{message, Request};

message! {
    /// Metadata request.
    pub message MetadataRequest {
        api_key: Metadata, versions: 0..=9, flexible: 9..;
        /// The topics to describe. In v0 an empty array means all topics;
        /// from v1 null means all topics and empty means none.
        topics: Option<Vec<MetadataRequestTopic>> [0..] nullable [1..],
        /// Whether the broker may auto-create requested topics that do not
        /// exist (if `auto.create.topics.enable`).
        allow_auto_topic_creation: bool [4..] = true,
        /// Whether to include cluster authorized operations.
        include_cluster_authorized_operations: bool [8..=10],
        /// Whether to include topic authorized operations.
        include_topic_authorized_operations: bool [8..],
    }

    /// A topic to describe.
    pub struct MetadataRequestTopic {
        name: String [0..],
    }

    /// Metadata response.
    pub message MetadataResponse {
        api_key: Metadata, versions: 0..=9, flexible: 9..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [3..],
        /// Every live broker.
        brokers: Vec<MetadataResponseBroker> [0..],
        /// The cluster id (`/cluster/id`).
        cluster_id: Option<String> [2..] = None,
        /// The controller's broker id, -1 if none.
        controller_id: i32 [1..] = -1,
        /// Each requested topic.
        topics: Vec<MetadataResponseTopic> [0..],
        /// Bitfield of authorized cluster operations; i32::MIN if not asked.
        cluster_authorized_operations: i32 [8..] = i32::MIN,
    }

    /// A broker and where to reach it.
    pub struct MetadataResponseBroker {
        node_id: i32 [0..],
        host: String [0..],
        port: i32 [0..],
        /// The broker's rack, null if none was assigned.
        rack: Option<String> [1..] = None,
    }

    /// A topic's metadata.
    pub struct MetadataResponseTopic {
        error_code: i16 [0..],
        name: String [0..],
        /// True for internal topics such as `__consumer_offsets`.
        is_internal: bool [1..] = false,
        partitions: Vec<MetadataResponsePartition> [0..],
        /// Bitfield of authorized topic operations; i32::MIN if not asked.
        topic_authorized_operations: i32 [8..] = i32::MIN,
    }

    /// A partition's leader and replicas.
    pub struct MetadataResponsePartition {
        error_code: i16 [0..],
        partition_index: i32 [0..],
        /// The leader's broker id, -1 if none.
        leader_id: i32 [0..],
        /// The leader epoch, -1 if unknown.
        leader_epoch: i32 [7..] = -1,
        /// Every replica's broker id.
        replica_nodes: Vec<i32> [0..],
        /// The in-sync replicas.
        isr_nodes: Vec<i32> [0..],
        /// Replicas whose log directory is offline.
        offline_replicas: Vec<i32> [5..],
    }
}

impl Request for MetadataRequest {
    type Response = MetadataResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, EncodeError, Message};
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::metadata_response as kpr;
    use kafka_protocol::messages::{BrokerId, TopicName};

    fn their_request(r: &MetadataRequest) -> kp::MetadataRequest {
        kp::MetadataRequest::default()
            .with_topics(r.topics.as_ref().map(|topics| {
                topics
                    .iter()
                    .map(|t| {
                        kp::metadata_request::MetadataRequestTopic::default()
                            .with_name(Some(TopicName(str_bytes(&t.name))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(r.allow_auto_topic_creation)
            .with_include_cluster_authorized_operations(r.include_cluster_authorized_operations)
            .with_include_topic_authorized_operations(r.include_topic_authorized_operations)
    }

    fn brokers(ids: &[i32]) -> Vec<BrokerId> {
        ids.iter().copied().map(BrokerId).collect()
    }

    fn their_response(r: &MetadataResponse) -> kp::MetadataResponse {
        kp::MetadataResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_brokers(
                r.brokers
                    .iter()
                    .map(|b| {
                        kpr::MetadataResponseBroker::default()
                            .with_node_id(BrokerId(b.node_id))
                            .with_host(str_bytes(&b.host))
                            .with_port(b.port)
                            .with_rack(b.rack.as_deref().map(str_bytes))
                    })
                    .collect(),
            )
            .with_cluster_id(r.cluster_id.as_deref().map(str_bytes))
            .with_controller_id(BrokerId(r.controller_id))
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::MetadataResponseTopic::default()
                            .with_error_code(t.error_code)
                            .with_name(Some(TopicName(str_bytes(&t.name))))
                            .with_is_internal(t.is_internal)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        kpr::MetadataResponsePartition::default()
                                            .with_error_code(p.error_code)
                                            .with_partition_index(p.partition_index)
                                            .with_leader_id(BrokerId(p.leader_id))
                                            .with_leader_epoch(p.leader_epoch)
                                            .with_replica_nodes(brokers(&p.replica_nodes))
                                            .with_isr_nodes(brokers(&p.isr_nodes))
                                            .with_offline_replicas(brokers(&p.offline_replicas))
                                    })
                                    .collect(),
                            )
                            .with_topic_authorized_operations(t.topic_authorized_operations)
                    })
                    .collect(),
            )
            .with_cluster_authorized_operations(r.cluster_authorized_operations)
    }

    testing::codec_tests!(
        MetadataRequest,
        MetadataResponse,
        their_request,
        their_response,
        MetadataRequest::VERSIONS
    );

    #[test]
    fn null_topics_only_from_v1() {
        let all = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        assert_eq!(
            all.encode(&mut BytesMut::new(), 0),
            Err(EncodeError::NullNotAllowed {
                field: "topics",
                version: 0
            })
        );
        let mut buf = BytesMut::new();
        all.encode(&mut buf, 1).unwrap();
        assert_eq!(&buf[..], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            MetadataRequest::decode(&Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]), 0),
            Err(DecodeError::UnexpectedNull {
                field: "topics",
                version: 0
            })
        );
        // v9: compact null array, the three booleans, empty tagged fields.
        let mut buf = BytesMut::new();
        all.encode(&mut buf, 9).unwrap();
        assert_eq!(&buf[..], &[0, 1, 0, 0, 0]);
    }

    #[test]
    fn absent_fields_take_spec_defaults() {
        let resp =
            MetadataResponse::decode(&Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0]), 0).unwrap();
        assert_eq!(resp.controller_id, -1);
        assert_eq!(resp.cluster_authorized_operations, i32::MIN);
        let req = MetadataRequest::decode(&Bytes::from_static(&[0, 0, 0, 0]), 3).unwrap();
        assert!(req.allow_auto_topic_creation);
    }

    #[test]
    fn hostile_lengths_are_errors_not_allocations() {
        // brokers: 2^31-1 elements claimed, none present.
        let body = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(
            MetadataResponse::decode(&body, 0),
            Err(DecodeError::InvalidLength(i32::MAX as i64))
        );
        assert_eq!(
            MetadataRequest::decode(&Bytes::from_static(&[0, 0, 0, 0, 7]), 1),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
