//! Partition reassignment through `/admin/reassign_partitions` (Kafka's
//! `onPartitionReassignment`, KIP-455 steps with the legacy znode):
//!
//! 1. the assignment becomes target + original replicas, with the moving
//!    ones recorded as `adding_replicas`/`removing_replicas` in the topic
//!    znode; every replica learns it through a leader epoch bump, and the
//!    new replicas start following;
//! 2. once every target replica is in the ISR (the leader announces ISR
//!    growth through `/isr_change_notification`), or at once when the
//!    replicas are only reordered or already in sync (then without step 1's
//!    epoch bump, as Kafka's `isReassignmentComplete`), the assignment becomes
//!    the target, leadership moves if the leader is not a target replica,
//!    the removed replicas are stopped and deleted, and the partition is
//!    taken out of `/admin/reassign_partitions` (deleted when empty).
//!
//! Owns: the reassignment handlers. Must not depend on: tokio, the
//! ZooKeeper client, sockets.

use std::collections::BTreeMap;

use log::{info, warn};

use super::context::Reassignment;
use super::kafka_controller::Controller;
use super::leader_election::ElectionStrategy;
use super::port::ControllerError;
use super::replica_state_machine::ReplicaState;
use gregor_protocol::TopicPartition;
use gregor_zk::data::{PartitionReassignment, TopicAssignment};

impl Controller {
    /// Starts the reassignments newly listed in `/admin/reassign_partitions`
    /// and completes those already caught up.
    pub(super) async fn on_partition_reassignment(
        &mut self,
        requested: Option<Vec<PartitionReassignment>>,
    ) -> Result<(), ControllerError> {
        let Some(requested) = requested else {
            return Ok(());
        };
        for request in requested {
            let tp = TopicPartition::new(request.topic, request.partition);
            if self.ctx.reassignments.contains_key(&tp) {
                continue;
            }
            let Some(current) = self.ctx.assignments.get(&tp).cloned() else {
                warn!("reassignment of unknown partition {tp} ignored");
                continue;
            };
            if let Err(reason) = self.check_target(&request.replicas) {
                warn!(
                    "reassignment of {tp} to {:?} ignored: {reason}",
                    request.replicas
                );
                continue;
            }
            info!(
                "reassigning {tp} from {current:?} to {:?}",
                request.replicas
            );
            let reassignment = Reassignment {
                original: current,
                target: request.replicas,
            };
            let adding = reassignment.adding();
            let isr = self.ctx.leaderships.get(&tp).map(|l| l.state.isr.clone());
            let complete = reassignment.is_complete(isr.as_deref());
            self.ctx.assignments.insert(tp.clone(), reassignment.full());
            self.ctx.reassignments.insert(tp.clone(), reassignment);
            self.write_topic_assignment(&tp.topic).await?;
            if complete {
                // Completed below with the caught-up ones, with no epoch
                // bump for the move's start (Kafka's steps B1-B8 only).
                continue;
            }
            self.bump_leader_epoch(&tp).await?;
            let new_replicas: Vec<_> = adding.into_iter().map(|r| (tp.clone(), r)).collect();
            self.replicas_new(&new_replicas);
            // Replicas on brokers that died meanwhile come online with them.
            let live: Vec<_> = new_replicas
                .into_iter()
                .filter(|(_, r)| self.ctx.is_live(*r))
                .collect();
            self.replicas_online(&live);
        }
        self.complete_caught_up_reassignments().await
    }

    /// A target must name distinct, registered brokers.
    fn check_target(&self, target: &[i32]) -> Result<(), String> {
        let mut distinct = target.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if target.is_empty() || distinct.len() != target.len() {
            return Err("replicas must be distinct and not empty".into());
        }
        match target.iter().find(|r| !self.ctx.is_live(**r)) {
            Some(r) => Err(format!("broker {r} is not registered")),
            None => Ok(()),
        }
    }

    /// Completes every reassignment whose target replicas are all in the
    /// ISR, then leaves only the unfinished ones in the znode.
    pub(super) async fn complete_caught_up_reassignments(&mut self) -> Result<(), ControllerError> {
        let ready: Vec<_> = self
            .ctx
            .reassignments
            .iter()
            .filter(|(tp, r)| {
                r.is_complete(self.ctx.leaderships.get(*tp).map(|l| &l.state.isr[..]))
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        if ready.is_empty() {
            return Ok(());
        }
        for tp in &ready {
            self.complete_reassignment(tp).await?;
        }
        let remaining = self
            .ctx
            .reassignments
            .iter()
            .map(|(tp, r)| PartitionReassignment {
                topic: tp.topic.clone(),
                partition: tp.partition,
                replicas: r.target.clone(),
            })
            .collect();
        self.zk.set_partition_reassignment(remaining).await
    }

    async fn complete_reassignment(&mut self, tp: &TopicPartition) -> Result<(), ControllerError> {
        let Some(reassignment) = self.ctx.reassignments.remove(tp) else {
            return Ok(());
        };
        self.ctx
            .assignments
            .insert(tp.clone(), reassignment.target.clone());
        let leader = self.ctx.leaderships.get(tp).map(|l| l.state.leader);
        let leader_stays = leader.is_some_and(|l| {
            reassignment.target.contains(&l) && self.ctx.live_broker_ids().contains(&l)
        });
        if leader_stays {
            self.bump_leader_epoch(tp).await?;
        } else {
            self.elect(tp, ElectionStrategy::Reassignment).await?;
        }
        let removed: Vec<_> = reassignment
            .removing()
            .into_iter()
            .map(|r| (tp.clone(), r))
            .collect();
        self.replicas_offline(&removed).await?;
        self.replicas_deletion_started(&removed);
        // Kafka does not wait for the StopReplica answers either.
        for (tp, broker) in &removed {
            if self
                .ctx
                .move_replica(tp, *broker, ReplicaState::DeletionSuccessful)
            {
                self.ctx
                    .move_replica(tp, *broker, ReplicaState::NonExistent);
            }
        }
        self.write_topic_assignment(&tp.topic).await?;
        self.batch
            .update_metadata(self.ctx.live_or_shutting_down(), [tp.clone()]);
        info!(
            "reassignment of {tp} to {:?} completed",
            reassignment.target
        );
        Ok(())
    }

    /// Writes `/brokers/topics/<t>` from the context, with the replicas the
    /// topic's ongoing reassignments add and remove.
    async fn write_topic_assignment(&self, topic: &str) -> Result<(), ControllerError> {
        let mut partitions = BTreeMap::new();
        let mut adding = BTreeMap::new();
        let mut removing = BTreeMap::new();
        for tp in self.ctx.partitions_of(topic) {
            partitions.insert(tp.partition, self.ctx.replicas(&tp).to_vec());
            if let Some(r) = self.ctx.reassignments.get(&tp) {
                adding.insert(tp.partition, r.adding());
                removing.insert(tp.partition, r.removing());
            }
        }
        let topic_id = self
            .ctx
            .topic_ids
            .get(topic)
            .copied()
            .unwrap_or(gregor_protocol::id::Uuid::ZERO);
        let mut assignment = TopicAssignment::new(topic_id, partitions);
        assignment.adding_replicas = adding;
        assignment.removing_replicas = removing;
        // A topic deleted meanwhile is forgotten by the topic change that
        // follows.
        self.zk
            .set_topic_assignment(topic, assignment)
            .await
            .map(drop)
    }
}
