//! [`KafkaController`]: the controller's decisions, Kafka's
//! `KafkaController` event handlers, as a sans-io core.
//!
//! Events go in ([`ControllerEvent`], carrying the ZooKeeper data they are
//! about); decisions come out ([`Decision`]: ZooKeeper writes with the
//! zkVersions they expect, LeaderAndIsr/UpdateMetadata/StopReplica per
//! broker, the answer to a ControlledShutdown). When a handler needs
//! ZooKeeper in the middle (a conditional write's outcome, a re-read after
//! a conflict, a topic's configuration), its last decision is the request
//! and the core waits for [`KafkaController::resume`] with the answer. One
//! event is handled at a time, so decisions never race each other.
//!
//! Owns: the [`ControllerContext`], the event handlers and the request
//! batch. Must not depend on: tokio, the ZooKeeper client, sockets, the
//! clock — the executor (`executor`) reads and writes ZooKeeper, talks to
//! brokers and ticks the auto-rebalance timer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use log::{debug, info, warn};

use super::context::{ControllerContext, Leadership, LiveBroker};
use super::decision::{ControlledShutdownError, Decision, ZkFailure, ZkReply};
use super::event::{ClusterSnapshot, ControllerEvent, TopicSnapshot};
use super::leader_election::ElectionStrategy;
use super::partition_state_machine::PartitionState;
use super::port::{ControllerError, Port, Progress, Suspended};
use super::replica_state_machine::ReplicaState;
use super::request_batch::{ControllerResponse, RequestBatch};
use crate::config::KafkaConfig;
use gregor_protocol::id::Uuid;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_zk::data::{TopicAssignment, TopicPartition as ZkTopicPartition};
use gregor_zk::paths;

/// How often a decision re-reads a state znode that a leader changed under
/// it before it gives up until the next event.
pub(super) const MAX_STALE_RETRIES: usize = 5;

/// The broker settings the controller acts on, with Kafka's keys.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// `unclean.leader.election.enable` (topics may override it).
    pub unclean_leader_election_enable: bool,
    /// `auto.leader.rebalance.enable`.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`.
    pub leader_imbalance_check_interval: Duration,
    /// `leader.imbalance.per.broker.percentage`.
    pub leader_imbalance_per_broker_percentage: u32,
    /// `inter.broker.listener.name`: the listener the controller connects to.
    pub inter_broker_listener_name: String,
    /// `controller.socket.timeout.ms`.
    pub request_timeout: Duration,
}

impl ControllerConfig {
    pub fn from_broker(config: &KafkaConfig) -> Self {
        ControllerConfig {
            delete_topic_enable: config.delete_topic_enable,
            unclean_leader_election_enable: config.unclean_leader_election_enable,
            auto_leader_rebalance_enable: config.auto_leader_rebalance_enable,
            leader_imbalance_check_interval: Duration::from_secs(
                config.leader_imbalance_check_interval_seconds,
            ),
            leader_imbalance_per_broker_percentage: config.leader_imbalance_per_broker_percentage,
            inter_broker_listener_name: config.inter_broker_listener_name.clone(),
            request_timeout: Duration::from_millis(config.controller_socket_timeout_ms),
        }
    }
}

/// What the executor must do next.
#[derive(Debug)]
pub struct Step {
    /// To perform in order; if [`Status::WaitingForZk`], the last one is
    /// the ZooKeeper request to answer.
    pub decisions: Vec<Decision>,
    pub status: Status,
}

#[derive(Debug)]
pub enum Status {
    /// Answer the last decision with [`KafkaController::resume`].
    WaitingForZk,
    /// The event is handled (or failed: an unavailable ZooKeeper is worth
    /// another try with fresh data; a moved controller is final).
    Done(Result<(), ControllerError>),
}

/// The sans-io controller: feed it events and ZooKeeper answers, perform
/// the decisions it returns.
pub struct KafkaController {
    port: Port,
    state: CoreState,
}

enum CoreState {
    Idle(Box<Controller>),
    /// A handler waits for ZooKeeper; it owns the controller meanwhile.
    Handling(Suspended<(Box<Controller>, Result<(), ControllerError>)>),
    /// A fenced write failed: another broker is the controller.
    Deposed,
    /// Only while switching between the others.
    Switching,
}

impl KafkaController {
    /// The controller of broker `controller_id`, elected in `epoch`, with
    /// an empty context until [`ControllerEvent::Failover`] loads it.
    pub fn new(controller_id: BrokerId, epoch: i32, config: ControllerConfig) -> Self {
        let port = Port::default();
        let controller = Controller {
            config,
            ctx: ControllerContext {
                controller_id,
                epoch,
                ..Default::default()
            },
            batch: RequestBatch::default(),
            zk: port.clone(),
        };
        KafkaController {
            port,
            state: CoreState::Idle(Box::new(controller)),
        }
    }

    /// The context between events (`None` while one is handled, or once
    /// deposed).
    pub fn context(&self) -> Option<&ControllerContext> {
        match &self.state {
            CoreState::Idle(c) => Some(&c.ctx),
            _ => None,
        }
    }

    /// Starts handling `event`.
    pub fn handle(&mut self, event: ControllerEvent) -> Step {
        match std::mem::replace(&mut self.state, CoreState::Switching) {
            CoreState::Idle(mut controller) => {
                let handler = async move {
                    let result = controller.process(event).await;
                    (controller, result)
                };
                let progress = Suspended::start(&self.port, handler);
                self.advance(progress)
            }
            other => self.refuse(other),
        }
    }

    /// Puts `state` back and answers why the core cannot take an event or
    /// a reply now: it was deposed, or it is in the middle of another one.
    fn refuse(&mut self, state: CoreState) -> Step {
        let error = match state {
            CoreState::Deposed => ControllerError::Deposed,
            _ => ControllerError::Busy,
        };
        self.state = state;
        Step {
            decisions: Vec::new(),
            status: Status::Done(Err(error)),
        }
    }

    /// Feeds the answer to the ZooKeeper request the current event waits for.
    pub fn resume(&mut self, reply: Result<ZkReply, ZkFailure>) -> Step {
        match std::mem::replace(&mut self.state, CoreState::Switching) {
            CoreState::Handling(suspended) => {
                let progress = suspended.resume(&self.port, reply);
                self.advance(progress)
            }
            other => self.refuse(other),
        }
    }

    fn advance(
        &mut self,
        progress: Progress<(Box<Controller>, Result<(), ControllerError>)>,
    ) -> Step {
        match progress {
            Progress::Waiting(suspended, decisions) => {
                self.state = CoreState::Handling(suspended);
                Step {
                    decisions,
                    status: Status::WaitingForZk,
                }
            }
            Progress::Finished((controller, result), decisions) => {
                self.state = match &result {
                    Err(e) if e.is_controller_moved() => CoreState::Deposed,
                    _ => CoreState::Idle(controller),
                };
                Step {
                    decisions,
                    status: Status::Done(result),
                }
            }
        }
    }
}

/// The controller's state and its one way out, the [`Port`]. The state
/// machines, reassignment and topic deletion are `impl` blocks on it in
/// their own modules.
pub(crate) struct Controller {
    pub(super) config: ControllerConfig,
    pub(super) ctx: ControllerContext,
    pub(super) batch: RequestBatch,
    pub(super) zk: Port,
}

impl Controller {
    /// Handles one event; whatever was decided (written to ZooKeeper) is
    /// told to the brokers, also when a later step failed — unless the
    /// controller was deposed, as a deposed controller must not act.
    async fn process(&mut self, event: ControllerEvent) -> Result<(), ControllerError> {
        let result = match event {
            ControllerEvent::Failover(snapshot) => self.on_failover(snapshot).await,
            ControllerEvent::BrokerChange(brokers) => self.on_broker_change(brokers).await,
            ControllerEvent::TopicChange(topics) => self.on_topic_change(topics).await,
            ControllerEvent::PartitionModifications { topic, assignment } => {
                self.on_partition_modifications(&topic, assignment).await
            }
            ControllerEvent::TopicDeletion(marked) => self.on_topic_deletion_request(marked).await,
            ControllerEvent::PreferredReplicaElection(partitions) => {
                self.on_preferred_replica_election(partitions).await
            }
            ControllerEvent::PartitionReassignment(requested) => {
                self.on_partition_reassignment(requested).await
            }
            ControllerEvent::IsrChangeNotification(notifications) => {
                self.on_isr_change_notification(notifications).await
            }
            ControllerEvent::TopicConfigChange(topic) => self.on_topic_config_change(&topic).await,
            ControllerEvent::AutoRebalanceTick => self.on_auto_rebalance().await,
            ControllerEvent::ControlledShutdown {
                broker_id,
                broker_epoch,
            } => {
                let outcome = self.on_controlled_shutdown(broker_id, broker_epoch).await;
                let (answer, result) = match outcome {
                    Ok(answer) => (answer, Ok(())),
                    Err(e) => (Err(ControlledShutdownError::Failed(e.to_string())), Err(e)),
                };
                self.flush(&result);
                self.zk.decide(Decision::ControlledShutdownReply(answer));
                return result;
            }
            ControllerEvent::BrokerResponse { broker, response } => {
                self.on_response(broker, response).await
            }
        };
        self.flush(&result);
        result
    }

    /// Turns the batch into requests, unless deposed.
    fn flush(&mut self, result: &Result<(), ControllerError>) {
        if matches!(result, Err(e) if e.is_controller_moved()) {
            return;
        }
        for (broker, request) in self.batch.drain(&self.ctx) {
            self.zk.decide(Decision::Send { broker, request });
        }
    }

    async fn on_response(
        &mut self,
        broker: BrokerId,
        response: ControllerResponse,
    ) -> Result<(), ControllerError> {
        match response {
            ControllerResponse::StopReplica(r) => {
                return self.on_stop_replica_response(broker, r).await
            }
            ControllerResponse::LeaderAndIsr(r) if r.error_code != ErrorCode::NONE.code() => {
                warn!(
                    "broker {broker} refused LeaderAndIsr: error {}",
                    r.error_code
                );
            }
            ControllerResponse::UpdateMetadata(r) if r.error_code != ErrorCode::NONE.code() => {
                warn!(
                    "broker {broker} refused UpdateMetadata: error {}",
                    r.error_code
                );
            }
            other => debug!("broker {broker} answered {other:?}"),
        }
        Ok(())
    }

    /// Kafka's `onControllerFailover`: load everything, tell every broker
    /// the whole picture, then repair what the previous controller left.
    async fn on_failover(&mut self, snapshot: ClusterSnapshot) -> Result<(), ControllerError> {
        self.ctx.live_brokers.clear();
        for (id, broker) in snapshot.brokers {
            self.add_live_broker(id, broker);
        }
        self.ctx.topic_ids.clear();
        self.ctx.assignments.clear();
        self.ctx.leaderships.clear();
        self.ctx.partition_states.clear();
        self.ctx.replica_states.clear();
        for (topic, data) in snapshot.topics {
            self.load_topic(&topic, data).await?;
        }
        let all: Vec<_> = self.ctx.assignments.keys().cloned().collect();
        self.batch
            .update_metadata(self.ctx.live_or_shutting_down(), all.clone());
        let online: Vec<_> = all
            .iter()
            .flat_map(|tp| self.ctx.replicas(tp).iter().map(move |r| (tp.clone(), *r)))
            .filter(|(_, r)| self.ctx.is_live(*r))
            .collect();
        self.replicas_online(&online);
        self.mark_leaderless_partitions_offline();
        self.elect_offline_partitions().await?;
        // Brokers that died while no controller watched (the previous
        // controller among them) leave the ISRs, as Kafka's
        // `ReplicaStateMachine.startup` moves their replicas offline.
        let dead: Vec<_> = all
            .iter()
            .flat_map(|tp| self.ctx.replicas(tp).iter().map(move |r| (tp.clone(), *r)))
            .filter(|(_, r)| !self.ctx.is_live(*r))
            .collect();
        self.dead_replicas_offline(dead).await
    }

    /// Takes a topic into the context. A topic written without an id (by a
    /// tool writing ZooKeeper itself, such as Kafka 2.8's `kafka-topics
    /// --zookeeper`, or by a Kafka older than 2.8) gets one written back,
    /// as Kafka's `processTopicIds` does.
    async fn load_topic(
        &mut self,
        topic: &str,
        data: TopicSnapshot,
    ) -> Result<(), ControllerError> {
        let TopicSnapshot {
            mut assignment,
            mut partition_states,
        } = data;
        let topic_id = match assignment.topic_id {
            Some(id) => id,
            None => {
                let id = Uuid::random();
                assignment.topic_id = Some(id);
                if !self
                    .zk
                    .set_topic_assignment(topic, assignment.clone())
                    .await?
                {
                    // Deleted meanwhile: the topic change that follows
                    // forgets it.
                    return Ok(());
                }
                info!("topic {topic} has no id: gave it {id}");
                id
            }
        };
        self.ctx.topic_ids.insert(topic.to_owned(), topic_id);
        for (partition, replicas) in assignment.partitions {
            let state = partition_states.remove(&partition);
            self.load_partition(TopicPartition::new(topic, partition), replicas, state);
        }
        Ok(())
    }

    /// Takes one partition into the context: New (with New replicas) if it
    /// has no state znode yet, else Online or Offline by its leader, with
    /// its replicas Online on live brokers and DeletionIneligible on dead
    /// ones (Kafka's `initializePartitionState` and
    /// `initializeReplicaState`).
    fn load_partition(
        &mut self,
        tp: TopicPartition,
        replicas: Vec<BrokerId>,
        state: Option<Leadership>,
    ) {
        let Some(leadership) = state else {
            self.ctx.move_partition(&tp, PartitionState::New);
            let new: Vec<_> = replicas.iter().map(|r| (tp.clone(), *r)).collect();
            self.ctx.assignments.insert(tp, replicas);
            self.replicas_new(&new);
            return;
        };
        let state = if self.ctx.is_live(leadership.state.leader) {
            PartitionState::Online
        } else {
            PartitionState::Offline
        };
        self.ctx.partition_states.insert(tp.clone(), state);
        self.ctx.leaderships.insert(tp.clone(), leadership);
        for r in &replicas {
            let state = if self.ctx.is_live(*r) {
                ReplicaState::Online
            } else {
                ReplicaState::DeletionIneligible
            };
            self.ctx.initialize_replica(&tp, *r, state);
        }
        self.ctx.assignments.insert(tp, replicas);
    }

    /// Partitions were added to `/brokers/topics/<t>` (by `kafka-topics
    /// --zookeeper --alter --partitions`, Kafka's `AdminZkClient.addPartitions`):
    /// start them as a new topic's partitions are started (Kafka's
    /// `processPartitionModifications` → `onNewPartitionCreation`).
    /// Partitions of a topic queued for deletion are left alone.
    async fn on_partition_modifications(
        &mut self,
        topic: &str,
        assignment: Option<TopicAssignment>,
    ) -> Result<(), ControllerError> {
        if !self.ctx.has_topic(topic) {
            return Ok(());
        }
        let Some(assignment) = assignment else {
            return Ok(());
        };
        let added: Vec<_> = assignment
            .partitions
            .into_iter()
            .map(|(partition, replicas)| (TopicPartition::new(topic, partition), replicas))
            .filter(|(tp, _)| !self.ctx.assignments.contains_key(tp))
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        if self.ctx.topics_to_delete.contains(topic) {
            info!("not adding partitions to {topic}: it is being deleted");
            return Ok(());
        }
        info!("{} new partitions of {topic}", added.len());
        let live = self.ctx.live_or_shutting_down();
        let mut online = Vec::new();
        for (tp, replicas) in added {
            online.extend(
                replicas
                    .iter()
                    .filter(|r| live.contains(r))
                    .map(|r| (tp.clone(), *r)),
            );
            let state = self.zk.read_partition_state(&tp).await?;
            self.load_partition(tp, replicas, state);
        }
        self.elect_offline_partitions().await?;
        self.replicas_online(&online);
        Ok(())
    }

    /// Registers a broker and opens its channel on the inter-broker listener.
    fn add_live_broker(&mut self, id: BrokerId, broker: LiveBroker) {
        let endpoint = broker
            .info
            .endpoints
            .iter()
            .find(|e| e.listener_name == self.config.inter_broker_listener_name)
            .or_else(|| broker.info.endpoints.first());
        match endpoint {
            Some(e) => self.zk.decide(Decision::ConnectBroker {
                broker: id,
                address: format!("{}:{}", e.host, e.port),
            }),
            None => warn!("broker {id} registered without endpoints; it cannot be told anything"),
        }
        self.ctx.live_brokers.insert(id, broker);
    }

    /// Brokers joined, left or re-registered (Kafka's `processBrokerChange`).
    async fn on_broker_change(
        &mut self,
        current: BTreeMap<BrokerId, LiveBroker>,
    ) -> Result<(), ControllerError> {
        let known = self.ctx.live_or_shutting_down();
        let mut dead: BTreeSet<BrokerId> = known
            .iter()
            .copied()
            .filter(|id| !current.contains_key(id))
            .collect();
        let mut new = BTreeSet::new();
        for (id, broker) in &current {
            match self.ctx.live_brokers.get(id) {
                None => {
                    new.insert(*id);
                }
                // Restarted within its session timeout: a new incarnation.
                Some(b) if b.epoch != broker.epoch => {
                    dead.insert(*id);
                    new.insert(*id);
                }
                Some(_) => {}
            }
        }
        if !dead.is_empty() {
            info!("brokers left: {dead:?}");
            self.on_brokers_failure(&dead).await?;
        }
        if !new.is_empty() {
            info!("brokers joined: {new:?}");
            for (id, broker) in current {
                if new.contains(&id) {
                    self.add_live_broker(id, broker);
                }
            }
            self.on_brokers_startup(&new).await?;
        }
        // Repair what an earlier, interrupted attempt left.
        self.mark_leaderless_partitions_offline();
        self.elect_offline_partitions().await
    }

    /// Kafka's `onBrokerFailure`: forget the brokers, elect new leaders for
    /// what they led, take their replicas out of the ISRs.
    async fn on_brokers_failure(
        &mut self,
        dead: &BTreeSet<BrokerId>,
    ) -> Result<(), ControllerError> {
        for id in dead {
            self.ctx.live_brokers.remove(id);
            self.ctx.shutting_down.remove(id);
            self.zk.decide(Decision::DisconnectBroker { broker: *id });
        }
        self.mark_leaderless_partitions_offline();
        self.elect_offline_partitions().await?;
        let replicas = self.ctx.replicas_on(dead.iter().copied());
        self.dead_replicas_offline(replicas).await?;
        // Everyone learns the smaller broker list even if no partition moved.
        self.batch
            .update_metadata(self.ctx.live_or_shutting_down(), []);
        Ok(())
    }

    /// Replicas on dead brokers go offline (out of the ISRs), those of
    /// topics being deleted become ineligible for deletion until their
    /// broker returns.
    async fn dead_replicas_offline(
        &mut self,
        replicas: Vec<(TopicPartition, BrokerId)>,
    ) -> Result<(), ControllerError> {
        let (deleting, offline): (Vec<_>, Vec<_>) = replicas
            .into_iter()
            .partition(|(tp, _)| self.ctx.is_being_deleted(tp));
        self.replicas_offline(&offline).await?;
        self.replicas_deletion_ineligible(&deleting);
        Ok(())
    }

    /// Kafka's `onBrokerStartup`: the new brokers get the full metadata and
    /// their partitions' roles; offline partitions may elect them; pending
    /// deletions on them resume.
    async fn on_brokers_startup(
        &mut self,
        new: &BTreeSet<BrokerId>,
    ) -> Result<(), ControllerError> {
        let others: Vec<_> = self
            .ctx
            .live_or_shutting_down()
            .into_iter()
            .filter(|id| !new.contains(id))
            .collect();
        self.batch.update_metadata(others, []);
        let all: Vec<_> = self.ctx.assignments.keys().cloned().collect();
        self.batch.update_metadata(new.iter().copied(), all);
        let replicas: Vec<_> = self
            .ctx
            .replicas_on(new.iter().copied())
            .into_iter()
            .filter(|(tp, _)| !self.ctx.is_being_deleted(tp))
            .collect();
        self.replicas_online(&replicas);
        self.elect_offline_partitions().await?;
        self.resume_deletions().await
    }

    /// Topics appeared in or vanished from `/brokers/topics` (Kafka's
    /// `processTopicChange` → `onNewPartitionCreation`).
    async fn on_topic_change(&mut self, topics: BTreeSet<String>) -> Result<(), ControllerError> {
        let gone: Vec<String> = self
            .ctx
            .topic_ids
            .keys()
            .filter(|t| !topics.contains(*t))
            .cloned()
            .collect();
        for topic in gone {
            self.ctx.remove_topic(&topic);
        }
        for topic in topics {
            if self.ctx.has_topic(&topic) {
                continue;
            }
            let Some(data) = self.zk.read_topic(&topic).await? else {
                continue;
            };
            info!("new topic {topic}");
            self.load_topic(&topic, data).await?;
            let partitions = self.ctx.partitions_of(&topic);
            // Partitions already in ZooKeeper (written by a controller
            // that died) are taken as they are.
            let live = self.ctx.live_or_shutting_down();
            let replicas: Vec<_> = partitions
                .iter()
                .flat_map(|tp| self.ctx.replicas(tp).iter().map(move |r| (tp.clone(), *r)))
                .filter(|(_, r)| live.contains(r))
                .collect();
            self.elect_offline_partitions().await?;
            self.replicas_online(&replicas);
        }
        Ok(())
    }

    /// Kafka's `processTopicUncleanLeaderElectionEnable`: the topic's
    /// partitions without a leader try again, reading its new overrides.
    async fn on_topic_config_change(&mut self, topic: &str) -> Result<(), ControllerError> {
        let leaderless: Vec<_> = self
            .ctx
            .partitions_needing_leader()
            .into_iter()
            .filter(|tp| tp.topic == topic)
            .collect();
        self.elect_leaders(leaderless).await
    }

    /// `/admin/preferred_replica_election` appeared: move leadership back
    /// to each listed partition's first replica, then remove the request.
    async fn on_preferred_replica_election(
        &mut self,
        partitions: Option<Vec<ZkTopicPartition>>,
    ) -> Result<(), ControllerError> {
        let Some(partitions) = partitions else {
            return Ok(());
        };
        info!(
            "preferred replica election for {} partitions",
            partitions.len()
        );
        for p in partitions {
            let tp = TopicPartition::new(p.topic, p.partition);
            if self.needs_preferred_leader(&tp) {
                self.elect(&tp, ElectionStrategy::PreferredReplica).await?;
            }
        }
        self.zk.delete(paths::PREFERRED_REPLICA_ELECTION).await
    }

    /// Whether `tp` exists, is not being deleted and is led by someone other
    /// than its preferred replica.
    fn needs_preferred_leader(&self, tp: &TopicPartition) -> bool {
        let preferred = self.ctx.replicas(tp).first();
        let leader = self.ctx.leaderships.get(tp).map(|l| l.state.leader);
        !self.ctx.is_being_deleted(tp) && preferred.is_some() && leader != preferred.copied()
    }

    /// `auto.leader.rebalance.enable`: for each live broker whose share of
    /// preferred partitions led elsewhere exceeds
    /// `leader.imbalance.per.broker.percentage`, move those back (Kafka's
    /// `checkAndTriggerAutoLeaderRebalance`).
    async fn on_auto_rebalance(&mut self) -> Result<(), ControllerError> {
        let live = self.ctx.live_broker_ids();
        let mut to_move = Vec::new();
        for broker in &live {
            let preferred: Vec<_> = self
                .ctx
                .assignments
                .iter()
                .filter(|(_, r)| r.first() == Some(broker))
                .map(|(tp, _)| tp.clone())
                .collect();
            let imbalanced: Vec<_> = preferred
                .iter()
                .filter(|tp| self.needs_preferred_leader(tp))
                .cloned()
                .collect();
            let percent = imbalanced.len() * 100 / preferred.len().max(1);
            if percent > self.config.leader_imbalance_per_broker_percentage as usize {
                to_move.extend(imbalanced);
            }
        }
        for tp in to_move {
            self.elect(&tp, ElectionStrategy::PreferredReplica).await?;
        }
        Ok(())
    }

    /// Leaders changed some ISRs: refresh those partitions from ZooKeeper
    /// and tell every broker (Kafka's `processIsrChangeNotification`).
    async fn on_isr_change_notification(
        &mut self,
        notifications: Vec<(String, Vec<ZkTopicPartition>)>,
    ) -> Result<(), ControllerError> {
        let mut changed = BTreeSet::new();
        for (_, partitions) in &notifications {
            for p in partitions {
                changed.insert(TopicPartition::new(p.topic.clone(), p.partition));
            }
        }
        for tp in &changed {
            if !self.ctx.assignments.contains_key(tp) {
                continue;
            }
            self.ctx.leaderships.remove(tp);
            self.current_leadership(tp).await?;
        }
        self.batch
            .update_metadata(self.ctx.live_or_shutting_down(), changed);
        for (path, _) in notifications {
            self.zk.delete(&path).await?;
        }
        // A reassignment completes when its new replicas joined the ISR.
        self.complete_caught_up_reassignments().await
    }

    /// Kafka's `doControlledShutdown`: the broker stops leading (leaders
    /// move to other in-sync replicas) and following (it leaves the ISRs).
    /// Returns the partitions it still leads; single-replica partitions are
    /// not counted, as nobody could take them over.
    async fn on_controlled_shutdown(
        &mut self,
        broker_id: BrokerId,
        broker_epoch: i64,
    ) -> Result<Result<Vec<TopicPartition>, ControlledShutdownError>, ControllerError> {
        let Some(registered) = self.ctx.live_brokers.get(&broker_id) else {
            return Ok(Err(ControlledShutdownError::BrokerNotAvailable(broker_id)));
        };
        if broker_epoch != -1 && broker_epoch < registered.epoch {
            return Ok(Err(ControlledShutdownError::StaleBrokerEpoch(broker_id)));
        }
        info!("broker {broker_id} is shutting down; moving its leaderships");
        self.ctx.shutting_down.insert(broker_id);
        let replicated: Vec<_> = self
            .ctx
            .partitions_on(broker_id)
            .into_iter()
            .filter(|tp| self.ctx.replicas(tp).len() > 1 && !self.ctx.is_being_deleted(tp))
            .collect();
        let mut followed = Vec::new();
        for tp in replicated {
            let leader = self.ctx.leaderships.get(&tp).map(|l| l.state.leader);
            if leader == Some(broker_id) {
                self.elect(&tp, ElectionStrategy::ControlledShutdown)
                    .await?;
            } else {
                followed.push((tp, broker_id));
            }
        }
        self.replicas_offline(&followed).await?;
        Ok(Ok(self
            .ctx
            .partitions_led_by(broker_id)
            .into_iter()
            .filter(|tp| self.ctx.replicas(tp).len() > 1)
            .collect()))
    }
}
