//! CreateTopics (key 19): create topics with a partition count and
//! replication factor or an explicit replica assignment, plus per-topic
//! configs. Only the controller acts on it; other brokers forward nothing and
//! answer NOT_CONTROLLER, as in Kafka's ZooKeeper mode.

use crate::codec::{message, Request};

message! {
    /// CreateTopics request. v1 adds `validate_only`; v4 lets
    /// `num_partitions`/`replication_factor` be -1 (broker defaults) without
    /// an assignment (KIP-464); v5 is the first flexible version.
    pub message CreateTopicsRequest {
        api_key: CreateTopics, versions: 0..=5, flexible: 5..;
        /// The topics to create.
        topics: Vec<CreatableTopic> [0..],
        /// How long to wait for the topics to be created, in ms.
        timeout_ms: i32 [0..] = 60_000,
        /// Check that the topics could be created, but create nothing.
        validate_only: bool [1..],
    }

    /// A topic to create.
    pub struct CreatableTopic {
        name: String [0..],
        /// The number of partitions, or -1 with a manual assignment or for
        /// the broker default (v4+).
        num_partitions: i32 [0..],
        /// The number of replicas of each partition, or -1 with a manual
        /// assignment or for the broker default (v4+).
        replication_factor: i16 [0..],
        /// The manual partition assignment; empty for automatic assignment.
        assignments: Vec<CreatableReplicaAssignment> [0..],
        /// Topic-level config overrides.
        configs: Vec<CreatableTopicConfig> [0..],
    }

    /// Where one partition's replicas go.
    pub struct CreatableReplicaAssignment {
        partition_index: i32 [0..],
        /// The brokers to place the replicas on, preferred leader first.
        broker_ids: Vec<i32> [0..],
    }

    /// A topic config override.
    pub struct CreatableTopicConfig {
        name: String [0..],
        /// Null falls back to the broker default.
        value: Option<String> [0..] nullable [0..],
    }

    /// CreateTopics response. v1 adds per-topic error messages; v2 the
    /// throttle time; v5 (KIP-525) the created topic's partition count,
    /// replication factor and configs.
    pub message CreateTopicsResponse {
        api_key: CreateTopics, versions: 0..=5, flexible: 5..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [2..],
        /// One result per requested topic.
        topics: Vec<CreatableTopicResult> [0..],
    }

    /// The outcome of creating one topic.
    pub struct CreatableTopicResult {
        name: String [0..],
        error_code: i16 [0..],
        /// The error message, null if there was no error.
        error_message: Option<String> [1..] nullable [0..] = Some(String::new()),
        /// Why the configs could not be returned, if they could not (v5+).
        topic_config_error_code: i16 [5..] tag 0,
        /// The number of partitions the topic has, -1 if unknown.
        num_partitions: i32 [5..] = -1,
        /// The replication factor of the topic, -1 if unknown.
        replication_factor: i16 [5..] = -1,
        /// The topic's configs, null if they could not be returned.
        configs: Option<Vec<CreatableTopicConfigs>> [5..] nullable [5..] = Some(Vec::new()),
    }

    /// One config of a created topic.
    pub struct CreatableTopicConfigs {
        name: String [5..],
        value: Option<String> [5..] nullable [5..],
        read_only: bool [5..],
        /// Where the value comes from (`DescribeConfigs`' config sources).
        config_source: i8 [5..] = -1,
        is_sensitive: bool [5..],
    }
}

impl Request for CreateTopicsRequest {
    type Response = CreateTopicsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, Message};
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::create_topics_request as kpq;
    use kafka_protocol::messages::create_topics_response as kpr;
    use kafka_protocol::messages::{BrokerId, TopicName};

    fn their_request(r: &CreateTopicsRequest) -> kp::CreateTopicsRequest {
        kp::CreateTopicsRequest::default()
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpq::CreatableTopic::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_num_partitions(t.num_partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_assignments(
                                t.assignments
                                    .iter()
                                    .map(|a| {
                                        kpq::CreatableReplicaAssignment::default()
                                            .with_partition_index(a.partition_index)
                                            .with_broker_ids(
                                                a.broker_ids
                                                    .iter()
                                                    .copied()
                                                    .map(BrokerId)
                                                    .collect(),
                                            )
                                    })
                                    .collect(),
                            )
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|c| {
                                        kpq::CreatableTopicConfig::default()
                                            .with_name(str_bytes(&c.name))
                                            .with_value(c.value.as_deref().map(str_bytes))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .with_timeout_ms(r.timeout_ms)
            .with_validate_only(r.validate_only)
    }

    fn their_response(r: &CreateTopicsResponse) -> kp::CreateTopicsResponse {
        kp::CreateTopicsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_topics(
                r.topics
                    .iter()
                    .map(|t| {
                        kpr::CreatableTopicResult::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_error_code(t.error_code)
                            .with_error_message(t.error_message.as_deref().map(str_bytes))
                            .with_topic_config_error_code(t.topic_config_error_code)
                            .with_num_partitions(t.num_partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_configs(t.configs.as_ref().map(|configs| {
                                configs
                                    .iter()
                                    .map(|c| {
                                        kpr::CreatableTopicConfigs::default()
                                            .with_name(str_bytes(&c.name))
                                            .with_value(c.value.as_deref().map(str_bytes))
                                            .with_read_only(c.read_only)
                                            .with_config_source(c.config_source)
                                            .with_is_sensitive(c.is_sensitive)
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        CreateTopicsRequest,
        CreateTopicsResponse,
        their_request,
        their_response,
        2..=5
    );

    /// kafka-protocol 0.18 follows Kafka 4.0, which dropped v0 and v1
    /// (KIP-896), so those are pinned here byte for byte from the spec.
    #[test]
    fn known_bytes_of_versions_kafka_protocol_dropped() {
        let req = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "t".into(),
                num_partitions: 3,
                replication_factor: 1,
                assignments: vec![CreatableReplicaAssignment {
                    partition_index: 0,
                    broker_ids: vec![7],
                }],
                configs: vec![CreatableTopicConfig {
                    name: "k".into(),
                    value: None,
                }],
            }],
            timeout_ms: 5,
            validate_only: true,
        };
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 0, 0, 1, // topics
            0, 1, b't', 0, 0, 0, 3, 0, 1, // name, num_partitions, replication_factor
            0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, // assignments
            0, 0, 0, 1, 0, 1, b'k', 0xff, 0xff, // configs: k = null
            0, 0, 0, 5, // timeout_ms
            1, // validate_only
        ];
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 1).unwrap();
        assert_eq!(&buf[..], v1);
        assert_eq!(
            CreateTopicsRequest::decode(&Bytes::from_static(v1), 1).unwrap(),
            req
        );
        // v0 has no validate_only; it decodes to its default.
        let v0 = Bytes::from_static(&v1[..v1.len() - 1]);
        let back = CreateTopicsRequest::decode(&v0, 0).unwrap();
        assert_eq!(
            back,
            CreateTopicsRequest {
                validate_only: false,
                ..req.clone()
            }
        );
        let mut buf = BytesMut::new();
        back.encode(&mut buf, 0).unwrap();
        assert_eq!(buf.freeze(), v0);

        let resp = CreateTopicsResponse {
            throttle_time_ms: 0,
            topics: vec![CreatableTopicResult {
                name: "t".into(),
                error_code: 36,
                error_message: Some("x".into()),
                ..Default::default()
            }],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 1).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 1, 0, 1, b't', 0, 36, 0, 1, b'x']);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 1, 0, 1, b't', 0, 36]);
        let back = CreateTopicsResponse::decode(&buf.freeze(), 0).unwrap();
        // Absent from v0, the message decodes to the spec default: empty.
        assert_eq!(back.topics[0].error_message.as_deref(), Some(""));
    }

    #[test]
    fn v5_response_carries_topic_details() {
        let resp = CreateTopicsResponse {
            throttle_time_ms: 0,
            topics: vec![CreatableTopicResult {
                name: "t".into(),
                error_message: None,
                topic_config_error_code: 29,
                num_partitions: 2,
                replication_factor: 1,
                configs: None,
                ..Default::default()
            }],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 5).unwrap();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 0, 0, 0, // throttle_time_ms
            2, // one topic
            2, b't', 0, 0, 0, // name, error_code, error_message = null
            0, 0, 0, 2, 0, 1, 0, // num_partitions, replication_factor, configs = null
            1, 0, 2, 0, 29, // tag 0: topic_config_error_code
            0, // response tagged fields
        ];
        assert_eq!(&buf[..], expected);
        assert_eq!(
            CreateTopicsResponse::decode(&buf.freeze(), 5).unwrap(),
            resp
        );
        // Absent from v4, the v5 fields decode to the spec defaults.
        let v4 = CreateTopicsResponse::decode(
            &Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0xff, 0xff]),
            4,
        )
        .unwrap();
        assert_eq!(
            (v4.topics[0].num_partitions, v4.topics[0].replication_factor),
            (-1, -1)
        );
        assert_eq!(
            CreateTopicsResponse::decode(&Bytes::new(), 6),
            Err(DecodeError::UnsupportedVersion {
                message: "CreateTopicsResponse",
                version: 6
            })
        );
    }
}
