//! Kafka's `ReplicaStateMachine`: moves each replica (a partition on one
//! broker) between [`ReplicaState`]s, only along Kafka's legal
//! transitions. Online tells the broker its role; Offline stops it and
//! takes it out of the ISR; the deletion states drive topic deletion (see
//! `topic_deletion`) and the removal of reassigned replicas.
//!
//! Owns: the replica states' transition table and what each transition
//! tells brokers. Must not depend on: tokio, the ZooKeeper client, sockets.

use log::error;

use super::context::ControllerContext;
use super::kafka_controller::Controller;
use super::port::ControllerError;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;

/// Kafka's `LeaderAndIsr.NoLeader`.
const NO_LEADER: BrokerId = -1;

/// Kafka's replica states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReplicaState {
    /// Not in the context: never assigned, or deleted.
    NonExistent,
    /// Assigned to a partition that has no leader yet, or being added by a
    /// reassignment.
    New,
    /// On a live broker that has been told its role.
    Online,
    /// On a dead broker, or stopped (controlled shutdown): out of the ISR.
    Offline,
    /// Its topic is being deleted and it was told to delete its log.
    DeletionStarted,
    /// Its broker confirmed the deletion.
    DeletionSuccessful,
    /// Its deletion failed or its broker is down; retried later.
    DeletionIneligible,
}

impl ReplicaState {
    pub const ALL: [ReplicaState; 7] = [
        ReplicaState::NonExistent,
        ReplicaState::New,
        ReplicaState::Online,
        ReplicaState::Offline,
        ReplicaState::DeletionStarted,
        ReplicaState::DeletionSuccessful,
        ReplicaState::DeletionIneligible,
    ];

    /// The states a replica may enter this one from (Kafka's
    /// `validPreviousStates`).
    pub fn valid_previous_states(self) -> &'static [ReplicaState] {
        use ReplicaState::*;
        match self {
            NonExistent => &[DeletionSuccessful],
            New => &[NonExistent],
            Online | Offline => &[New, Online, Offline, DeletionIneligible],
            DeletionStarted => &[Offline],
            DeletionSuccessful => &[DeletionStarted],
            DeletionIneligible => &[Offline, DeletionStarted],
        }
    }
}

/// A replica was asked to enter a state it cannot reach from its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replica of {tp} on broker {broker}: illegal state change {from:?} -> {to:?}")]
pub struct IllegalReplicaTransition {
    pub tp: TopicPartition,
    pub broker: BrokerId,
    pub from: ReplicaState,
    pub to: ReplicaState,
}

impl ControllerContext {
    /// Moves the replica of `tp` on `broker` to `to` if Kafka allows it
    /// from its current state; otherwise leaves it as it is.
    pub fn transition_replica(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
        to: ReplicaState,
    ) -> Result<(), IllegalReplicaTransition> {
        let from = self.replica_state(tp, broker);
        if !to.valid_previous_states().contains(&from) {
            return Err(IllegalReplicaTransition {
                tp: tp.clone(),
                broker,
                from,
                to,
            });
        }
        let key = (tp.clone(), broker);
        match to {
            ReplicaState::NonExistent => self.replica_states.remove(&key),
            _ => self.replica_states.insert(key, to),
        };
        Ok(())
    }

    /// [`transition_replica`](Self::transition_replica), logging an illegal
    /// change (Kafka's `logInvalidTransition`). Returns whether it moved.
    pub(super) fn move_replica(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
        to: ReplicaState,
    ) -> bool {
        match self.transition_replica(tp, broker, to) {
            Ok(()) => true,
            Err(e) => {
                error!("{e}");
                false
            }
        }
    }

    /// Sets a replica's state as loaded on failover (Kafka's
    /// `initializeReplicaState`): a starting point, not a transition.
    pub(super) fn initialize_replica(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
        state: ReplicaState,
    ) {
        self.replica_states.insert((tp.clone(), broker), state);
    }
}

impl Controller {
    /// → New: replicas assigned to a partition (new, or by a
    /// reassignment), not yet told anything.
    pub(super) fn replicas_new(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            self.ctx.move_replica(tp, *broker, ReplicaState::New);
        }
    }

    /// → Online: each replica's broker learns the partition's current
    /// leadership (a replica new to it creates its log).
    pub(super) fn replicas_online(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            // Replicas of partitions created in this controller's time start
            // New; after a failover existing ones are simply re-announced.
            let was_new = self.ctx.replica_state(tp, *broker) == ReplicaState::New;
            if self.ctx.move_replica(tp, *broker, ReplicaState::Online)
                && self.ctx.leaderships.contains_key(tp)
            {
                self.batch.leader_and_isr(&self.ctx, [*broker], tp, was_new);
            }
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
            if !self.ctx.move_replica(tp, *broker, ReplicaState::Offline) {
                continue;
            }
            self.batch.stop_replica(*broker, tp, false);
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

    /// Offline → DeletionStarted: the broker stops the replica and deletes
    /// its log.
    pub(super) fn replicas_deletion_started(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            if self
                .ctx
                .move_replica(tp, *broker, ReplicaState::DeletionStarted)
            {
                self.batch.stop_replica(*broker, tp, true);
            }
        }
    }

    /// → DeletionIneligible: replicas of a topic being deleted whose broker
    /// is down (or whose deletion failed) wait for it to come back (Kafka's
    /// `failReplicaDeletion`). A replica not yet asked goes Offline first,
    /// as Kafka's `onReplicasBecomeOffline` does; one already deleted or
    /// already waiting stays as it is.
    pub(super) fn replicas_deletion_ineligible(&mut self, replicas: &[(TopicPartition, BrokerId)]) {
        for (tp, broker) in replicas {
            match self.ctx.replica_state(tp, *broker) {
                ReplicaState::DeletionSuccessful | ReplicaState::DeletionIneligible => continue,
                ReplicaState::DeletionStarted => {}
                _ => {
                    if !self.ctx.move_replica(tp, *broker, ReplicaState::Offline) {
                        continue;
                    }
                }
            }
            self.ctx
                .move_replica(tp, *broker, ReplicaState::DeletionIneligible);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplicaState::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    fn in_state(state: ReplicaState) -> ControllerContext {
        let mut ctx = ControllerContext::default();
        if state != NonExistent {
            ctx.initialize_replica(&tp(), 1, state);
        }
        ctx
    }

    /// Kafka's table, written out as the pairs it allows.
    const LEGAL: [(ReplicaState, ReplicaState); 14] = [
        (NonExistent, New),
        (New, Online),
        (Online, Online),
        (Offline, Online),
        (DeletionIneligible, Online),
        (New, Offline),
        (Online, Offline),
        (Offline, Offline),
        (DeletionIneligible, Offline),
        (Offline, DeletionStarted),
        (DeletionStarted, DeletionSuccessful),
        (Offline, DeletionIneligible),
        (DeletionStarted, DeletionIneligible),
        (DeletionSuccessful, NonExistent),
    ];

    #[test]
    fn every_legal_replica_transition_is_applied() {
        for (from, to) in LEGAL {
            let mut ctx = in_state(from);
            assert_eq!(
                ctx.transition_replica(&tp(), 1, to),
                Ok(()),
                "{from:?} -> {to:?}"
            );
            assert_eq!(ctx.replica_state(&tp(), 1), to, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn every_illegal_replica_transition_is_refused_and_changes_nothing() {
        let mut refused = 0;
        for from in ReplicaState::ALL {
            for to in ReplicaState::ALL {
                if LEGAL.contains(&(from, to)) {
                    continue;
                }
                let mut ctx = in_state(from);
                assert_eq!(
                    ctx.transition_replica(&tp(), 1, to),
                    Err(IllegalReplicaTransition {
                        tp: tp(),
                        broker: 1,
                        from,
                        to
                    }),
                );
                assert_eq!(ctx.replica_state(&tp(), 1), from);
                refused += 1;
            }
        }
        assert_eq!(refused, 49 - LEGAL.len());
    }

    #[test]
    fn a_replica_is_deleted_only_through_the_deletion_states() {
        let mut ctx = in_state(Online);
        for skipped in [DeletionStarted, DeletionSuccessful, NonExistent] {
            assert!(ctx.transition_replica(&tp(), 1, skipped).is_err());
        }
        for next in [Offline, DeletionStarted, DeletionSuccessful, NonExistent] {
            ctx.transition_replica(&tp(), 1, next).unwrap();
        }
        assert!(ctx.replica_states.is_empty());
    }

    #[test]
    fn a_failed_deletion_is_retried_through_offline() {
        let mut ctx = in_state(DeletionStarted);
        ctx.transition_replica(&tp(), 1, DeletionIneligible)
            .unwrap();
        // Straight back to DeletionStarted is refused: it goes Offline first.
        assert!(ctx.transition_replica(&tp(), 1, DeletionStarted).is_err());
        ctx.transition_replica(&tp(), 1, Offline).unwrap();
        ctx.transition_replica(&tp(), 1, DeletionStarted).unwrap();
    }
}
