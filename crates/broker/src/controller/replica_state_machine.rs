//! Kafka's `ReplicaStateMachine`: moves each replica (a partition on one
//! broker) between [`ReplicaState`]s. Online tells the broker its role;
//! Offline stops it and takes it out of the ISR; the deletion states drive
//! topic deletion (see `topic_deletion`).

use super::context::ReplicaState;
use super::kafka_controller::{Controller, ControllerError};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;

/// Kafka's `LeaderAndIsr.NoLeader`.
const NO_LEADER: BrokerId = -1;

impl Controller {
    /// → Online: each replica's broker learns the partition's current
    /// leadership (a replica new to it creates its log).
    pub(super) fn replicas_online(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            let key = (tp.clone(), *broker);
            // Replicas of partitions created in this controller's time start
            // New; after a failover existing ones are simply re-announced.
            let was_new = self.ctx.replica_states.get(&key) == Some(&ReplicaState::New);
            if self.ctx.leaderships.contains_key(tp) {
                self.batch.leader_and_isr(&self.ctx, [*broker], tp, was_new);
            }
            self.ctx.replica_states.insert(key, ReplicaState::Online);
        }
    }

    /// → Offline: the broker (if reachable) stops the replica without
    /// deleting it, and the replica leaves the ISR; if it led, the
    /// partition is left without a leader (Kafka's `NoLeader`) until an
    /// election finds one. The last ISR member stays in the ISR, so that a
    /// clean election can only pick it when it comes back.
    pub(super) async fn replicas_offline(
        &mut self,
        replicas: &[(TopicPartition, BrokerId)],
    ) -> Result<(), ControllerError> {
        for (tp, broker) in replicas {
            self.batch.stop_replica(*broker, tp, false);
            self.ctx
                .replica_states
                .insert((tp.clone(), *broker), ReplicaState::Offline);
            if !self.ctx.is_being_deleted(tp) {
                self.remove_from_isr(tp, *broker).await?;
            }
        }
        Ok(())
    }

    /// Writes the partition state without `broker` (Kafka's
    /// `removeReplicasFromIsr`) and tells the other replicas.
    async fn remove_from_isr(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
    ) -> Result<(), ControllerError> {
        self.change_leadership(tp, Some(broker), |old| {
            if !old.isr.contains(&broker) && old.leader != broker {
                return None;
            }
            let isr = if old.isr.len() == 1 {
                old.isr.clone()
            } else {
                old.isr.iter().copied().filter(|r| *r != broker).collect()
            };
            let leader = if old.leader == broker {
                NO_LEADER
            } else {
                old.leader
            };
            Some((leader, isr))
        })
        .await
        .map(drop)
    }

    /// → DeletionStarted: the broker stops the replica and deletes its log.
    pub(super) fn replicas_deletion_started(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            self.batch.stop_replica(*broker, tp, true);
            self.ctx
                .replica_states
                .insert((tp.clone(), *broker), ReplicaState::DeletionStarted);
        }
    }
}
