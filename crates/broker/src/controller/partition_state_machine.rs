//! Kafka's `PartitionStateMachine`: moves partitions between
//! [`PartitionState`]s — NonExistent (absent from the context), New
//! (assigned, no leader yet), Online (a live leader) and Offline (the
//! leader died and nobody eligible could take over) — only along Kafka's
//! legal transitions, writing each leadership change to the partition's
//! state znode before telling any broker.
//!
//! Owns: the partition states' transition table and the leader elections
//! that drive them. Must not depend on: tokio, the ZooKeeper client,
//! sockets — ZooKeeper is reached through the core's [`Port`](super::port::Port).

use log::{error, info, warn};

use super::context::{ControllerContext, Leadership};
use super::kafka_controller::{Controller, MAX_STALE_RETRIES};
use super::leader_election::{elect_leader, ElectionStrategy};
use super::port::{ConditionalWrite, ControllerError};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_zk::data::LeaderIsrAndControllerEpoch;

/// `unclean.leader.election.enable`, the per-topic override of the broker key.
const UNCLEAN_LEADER_ELECTION: &str = "unclean.leader.election.enable";

/// Kafka's partition states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PartitionState {
    /// Not in the context: never created, or deleted.
    NonExistent,
    /// Assigned, no leader elected yet.
    New,
    /// Has a live leader.
    Online,
    /// Its leader died and no eligible replica could take over.
    Offline,
}

impl PartitionState {
    pub const ALL: [PartitionState; 4] = [
        PartitionState::NonExistent,
        PartitionState::New,
        PartitionState::Online,
        PartitionState::Offline,
    ];

    /// The states a partition may enter this one from (Kafka's
    /// `validPreviousStates`).
    pub fn valid_previous_states(self) -> &'static [PartitionState] {
        use PartitionState::*;
        match self {
            NonExistent => &[Offline],
            New => &[NonExistent],
            Online | Offline => &[New, Online, Offline],
        }
    }
}

/// A partition was asked to enter a state it cannot reach from its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("partition {tp}: illegal state change {from:?} -> {to:?}")]
pub struct IllegalPartitionTransition {
    pub tp: TopicPartition,
    pub from: PartitionState,
    pub to: PartitionState,
}

impl ControllerContext {
    /// Moves `tp` to `to` if Kafka allows it from its current state;
    /// otherwise leaves it as it is.
    pub fn transition_partition(
        &mut self,
        tp: &TopicPartition,
        to: PartitionState,
    ) -> Result<(), IllegalPartitionTransition> {
        let from = self.partition_state(tp);
        if !to.valid_previous_states().contains(&from) {
            return Err(IllegalPartitionTransition {
                tp: tp.clone(),
                from,
                to,
            });
        }
        match to {
            PartitionState::NonExistent => self.partition_states.remove(tp),
            _ => self.partition_states.insert(tp.clone(), to),
        };
        Ok(())
    }

    /// [`transition_partition`](Self::transition_partition), logging an
    /// illegal change (Kafka's `logInvalidTransition`): the state machine
    /// refuses it and the controller carries on with the other partitions.
    pub(super) fn move_partition(&mut self, tp: &TopicPartition, to: PartitionState) -> bool {
        match self.transition_partition(tp, to) {
            Ok(()) => true,
            Err(e) => {
                error!("{e}");
                false
            }
        }
    }
}

impl Controller {
    /// Marks the partitions whose leader is gone as Offline, so the next
    /// [`elect_offline_partitions`](Self::elect_offline_partitions) finds them.
    pub(super) fn mark_leaderless_partitions_offline(&mut self) {
        let live = self.ctx.live_or_shutting_down();
        let leaderless: Vec<_> = self
            .ctx
            .leaderships
            .iter()
            .filter(|(tp, l)| {
                !live.contains(&l.state.leader)
                    && self.ctx.partition_state(tp) == PartitionState::Online
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in leaderless {
            self.ctx.move_partition(&tp, PartitionState::Offline);
        }
    }

    /// Kafka's `triggerOnlinePartitionStateChange`: gives every New or
    /// Offline partition (of topics not being deleted) a leader if it can.
    pub(super) async fn elect_offline_partitions(&mut self) -> Result<(), ControllerError> {
        let partitions = self.ctx.partitions_needing_leader();
        self.elect_leaders(partitions).await
    }

    /// Gives each of `partitions` (New or Offline) a leader if it can: New
    /// ones their first, Offline ones a clean leader, else an unclean one
    /// where `unclean.leader.election.enable` allows it.
    pub(super) async fn elect_leaders(
        &mut self,
        partitions: Vec<TopicPartition>,
    ) -> Result<(), ControllerError> {
        let mut offline = Vec::new();
        for tp in partitions {
            match self.ctx.partition_state(&tp) {
                PartitionState::New => self.initialize_leader(&tp).await?,
                _ => offline.push(tp),
            }
        }
        for tp in offline {
            let clean = ElectionStrategy::Offline {
                allow_unclean: false,
            };
            if !self.elect(&tp, clean).await? && self.unclean_election_allowed(&tp.topic).await? {
                let unclean = ElectionStrategy::Offline {
                    allow_unclean: true,
                };
                self.elect(&tp, unclean).await?;
            }
        }
        Ok(())
    }

    /// New → Online: the first live replica leads, every live replica is
    /// in the ISR (Kafka's `initializeLeaderAndIsrForPartitions`).
    async fn initialize_leader(&mut self, tp: &TopicPartition) -> Result<(), ControllerError> {
        let live = self.ctx.live_broker_ids();
        let replicas: Vec<_> = self
            .ctx
            .replicas(tp)
            .iter()
            .copied()
            .filter(|r| live.contains(r))
            .collect();
        let Some(&leader) = replicas.first() else {
            warn!(
                "partition {tp}: no live replica of {:?}, stays without a leader",
                self.ctx.replicas(tp)
            );
            return Ok(());
        };
        let state = LeaderIsrAndControllerEpoch::new(leader, 0, replicas.clone(), self.ctx.epoch);
        let leadership = match self.zk.create_partition_state(tp, &state).await? {
            ConditionalWrite::Written { zk_version } => Leadership { state, zk_version },
            // Written already (by a previous controller that died right
            // after): that leadership stands.
            ConditionalWrite::Conflict { current: Some(l) } => l,
            ConditionalWrite::Conflict { current: None } => return Ok(()),
        };
        info!(
            "partition {tp}: leader {} (epoch {}), isr {:?}",
            leadership.state.leader, leadership.state.leader_epoch, leadership.state.isr
        );
        self.ctx.leaderships.insert(tp.clone(), leadership);
        self.ctx.move_partition(tp, PartitionState::Online);
        let recipients = self.replicas_to_tell(tp);
        self.batch.leader_and_isr(&self.ctx, recipients, tp, true);
        Ok(())
    }

    /// Online/Offline → Online by `strategy`. Returns whether a leader was
    /// elected; if none is eligible the partition keeps its state (Offline
    /// stays Offline).
    pub(super) async fn elect(
        &mut self,
        tp: &TopicPartition,
        strategy: ElectionStrategy,
    ) -> Result<bool, ControllerError> {
        let live = self.ctx.live_broker_ids();
        let replicas = self.ctx.replicas(tp).to_vec();
        let shutting_down = self.ctx.shutting_down.clone();
        self.change_leadership(tp, None, |current| {
            let elected = elect_leader(strategy, &replicas, &current.isr, &live, &shutting_down);
            if elected.is_none() {
                warn!(
                    "partition {tp}: no eligible leader among {replicas:?} (isr {:?}) for {strategy:?}",
                    current.isr
                );
            }
            elected.map(|e| (e.leader, e.isr))
        })
        .await
    }

    /// Same leader and ISR in the next leader epoch, so that every replica
    /// learns a changed replica list (Kafka's `updateLeaderEpochAndSendRequest`).
    pub(super) async fn bump_leader_epoch(
        &mut self,
        tp: &TopicPartition,
    ) -> Result<bool, ControllerError> {
        self.change_leadership(tp, None, |current| {
            Some((current.leader, current.isr.clone()))
        })
        .await
    }

    /// Writes the partition's next leader and ISR, as `next` derives them
    /// from the current state (`None`: nothing to change), in the next
    /// leader epoch, conditional on the state znode's zkVersion; then tells
    /// every replica but `excluded`. A write that lost to a leader's own ISR
    /// change is answered with the current state, from which `next` decides
    /// again (bounded: leaders change the ISR rarely). Returns whether it
    /// wrote.
    pub(super) async fn change_leadership(
        &mut self,
        tp: &TopicPartition,
        excluded: Option<BrokerId>,
        next: impl Fn(&LeaderIsrAndControllerEpoch) -> Option<(BrokerId, Vec<BrokerId>)>,
    ) -> Result<bool, ControllerError> {
        for _ in 0..MAX_STALE_RETRIES {
            let Some(current) = self.current_leadership(tp).await? else {
                return Ok(false);
            };
            let Some((leader, isr)) = next(&current.state) else {
                return Ok(false);
            };
            let state = LeaderIsrAndControllerEpoch::new(
                leader,
                current.state.leader_epoch.saturating_add(1),
                isr,
                self.ctx.epoch,
            );
            match self
                .zk
                .update_partition_state(tp, &state, current.zk_version)
                .await?
            {
                ConditionalWrite::Written { zk_version } => {
                    info!(
                        "partition {tp}: leader {} -> {} (epoch {}), isr {:?}",
                        current.state.leader, state.leader, state.leader_epoch, state.isr
                    );
                    if self.ctx.live_broker_ids().contains(&state.leader) {
                        self.ctx.move_partition(tp, PartitionState::Online);
                    }
                    self.ctx
                        .leaderships
                        .insert(tp.clone(), Leadership { state, zk_version });
                    let recipients: Vec<_> = self
                        .replicas_to_tell(tp)
                        .into_iter()
                        .filter(|r| Some(*r) != excluded)
                        .collect();
                    self.batch.leader_and_isr(&self.ctx, recipients, tp, false);
                    return Ok(true);
                }
                ConditionalWrite::Conflict { current } => match current {
                    Some(l) => self.ctx.leaderships.insert(tp.clone(), l),
                    None => self.ctx.leaderships.remove(tp),
                },
            };
        }
        warn!("partition {tp}: state znode keeps changing; change postponed");
        Ok(false)
    }

    /// The partition's leadership from the context, read from ZooKeeper if
    /// unknown.
    pub(super) async fn current_leadership(
        &mut self,
        tp: &TopicPartition,
    ) -> Result<Option<Leadership>, ControllerError> {
        if let Some(l) = self.ctx.leaderships.get(tp) {
            return Ok(Some(l.clone()));
        }
        let read = self.zk.read_partition_state(tp).await?;
        if let Some(l) = &read {
            self.ctx.leaderships.insert(tp.clone(), l.clone());
        }
        Ok(read)
    }

    /// The replicas on live brokers that are not shutting down (Kafka's
    /// `isReplicaOnline`): a stopping broker is not told to follow the
    /// partitions it led, or it would fetch and rejoin their ISRs while it
    /// goes away; it only serves until it exits.
    pub(super) fn replicas_to_tell(&self, tp: &TopicPartition) -> Vec<BrokerId> {
        let live = self.ctx.live_broker_ids();
        self.ctx
            .replicas(tp)
            .iter()
            .copied()
            .filter(|r| live.contains(r))
            .collect()
    }

    /// `unclean.leader.election.enable` for `topic`: its override in
    /// `/config/topics/<t>`, else the broker's. Read only when needed, as
    /// Kafka does, since it costs a ZooKeeper read.
    async fn unclean_election_allowed(&self, topic: &str) -> Result<bool, ControllerError> {
        let overrides = self.zk.read_topic_config(topic).await?;
        Ok(
            match overrides.get(UNCLEAN_LEADER_ELECTION).map(String::as_str) {
                Some("true") => true,
                Some("false") => false,
                _ => self.config.unclean_leader_election_enable,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PartitionState::*;

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// A context with `tp` in `state` (NonExistent: absent).
    fn in_state(state: PartitionState) -> ControllerContext {
        let mut ctx = ControllerContext::default();
        if state != NonExistent {
            ctx.partition_states.insert(tp(), state);
        }
        ctx
    }

    /// Kafka's table, written out as the pairs it allows.
    const LEGAL: [(PartitionState, PartitionState); 8] = [
        (NonExistent, New),
        (New, Online),
        (Online, Online),
        (Offline, Online),
        (New, Offline),
        (Online, Offline),
        (Offline, Offline),
        (Offline, NonExistent),
    ];

    #[test]
    fn every_legal_partition_transition_is_applied() {
        for (from, to) in LEGAL {
            let mut ctx = in_state(from);
            assert_eq!(
                ctx.transition_partition(&tp(), to),
                Ok(()),
                "{from:?} -> {to:?}"
            );
            assert_eq!(ctx.partition_state(&tp()), to, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn every_illegal_partition_transition_is_refused_and_changes_nothing() {
        let mut refused = 0;
        for from in PartitionState::ALL {
            for to in PartitionState::ALL {
                if LEGAL.contains(&(from, to)) {
                    continue;
                }
                let mut ctx = in_state(from);
                assert_eq!(
                    ctx.transition_partition(&tp(), to),
                    Err(IllegalPartitionTransition { tp: tp(), from, to })
                );
                assert_eq!(ctx.partition_state(&tp()), from);
                refused += 1;
            }
        }
        assert_eq!(refused, 16 - LEGAL.len());
    }

    #[test]
    fn a_new_partition_cannot_be_deleted_without_going_offline_first() {
        let mut ctx = in_state(New);
        assert!(ctx.transition_partition(&tp(), NonExistent).is_err());
        ctx.transition_partition(&tp(), Offline).unwrap();
        ctx.transition_partition(&tp(), NonExistent).unwrap();
        assert!(!ctx.partition_states.contains_key(&tp()));
    }

    #[test]
    fn an_existing_partition_cannot_be_created_again() {
        for from in [New, Online, Offline] {
            let err = in_state(from).transition_partition(&tp(), New).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("partition t-0: illegal state change {from:?} -> New")
            );
        }
    }
}
