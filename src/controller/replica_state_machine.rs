//! Kafka's `ReplicaStateMachine`: moves each replica (a partition on one
//! broker) between [`ReplicaState`]s. Online tells the broker its role;
//! Offline stops it and takes it out of the ISR; the deletion states drive
//! topic deletion (see `topic_deletion`).

use log::info;

use super::context::{Leadership, ReplicaState};
use super::kafka_controller::{Controller, ControllerError, MAX_STALE_RETRIES};
use crate::zk::data::{BrokerId, LeaderIsrAndControllerEpoch};
use crate::zk::ZkError;
use crate::TopicPartition;

/// Kafka's `LeaderAndIsr.NoLeader`.
const NO_LEADER: BrokerId = -1;

impl Controller {
    /// → Online: each replica's broker learns the partition's current
    /// leadership (a replica new to it creates its log).
    pub(super) fn replicas_online(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            let key = (tp.clone(), *broker);
            let was_new = matches!(
                self.ctx.replica_states.get(&key),
                None | Some(ReplicaState::New)
            );
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
    /// `removeReplicasFromIsr`), retrying if a leader changed the ISR
    /// concurrently.
    async fn remove_from_isr(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
    ) -> Result<(), ControllerError> {
        for _ in 0..MAX_STALE_RETRIES {
            let Some(current) = self.current_leadership(tp).await? else {
                return Ok(());
            };
            let old = &current.state;
            if !old.isr.contains(&broker) && old.leader != broker {
                return Ok(());
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
            let state = LeaderIsrAndControllerEpoch::new(
                leader,
                old.leader_epoch.saturating_add(1),
                isr,
                self.ctx.epoch,
            );
            match self
                .zk
                .update_partition_state_fenced(
                    tp,
                    &state,
                    current.zk_version,
                    self.ctx.epoch_zk_version,
                )
                .await
            {
                Ok(zk_version) => {
                    info!(
                        "partition {tp}: replica {broker} offline, leader {} (epoch {}), isr {:?}",
                        state.leader, state.leader_epoch, state.isr
                    );
                    self.ctx
                        .leaderships
                        .insert(tp.clone(), Leadership { state, zk_version });
                    let recipients: Vec<_> = self
                        .replicas_to_tell(tp)
                        .into_iter()
                        .filter(|r| *r != broker)
                        .collect();
                    self.batch.leader_and_isr(&self.ctx, recipients, tp, false);
                    return Ok(());
                }
                Err(ZkError::BadVersion { .. }) => {
                    self.ctx.leaderships.remove(tp);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
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
