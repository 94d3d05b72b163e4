//! Topic deletion, Kafka's `TopicDeletionManager`.
//!
//! An admin marks a topic with `/admin/delete_topics/<t>`. The controller
//! tells every broker to drop the topic from its metadata (UpdateMetadata
//! with leader -2), then every replica's broker to stop and delete it
//! (StopReplica with delete). When all replicas confirmed, the topic's
//! znodes go: `/brokers/topics/<t>` with its partition states,
//! `/config/topics/<t>`, and finally the marker. A replica on a dead broker
//! keeps the deletion waiting until that broker returns, as in Kafka.
//!
//! Owns: the deletion handlers. Must not depend on: tokio, the ZooKeeper
//! client, sockets.

use log::{info, warn};

use super::kafka_controller::Controller;
use super::partition_state_machine::PartitionState;
use super::port::ControllerError;
use super::replica_state_machine::ReplicaState;
use gregor_protocol::api::stop_replica::StopReplicaResponse;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_zk::paths;

impl Controller {
    /// Reads `/admin/delete_topics` and queues its topics. With
    /// `delete.topic.enable=false` the markers are removed unread, as Kafka
    /// does; markers of unknown topics are removed too.
    pub(super) async fn on_topic_deletion_request(
        &mut self,
        marked: Vec<String>,
    ) -> Result<(), ControllerError> {
        for topic in marked {
            if !self.config.delete_topic_enable || !self.ctx.has_topic(&topic) {
                if self.config.delete_topic_enable {
                    warn!("ignoring deletion of unknown topic {topic}");
                }
                self.zk.delete(&paths::delete_topic(&topic)).await?;
                continue;
            }
            if self.ctx.topics_to_delete.insert(topic.clone()) {
                info!("topic {topic} queued for deletion");
            }
        }
        self.resume_deletions().await
    }

    /// Moves every queued topic's deletion forward: starts it, retries
    /// replicas whose brokers are back, or completes it.
    pub(super) async fn resume_deletions(&mut self) -> Result<(), ControllerError> {
        let topics: Vec<String> = self.ctx.topics_to_delete.iter().cloned().collect();
        for topic in topics {
            let replicas = self.replicas_of_topic(&topic);
            let state =
                |(tp, broker): &(TopicPartition, BrokerId)| self.ctx.replica_state(tp, *broker);
            if replicas
                .iter()
                .all(|r| state(r) == ReplicaState::DeletionSuccessful)
            {
                self.complete_deletion(&topic).await?;
                continue;
            }
            // Replicas that have not been asked yet, or failed, and whose
            // broker is up now.
            let to_start: Vec<_> = replicas
                .iter()
                .filter(|r| {
                    !matches!(
                        state(r),
                        ReplicaState::DeletionStarted | ReplicaState::DeletionSuccessful
                    ) && self.ctx.is_live(r.1)
                })
                .cloned()
                .collect();
            if to_start.is_empty() {
                continue;
            }
            let partitions = self.ctx.partitions_of(&topic);
            // Brokers drop the topic from their metadata (leader -2) first.
            self.batch
                .update_metadata(self.ctx.live_or_shutting_down(), partitions);
            self.replicas_offline(&to_start).await?;
            self.replicas_deletion_started(&to_start);
            let on_dead_brokers: Vec<_> = replicas
                .into_iter()
                .filter(|r| !self.ctx.is_live(r.1))
                .collect();
            self.replicas_deletion_ineligible(&on_dead_brokers);
        }
        Ok(())
    }

    /// Records each replica's StopReplica outcome for topics being deleted.
    pub(super) async fn on_stop_replica_response(
        &mut self,
        broker: BrokerId,
        response: StopReplicaResponse,
    ) -> Result<(), ControllerError> {
        let request_failed = response.error_code != ErrorCode::NONE.code();
        for p in response.partition_errors {
            let tp = TopicPartition::new(p.topic_name, p.partition_index);
            if self.ctx.replica_state(&tp, broker) != ReplicaState::DeletionStarted {
                continue;
            }
            let state = if request_failed || p.error_code != ErrorCode::NONE.code() {
                warn!(
                    "broker {broker} could not delete {tp}: error {}",
                    if request_failed {
                        response.error_code
                    } else {
                        p.error_code
                    }
                );
                ReplicaState::DeletionIneligible
            } else {
                ReplicaState::DeletionSuccessful
            };
            self.ctx.move_replica(&tp, broker, state);
        }
        self.resume_deletions().await
    }

    /// Every replica of `topic`.
    fn replicas_of_topic(&self, topic: &str) -> Vec<(TopicPartition, BrokerId)> {
        self.ctx
            .partitions_of(topic)
            .into_iter()
            .flat_map(|tp| {
                self.ctx
                    .replicas(&tp)
                    .iter()
                    .map(move |r| (tp.clone(), *r))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// All replicas are gone: removes the topic's znodes, marker last (so a
    /// controller failing over in between finishes the job), and its
    /// partitions and replicas leave the state machines (Kafka's
    /// `completeDeleteTopic`).
    async fn complete_deletion(&mut self, topic: &str) -> Result<(), ControllerError> {
        self.zk.delete_topic_znodes(topic).await?;
        for (tp, broker) in self.replicas_of_topic(topic) {
            self.ctx
                .move_replica(&tp, broker, ReplicaState::NonExistent);
        }
        for tp in self.ctx.partitions_of(topic) {
            self.ctx.move_partition(&tp, PartitionState::Offline);
            self.ctx.move_partition(&tp, PartitionState::NonExistent);
        }
        self.ctx.remove_topic(topic);
        info!("topic {topic} deleted");
        Ok(())
    }
}
