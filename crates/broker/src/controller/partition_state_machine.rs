//! Kafka's `PartitionStateMachine`: moves partitions between
//! [`PartitionState`]s — New (assigned, no leader yet), Online (a live
//! leader), Offline (the leader died and nobody eligible could take over),
//! and NonExistent (absent from the context) — writing each leadership
//! change to the partition's state znode before telling any broker.

use log::{info, warn};

use super::context::{Leadership, PartitionState};
use super::kafka_controller::{Controller, ControllerError, MAX_STALE_RETRIES};
use super::leader_election::{elect_leader, ElectionStrategy};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_zk::data::LeaderIsrAndControllerEpoch;
use gregor_zk::ZkError;

/// `unclean.leader.election.enable`, the per-topic override of the broker key.
const UNCLEAN_LEADER_ELECTION: &str = "unclean.leader.election.enable";

impl Controller {
    /// Marks the partitions whose leader is gone as Offline, so the next
    /// [`elect_offline_partitions`](Self::elect_offline_partitions) finds them.
    pub(super) fn mark_leaderless_partitions_offline(&mut self) {
        let live = self.ctx.live_or_shutting_down();
        for (tp, leadership) in &self.ctx.leaderships {
            if !live.contains(&leadership.state.leader) {
                if let Some(state) = self.ctx.partition_states.get_mut(tp) {
                    if *state == PartitionState::Online {
                        *state = PartitionState::Offline;
                    }
                }
            }
        }
    }

    /// Kafka's `triggerOnlinePartitionStateChange`: gives every New or
    /// Offline partition (of topics not being deleted) a leader if it can.
    pub(super) async fn elect_offline_partitions(&mut self) -> Result<(), ControllerError> {
        let mut offline = Vec::new();
        for tp in self.ctx.partitions_needing_leader() {
            match self.ctx.partition_state(&tp) {
                Some(PartitionState::New) => self.initialize_leader(&tp).await?,
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
        let leadership = match self
            .zk
            .create_partition_state_fenced(tp, &state, self.ctx.epoch_zk_version)
            .await
        {
            Ok(zk_version) => Leadership { state, zk_version },
            // Written already (by a previous controller that died right
            // after): that leadership stands.
            Err(ZkError::NodeExists { .. }) => {
                match self.zk.get_partition_state(&tp.topic, tp.partition).await? {
                    Some(v) => Leadership {
                        state: v.value,
                        zk_version: v.zk_version,
                    },
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        };
        info!(
            "partition {tp}: leader {} (epoch {}), isr {:?}",
            leadership.state.leader, leadership.state.leader_epoch, leadership.state.isr
        );
        self.ctx.leaderships.insert(tp.clone(), leadership);
        self.ctx
            .partition_states
            .insert(tp.clone(), PartitionState::Online);
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
    /// leader epoch, fenced on the state znode's and the controller epoch's
    /// zkVersions; then tells every replica but `excluded`. A write that
    /// lost to a leader's own ISR change re-reads and decides again
    /// (bounded: leaders change the ISR rarely). Returns whether it wrote.
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
                        "partition {tp}: leader {} -> {} (epoch {}), isr {:?}",
                        current.state.leader, state.leader, state.leader_epoch, state.isr
                    );
                    if self.ctx.live_broker_ids().contains(&state.leader) {
                        self.ctx
                            .partition_states
                            .insert(tp.clone(), PartitionState::Online);
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
                Err(ZkError::BadVersion { .. }) => {
                    self.ctx.leaderships.remove(tp);
                }
                Err(e) => return Err(e.into()),
            }
        }
        warn!("partition {tp}: state znode keeps changing; change postponed");
        Ok(false)
    }

    /// The partition's leadership from the context, re-read from ZooKeeper
    /// if unknown (after a lost conditional write).
    pub(super) async fn current_leadership(
        &mut self,
        tp: &TopicPartition,
    ) -> Result<Option<Leadership>, ControllerError> {
        if let Some(l) = self.ctx.leaderships.get(tp) {
            return Ok(Some(l.clone()));
        }
        let read = self.zk.get_partition_state(&tp.topic, tp.partition).await?;
        Ok(read.map(|v| {
            let leadership = Leadership {
                state: v.value,
                zk_version: v.zk_version,
            };
            self.ctx.leaderships.insert(tp.clone(), leadership.clone());
            leadership
        }))
    }

    /// The replicas on live brokers that are not shutting down (Kafka's
    /// `isReplicaOnline`): a stopping broker is not told to follow the
    /// partitions it led, or it would fetch and rejoin their ISRs while it
    /// goes away; it only serves until it exits.
    pub(super) fn replicas_to_tell(&self, tp: &TopicPartition) -> Vec<i32> {
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
        let overrides = self.zk.get_topic_config(topic).await?;
        Ok(
            match overrides.get(UNCLEAN_LEADER_ELECTION).map(String::as_str) {
                Some("true") => true,
                Some("false") => false,
                _ => self.config.unclean_leader_election_enable,
            },
        )
    }
}
