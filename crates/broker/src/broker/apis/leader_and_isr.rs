//! LeaderAndIsr (API key 4): the controller tells this broker which
//! partitions it leads and which it follows (Kafka's
//! `KafkaApis.handleLeaderAndIsrRequest`). The work, and its fencing, is the
//! replica manager's ([`ReplicaManager::become_leader_or_follower`]).
//!
//! [`ReplicaManager::become_leader_or_follower`]: crate::replica::ReplicaManager::become_leader_or_follower

use std::collections::HashMap;
use std::sync::Arc;

use crate::coordinator::OffsetsPartitionLeadership;
use crate::metadata::BrokerEndpoint;
use crate::replica::LeaderAndIsrPartition;
use gregor_protocol::api::leader_and_isr::{
    LeaderAndIsrLiveLeader, LeaderAndIsrPartitionError, LeaderAndIsrPartitionState,
    LeaderAndIsrRequest, LeaderAndIsrResponse, LeaderAndIsrTopicError,
};
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_protocol::Uuid;

use crate::broker::Broker;

use super::controller_requests::run_blocking;

/// The first version whose response groups partitions by topic id.
const TOPIC_ID_RESPONSE_VERSION: i16 = 5;

/// The request's partitions by topic, whichever version grouped them.
struct RequestTopic {
    name: String,
    /// Zero before v5.
    id: Uuid,
    partitions: Vec<LeaderAndIsrPartitionState>,
}

impl Broker {
    pub(crate) async fn leader_and_isr(
        &self,
        request: LeaderAndIsrRequest,
        version: i16,
    ) -> LeaderAndIsrResponse {
        let broker_epoch = request.broker_epoch;
        let controller_epoch = request.controller_epoch;
        let leaders = self.leader_endpoints(&request.live_leaders);
        let topics = request_topics(request);
        if self.is_broker_epoch_stale(broker_epoch) {
            ::log::info!(
                "LeaderAndIsr for broker epoch {broker_epoch} ignored: this broker is at {}",
                self.broker_epoch()
            );
            return error_response(&topics, version, ErrorCode::STALE_BROKER_EPOCH);
        }
        let mut configs = Vec::with_capacity(topics.len());
        for t in &topics {
            // The config matters only to a partition hosted here for the
            // first time (its log created, or opened after a restart), so
            // ZooKeeper is read only then; a hosted partition's log keeps
            // its config, which `/config/changes` keeps current.
            let first_hosted = t.partitions.iter().any(|p| {
                let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                self.replicas.partition(&tp).is_none()
            });
            configs.push(if first_hosted {
                self.topic_log_config(&t.name).await
            } else {
                self.logs.default_log_config().clone()
            });
        }
        let partitions: Vec<LeaderAndIsrPartition> = topics
            .iter()
            .zip(configs)
            .flat_map(|(t, log_config)| {
                let leaders = &leaders;
                t.partitions.iter().map(move |p| LeaderAndIsrPartition {
                    topic_partition: TopicPartition::new(t.name.as_str(), p.partition_index),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    zk_version: p.zk_version,
                    controller_epoch: p.controller_epoch,
                    leader_endpoint: leaders.get(&p.leader).cloned(),
                    log_config: log_config.clone(),
                    topic_id: *t.id.as_bytes(),
                })
            })
            .collect();
        let group_partitions = OffsetsPartitionLeadership::of(self.id, &partitions);
        let replicas = Arc::clone(&self.replicas);
        let outcome =
            run_blocking(move || replicas.become_leader_or_follower(controller_epoch, &partitions))
                .await;
        match outcome {
            Ok(results) => {
                // The group coordinator loads or unloads the groups of the
                // `__consumer_offsets` partitions it now leads or follows.
                self.coordinator
                    .on_leadership_change(group_partitions, &results);
                for (tp, result) in &results {
                    if let Err(e) = result {
                        ::log::warn!("LeaderAndIsr for {tp} not applied: {e}");
                    }
                }
                let codes = results.iter().map(|(_, r)| {
                    r.as_ref()
                        .map_or_else(|e| e.error_code(), |()| ErrorCode::NONE)
                });
                response(&topics, version, ErrorCode::NONE, codes)
            }
            Err(code) => error_response(&topics, version, code),
        }
    }
}

impl Broker {
    /// Where followers reach each leader: the request's live leaders (the
    /// controller's view, Kafka's `leaders`), else the brokers in the
    /// metadata cache on `inter.broker.listener.name`.
    fn leader_endpoints(
        &self,
        live_leaders: &[LeaderAndIsrLiveLeader],
    ) -> HashMap<BrokerId, BrokerEndpoint> {
        let mut endpoints: HashMap<BrokerId, BrokerEndpoint> = self
            .metadata
            .snapshot()
            .brokers_on(&self.config.inter_broker_listener_name)
            .map(|b| (b.id, b))
            .collect();
        for leader in live_leaders {
            endpoints.insert(
                leader.broker_id,
                BrokerEndpoint {
                    id: leader.broker_id,
                    host: leader.host_name.clone(),
                    port: leader.port,
                    rack: None,
                },
            );
        }
        endpoints
    }
}

fn request_topics(request: LeaderAndIsrRequest) -> Vec<RequestTopic> {
    // v0-v1 name the topic in each partition state; v2+ group them.
    let ungrouped = request
        .ungrouped_partition_states
        .into_iter()
        .map(|p| RequestTopic {
            name: p.topic_name.clone(),
            id: Uuid::default(),
            partitions: vec![p],
        });
    let grouped = request.topic_states.into_iter().map(|t| RequestTopic {
        name: t.topic_name,
        id: t.topic_id,
        partitions: t.partition_states,
    });
    ungrouped.chain(grouped).collect()
}

/// The same `error` for the request and every partition, as Kafka answers a
/// refused LeaderAndIsr (`getErrorResponse`).
fn error_response(topics: &[RequestTopic], version: i16, error: ErrorCode) -> LeaderAndIsrResponse {
    response(topics, version, error, std::iter::repeat(error))
}

/// The response: `codes` gives each partition's, in request order.
fn response(
    topics: &[RequestTopic],
    version: i16,
    error: ErrorCode,
    mut codes: impl Iterator<Item = ErrorCode>,
) -> LeaderAndIsrResponse {
    let mut partition_error =
        |topic_name: &str, p: &LeaderAndIsrPartitionState| LeaderAndIsrPartitionError {
            topic_name: topic_name.to_owned(),
            partition_index: p.partition_index,
            error_code: codes.next().unwrap_or(ErrorCode::NONE).code(),
        };
    let mut response = LeaderAndIsrResponse {
        error_code: error.code(),
        ..Default::default()
    };
    if version < TOPIC_ID_RESPONSE_VERSION {
        response.partition_errors = topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.name.as_str(), p)))
            .map(|(name, p)| partition_error(name, p))
            .collect();
    } else {
        response.topics = topics
            .iter()
            .map(|t| LeaderAndIsrTopicError {
                topic_id: t.id,
                partition_errors: t
                    .partitions
                    .iter()
                    .map(|p| partition_error(&t.name, p))
                    .collect(),
            })
            .collect();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::api::leader_and_isr::LeaderAndIsrTopicState;

    fn state(topic: &str, partition: i32) -> LeaderAndIsrPartitionState {
        LeaderAndIsrPartitionState {
            topic_name: topic.into(),
            partition_index: partition,
            leader: 1,
            replicas: vec![1],
            isr: vec![1],
            ..Default::default()
        }
    }

    fn codes(errors: &[LeaderAndIsrPartitionError]) -> Vec<(String, i32, i16)> {
        errors
            .iter()
            .map(|e| (e.topic_name.clone(), e.partition_index, e.error_code))
            .collect()
    }

    #[test]
    fn v1_partitions_name_their_topic_and_answer_flat() {
        let request = LeaderAndIsrRequest {
            ungrouped_partition_states: vec![state("a", 0), state("b", 3)],
            ..Default::default()
        };
        let topics = request_topics(request);
        let stale = ErrorCode::STALE_CONTROLLER_EPOCH;
        let r = response(
            &topics,
            1,
            ErrorCode::NONE,
            [ErrorCode::NONE, stale].into_iter(),
        );
        assert_eq!(r.error_code, 0);
        assert_eq!(
            codes(&r.partition_errors),
            [("a".into(), 0, 0), ("b".into(), 3, stale.code())]
        );
        assert!(r.topics.is_empty());
    }

    #[test]
    fn v5_answers_by_topic_id() {
        let request = LeaderAndIsrRequest {
            topic_states: vec![
                LeaderAndIsrTopicState {
                    topic_name: "a".into(),
                    topic_id: Uuid::from_bytes([1; 16]),
                    partition_states: vec![state("", 0), state("", 1)],
                },
                LeaderAndIsrTopicState {
                    topic_name: "b".into(),
                    topic_id: Uuid::from_bytes([2; 16]),
                    partition_states: vec![state("", 0)],
                },
            ],
            ..Default::default()
        };
        let topics = request_topics(request);
        let r = error_response(&topics, 5, ErrorCode::STALE_BROKER_EPOCH);
        let stale = ErrorCode::STALE_BROKER_EPOCH.code();
        assert_eq!(r.error_code, stale);
        assert!(r.partition_errors.is_empty());
        let by_topic: Vec<(Uuid, Vec<(i32, i16)>)> = r
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partition_errors
                    .iter()
                    .map(|p| (p.partition_index, p.error_code))
                    .collect();
                (t.topic_id, partitions)
            })
            .collect();
        assert_eq!(
            by_topic,
            [
                (Uuid::from_bytes([1; 16]), vec![(0, stale), (1, stale)]),
                (Uuid::from_bytes([2; 16]), vec![(0, stale)])
            ]
        );
    }
}
