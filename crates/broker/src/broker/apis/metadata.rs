//! Metadata (API key 3): brokers, controller, and topic placement from the
//! metadata cache; auto-creates requested topics when
//! `auto.create.topics.enable` and the client allows it.

use std::time::Duration;

use ::log::warn;

use crate::admin::validate_topic_name;
use crate::metadata::{MetadataSnapshot, TopicState};
use gregor_protocol::api::metadata::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;

use crate::broker::topics::NewTopic;
use crate::broker::Broker;

/// Topics whose names start with this are Kafka-internal (`__consumer_offsets`).
const INTERNAL_TOPIC_PREFIX: &str = "__";

/// The leader id of a partition without a live leader.
const NO_LEADER_ID: BrokerId = -1;

/// The controller id when there is none.
const NO_CONTROLLER_ID: BrokerId = -1;

/// How long a Metadata request naming a topic this broker does not know
/// waits for the controller's first UpdateMetadata, on a broker that has
/// not had one yet (just started, or restarted). A gregor bound, not a
/// Kafka setting: the controller sends it as soon as it sees the broker
/// register, well within this.
const FIRST_UPDATE_WAIT: Duration = Duration::from_secs(5);

impl Broker {
    /// Brokers are listed with their addresses on `listener`, the one the
    /// request arrived on (Kafka's `getAliveBrokerNodes(listenerName)`), so
    /// a client is told addresses it can reach the way it reached this one.
    pub(crate) async fn metadata(
        &self,
        request: MetadataRequest,
        version: i16,
        listener: &str,
    ) -> MetadataResponse {
        // v0: an empty list means every topic; v1+: null means every topic.
        let names = match request.topics {
            Some(topics) if !(version == 0 && topics.is_empty()) => {
                Some(topics.into_iter().map(|t| t.name).collect::<Vec<_>>())
            }
            _ => None,
        };
        let topics = match names {
            None => {
                let snapshot = self.metadata.snapshot();
                snapshot
                    .topics()
                    .map(|(name, topic)| topic_response(name, topic, &snapshot, version))
                    .collect()
            }
            Some(names) => {
                let mut out = Vec::with_capacity(names.len());
                for name in names {
                    out.push(
                        self.requested_topic(name, request.allow_auto_topic_creation, version)
                            .await,
                    );
                }
                out
            }
        };
        // Brokers and controller as of the end: a topic just created may
        // have brought news.
        let snapshot = self.metadata.snapshot();
        MetadataResponse {
            throttle_time_ms: 0,
            brokers: snapshot
                .brokers_on(listener)
                .map(|b| MetadataResponseBroker {
                    node_id: b.id,
                    host: b.host,
                    port: b.port,
                    rack: b.rack,
                })
                .collect(),
            cluster_id: Some(self.metadata.cluster_id().to_owned()),
            controller_id: snapshot.controller().unwrap_or(NO_CONTROLLER_ID),
            topics,
            ..Default::default()
        }
    }

    /// One named topic: known, auto-created, or an error entry.
    async fn requested_topic(
        &self,
        name: String,
        allow_auto_create: bool,
        version: i16,
    ) -> MetadataResponseTopic {
        let cached = |name: &str| {
            let snapshot = self.metadata.snapshot();
            snapshot
                .topic(name)
                .map(|topic| topic_response(name, topic, &snapshot, version))
        };
        if let Some(known) = cached(&name) {
            return known;
        }
        if validate_topic_name(&name).is_err() {
            return error_topic(name, ErrorCode::INVALID_TOPIC_EXCEPTION);
        }
        // A broker the controller has not told about the cluster yet cannot
        // say a topic does not exist (librdkafka fails every queued record
        // of a topic reported unknown): it waits for the controller, and
        // without it answers with the retriable LEADER_NOT_AVAILABLE.
        if !self.metadata.wait_for_controller(FIRST_UPDATE_WAIT).await {
            return error_topic(name, ErrorCode::LEADER_NOT_AVAILABLE);
        }
        if let Some(known) = cached(&name) {
            return known;
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
        let created = self.create_topic(new, false).await;
        if let Some(known) = cached(&name) {
            return known;
        }
        match created {
            // Created (by this request or another one), but the controller
            // has not announced it yet: the client asks again, as from
            // Kafka's auto-creation.
            Ok(_) => error_topic(name, ErrorCode::LEADER_NOT_AVAILABLE),
            Err(e) if e.error_code() == ErrorCode::TOPIC_ALREADY_EXISTS => {
                error_topic(name, ErrorCode::LEADER_NOT_AVAILABLE)
            }
            Err(e) => {
                warn!("auto-creating topic {name} failed: {e}");
                error_topic(name, e.error_code())
            }
        }
    }
}

/// A cached topic as Kafka's `MetadataCache.getTopicMetadata` answers it:
/// a partition whose leader is not a live broker has leader -1 and
/// LEADER_NOT_AVAILABLE. In v0 only, replicas and ISR list live brokers only
/// and a partition missing some says REPLICA_NOT_AVAILABLE.
fn topic_response(
    name: &str,
    topic: &TopicState,
    snapshot: &MetadataSnapshot,
    version: i16,
) -> MetadataResponseTopic {
    let only_live = |ids: &[BrokerId]| -> Vec<BrokerId> {
        if version == 0 {
            ids.iter()
                .copied()
                .filter(|b| snapshot.is_alive(*b))
                .collect()
        } else {
            ids.to_vec()
        }
    };
    MetadataResponseTopic {
        error_code: ErrorCode::NONE.code(),
        name: name.to_owned(),
        is_internal: name.starts_with(INTERNAL_TOPIC_PREFIX),
        partitions: topic
            .partitions
            .iter()
            .map(|(index, p)| {
                let replica_nodes = only_live(&p.replicas);
                let isr_nodes = only_live(&p.isr);
                let leader = p.leader.filter(|l| snapshot.is_alive(*l));
                let error = if leader.is_none() {
                    ErrorCode::LEADER_NOT_AVAILABLE
                } else if replica_nodes.len() < p.replicas.len() || isr_nodes.len() < p.isr.len() {
                    ErrorCode::REPLICA_NOT_AVAILABLE
                } else {
                    ErrorCode::NONE
                };
                MetadataResponsePartition {
                    error_code: error.code(),
                    partition_index: *index,
                    leader_id: leader.unwrap_or(NO_LEADER_ID),
                    leader_epoch: p.leader_epoch,
                    replica_nodes,
                    isr_nodes,
                    offline_replicas: p.offline_replicas.clone(),
                }
            })
            .collect(),
        ..Default::default()
    }
}

fn error_topic(name: String, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        is_internal: name.starts_with(INTERNAL_TOPIC_PREFIX),
        name,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{
        LiveBroker, MetadataCache, MetadataUpdate, PartitionState, PartitionUpdate,
    };
    use gregor_protocol::TopicPartition;

    fn broker(id: BrokerId) -> LiveBroker {
        LiveBroker {
            id,
            rack: None,
            listeners: [("PLAINTEXT".into(), ("h".into(), 9092))].into(),
        }
    }

    /// Brokers 1 and 2 live; `t` has partition 0 led by 1 (broker 3, a
    /// replica, is down), partition 1 led by the dead 3, partition 2 with
    /// no leader.
    fn snapshot() -> std::sync::Arc<MetadataSnapshot> {
        let cache = MetadataCache::new("c".into());
        let state = |leader: Option<BrokerId>| PartitionState {
            leader,
            leader_epoch: 4,
            replicas: vec![1, 2, 3],
            isr: vec![1, 2],
            offline_replicas: vec![3],
        };
        let partition = |p, leader| {
            (
                TopicPartition::new("t", p),
                PartitionUpdate::State(state(leader)),
            )
        };
        cache.update(MetadataUpdate {
            controller: Some(2),
            brokers: vec![broker(1), broker(2)],
            topic_ids: vec![],
            partitions: vec![
                partition(0, Some(1)),
                partition(1, Some(3)),
                partition(2, None),
            ],
        });
        cache.snapshot()
    }

    fn codes(topic: &MetadataResponseTopic) -> Vec<(i16, i32)> {
        topic
            .partitions
            .iter()
            .map(|p| (p.error_code, p.leader_id))
            .collect()
    }

    #[test]
    fn partitions_without_a_live_leader_are_not_available() {
        let snapshot = snapshot();
        let t = topic_response("t", snapshot.topic("t").unwrap(), &snapshot, 9);
        let unavailable = ErrorCode::LEADER_NOT_AVAILABLE.code();
        assert_eq!(codes(&t), [(0, 1), (unavailable, -1), (unavailable, -1)]);
        let p = &t.partitions[0];
        assert_eq!(p.leader_epoch, 4);
        assert_eq!(p.replica_nodes, [1, 2, 3]);
        assert_eq!(p.isr_nodes, [1, 2]);
        assert_eq!(p.offline_replicas, [3]);
        assert!(!t.is_internal);
    }

    #[test]
    fn v0_lists_only_live_replicas() {
        let snapshot = snapshot();
        let t = topic_response("t", snapshot.topic("t").unwrap(), &snapshot, 0);
        assert_eq!(codes(&t)[0], (ErrorCode::REPLICA_NOT_AVAILABLE.code(), 1));
        assert_eq!(t.partitions[0].replica_nodes, [1, 2]);
        assert_eq!(t.partitions[0].isr_nodes, [1, 2]);
    }
}
