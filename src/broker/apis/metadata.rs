//! Metadata (API key 3): brokers, controller, and topic placement from the
//! metadata cache; auto-creates requested topics when
//! `auto.create.topics.enable` and the client allows it.

use ::log::warn;

use crate::admin::validate_topic_name;
use crate::metadata::TopicMetadata;
use crate::protocol::api::metadata::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use crate::protocol::ErrorCode;

use crate::broker::topics::NewTopic;
use crate::broker::Broker;

/// Topics whose names start with this are Kafka-internal (`__consumer_offsets`).
const INTERNAL_TOPIC_PREFIX: &str = "__";

impl Broker {
    pub(crate) async fn metadata(
        &self,
        request: MetadataRequest,
        version: i16,
    ) -> MetadataResponse {
        // v0: an empty list means every topic; v1+: null means every topic.
        let names = match request.topics {
            Some(topics) if !(version == 0 && topics.is_empty()) => {
                Some(topics.into_iter().map(|t| t.name).collect::<Vec<_>>())
            }
            _ => None,
        };
        let topics = match names {
            None => self
                .metadata
                .topic_names()
                .into_iter()
                .filter_map(|name| self.metadata.topic(&name).map(|t| topic_response(name, &t)))
                .collect(),
            Some(names) => {
                let mut out = Vec::with_capacity(names.len());
                for name in names {
                    out.push(
                        self.requested_topic(name, request.allow_auto_topic_creation)
                            .await,
                    );
                }
                out
            }
        };
        let brokers = self
            .metadata
            .brokers()
            .into_iter()
            .map(|b| MetadataResponseBroker {
                node_id: b.id,
                host: b.host,
                port: b.port,
                rack: b.rack,
            })
            .collect();
        MetadataResponse {
            throttle_time_ms: 0,
            brokers,
            cluster_id: Some(self.metadata.cluster_id().to_owned()),
            controller_id: self.metadata.controller().unwrap_or(-1),
            topics,
            ..Default::default()
        }
    }

    /// One named topic: known, auto-created, or an error entry.
    async fn requested_topic(
        &self,
        name: String,
        allow_auto_create: bool,
    ) -> MetadataResponseTopic {
        if let Some(topic) = self.metadata.topic(&name) {
            return topic_response(name, &topic);
        }
        if validate_topic_name(&name).is_err() {
            return error_topic(name, ErrorCode::INVALID_TOPIC_EXCEPTION);
        }
        if !(allow_auto_create && self.config.auto_create_topics_enable) {
            return error_topic(name, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        }
        let new = NewTopic {
            name: name.clone(),
            num_partitions: -1,
            replication_factor: -1,
            ..Default::default()
        };
        match self.create_topic(new, false).await {
            Ok(topic) => topic_response(name, &topic),
            Err(e) => {
                // Another request may have created it meanwhile.
                if let Some(topic) = self.metadata.topic(&name) {
                    return topic_response(name, &topic);
                }
                warn!("auto-creating topic {name} failed: {e}");
                error_topic(name, e.error_code())
            }
        }
    }
}

fn topic_response(name: String, topic: &TopicMetadata) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: ErrorCode::NONE.code(),
        is_internal: name.starts_with(INTERNAL_TOPIC_PREFIX),
        name,
        partitions: topic
            .partitions
            .iter()
            .map(|(index, p)| MetadataResponsePartition {
                error_code: match p.leader {
                    Some(_) => ErrorCode::NONE,
                    None => ErrorCode::LEADER_NOT_AVAILABLE,
                }
                .code(),
                partition_index: *index,
                leader_id: p.leader.unwrap_or(-1),
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.clone(),
                isr_nodes: p.isr.clone(),
                offline_replicas: Vec::new(),
            })
            .collect(),
        ..Default::default()
    }
}

fn error_topic(name: String, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        ..Default::default()
    }
}
