//! StopReplica (API key 5): the controller tells this broker to stop
//! replicating partitions, and possibly to delete them (Kafka's
//! `KafkaApis.handleStopReplicaRequest`). The work, and its fencing, is the
//! replica manager's ([`ReplicaManager::stop_replicas`]).
//!
//! [`ReplicaManager::stop_replicas`]: crate::replica::ReplicaManager::stop_replicas

use std::sync::Arc;

use crate::replica::{StopReplicaPartition, NO_EPOCH};
use gregor_protocol::api::stop_replica::{
    StopReplicaPartitionError, StopReplicaRequest, StopReplicaResponse,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::controller_requests::run_blocking;

impl Broker {
    pub(crate) async fn stop_replica(&self, request: StopReplicaRequest) -> StopReplicaResponse {
        if self.is_broker_epoch_stale(request.broker_epoch) {
            ::log::info!(
                "StopReplica for broker epoch {} ignored: this broker is at {}",
                request.broker_epoch,
                self.broker_epoch()
            );
            return refused(ErrorCode::STALE_BROKER_EPOCH);
        }
        let controller_epoch = request.controller_epoch;
        let partitions = request_partitions(request);
        let replicas = Arc::clone(&self.replicas);
        let outcome =
            run_blocking(move || replicas.stop_replicas(controller_epoch, &partitions)).await;
        match outcome {
            Ok(results) => StopReplicaResponse {
                error_code: ErrorCode::NONE.code(),
                partition_errors: results
                    .into_iter()
                    .map(|(tp, result)| {
                        let code = match result {
                            Ok(()) => ErrorCode::NONE,
                            Err(e) => {
                                ::log::warn!("StopReplica for {tp} not applied: {e}");
                                e.error_code()
                            }
                        };
                        StopReplicaPartitionError {
                            topic_name: tp.topic,
                            partition_index: tp.partition,
                            error_code: code.code(),
                        }
                    })
                    .collect(),
            },
            Err(code) => refused(code),
        }
    }
}

/// A refused request lists no partitions, as Kafka answers it.
fn refused(error: ErrorCode) -> StopReplicaResponse {
    StopReplicaResponse {
        error_code: error.code(),
        partition_errors: Vec::new(),
    }
}

/// The partitions to stop, whichever version listed them: v0-v2 carry one
/// delete flag for all and no leader epochs ([`NO_EPOCH`], which skips the
/// epoch check); v3 carries both per partition.
fn request_partitions(request: StopReplicaRequest) -> Vec<StopReplicaPartition> {
    let delete = request.delete_partitions;
    let unversioned = |topic: &str, partition| StopReplicaPartition {
        topic_partition: TopicPartition::new(topic, partition),
        leader_epoch: NO_EPOCH,
        delete,
    };
    let v0 = request
        .ungrouped_partitions
        .iter()
        .map(|p| unversioned(&p.topic_name, p.partition_index));
    let v1 = request
        .topics
        .iter()
        .flat_map(|t| t.partition_indexes.iter().map(|p| unversioned(&t.name, *p)));
    let v3 = request.topic_states.iter().flat_map(|t| {
        t.partition_states.iter().map(|p| StopReplicaPartition {
            topic_partition: TopicPartition::new(t.topic_name.as_str(), p.partition_index),
            leader_epoch: p.leader_epoch,
            delete: p.delete_partition,
        })
    });
    v0.chain(v1).chain(v3).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::api::stop_replica::{
        StopReplicaPartitionState, StopReplicaPartitionV0, StopReplicaTopicState,
        StopReplicaTopicV1,
    };

    fn summary(partitions: &[StopReplicaPartition]) -> Vec<(String, i32, i32, bool)> {
        partitions
            .iter()
            .map(|p| {
                let tp = &p.topic_partition;
                (tp.topic.clone(), tp.partition, p.leader_epoch, p.delete)
            })
            .collect()
    }

    #[test]
    fn every_version_lists_its_partitions() {
        let v0 = StopReplicaRequest {
            delete_partitions: true,
            ungrouped_partitions: vec![StopReplicaPartitionV0 {
                topic_name: "a".into(),
                partition_index: 1,
            }],
            ..Default::default()
        };
        assert_eq!(
            summary(&request_partitions(v0)),
            [("a".into(), 1, NO_EPOCH, true)]
        );
        let v1 = StopReplicaRequest {
            topics: vec![StopReplicaTopicV1 {
                name: "b".into(),
                partition_indexes: vec![0, 2],
            }],
            ..Default::default()
        };
        assert_eq!(
            summary(&request_partitions(v1)),
            [
                ("b".into(), 0, NO_EPOCH, false),
                ("b".into(), 2, NO_EPOCH, false)
            ]
        );
        let v3 = StopReplicaRequest {
            topic_states: vec![StopReplicaTopicState {
                topic_name: "c".into(),
                partition_states: vec![
                    StopReplicaPartitionState {
                        partition_index: 0,
                        leader_epoch: 7,
                        delete_partition: true,
                    },
                    StopReplicaPartitionState {
                        partition_index: 1,
                        leader_epoch: -2,
                        delete_partition: false,
                    },
                ],
            }],
            ..Default::default()
        };
        assert_eq!(
            summary(&request_partitions(v3)),
            [("c".into(), 0, 7, true), ("c".into(), 1, -2, false)]
        );
    }
}
