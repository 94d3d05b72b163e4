//! The active controller, Kafka's `KafkaController` in its controller role:
//! started when this broker wins the election, stopped when it loses it.
//!
//! One task owns the [`ControllerContext`] and handles one event at a time
//! (Kafka's `ControllerEventManager`), so decisions never race each other.
//! Events come from ZooKeeper watches (brokers joining and leaving, topics
//! created or marked for deletion, partitions added to a topic,
//! preferred-leader and ISR-change notifications), from brokers (ControlledShutdown, StopReplica answers)
//! and from the auto-rebalance timer. Every watch fires once: the watcher
//! re-arms it and only then queues the event, and handlers compare
//! ZooKeeper with the context, so no change is missed or handled twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use log::{debug, info, warn};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zookeeper_client::EventType;

use super::channel::{
    ChannelConfig, ControllerChannelManager, ControllerResponse, DEFAULT_RETRY_BACKOFF,
};
use super::context::{ControllerContext, Leadership, LiveBroker, PartitionState, ReplicaState};
use super::leader_election::ElectionStrategy;
use super::request_batch::RequestBatch;
use crate::config::KafkaConfig;
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_zk::data::BrokerInfo;
use gregor_zk::{paths, KafkaZkClient, ZkError};

/// How often a decision re-reads a state znode that a leader changed under
/// it before it gives up until the next event.
pub(super) const MAX_STALE_RETRIES: usize = 5;
/// Pause before handling an event again after ZooKeeper failed it.
const ZK_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Pause before re-arming a watch that could not be set.
const WATCH_RETRY_BACKOFF: Duration = Duration::from_millis(500);

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

/// Why the controller could not handle an event.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Zk(#[from] ZkError),
}

impl ControllerError {
    /// Another broker is the controller now: stop acting.
    fn is_controller_moved(&self) -> bool {
        matches!(self, ControllerError::Zk(ZkError::ControllerMoved))
    }
}

/// Why a ControlledShutdown was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlledShutdownError {
    #[error("broker {0} is not registered")]
    BrokerNotAvailable(BrokerId),
    #[error("broker {0} sent a stale broker epoch")]
    StaleBrokerEpoch(BrokerId),
    #[error("this broker is no longer the controller")]
    NotController,
    #[error("controller failed: {0}")]
    Failed(String),
}

impl ControlledShutdownError {
    pub fn error_code(&self) -> ErrorCode {
        match self {
            ControlledShutdownError::BrokerNotAvailable(_) => ErrorCode::BROKER_NOT_AVAILABLE,
            ControlledShutdownError::StaleBrokerEpoch(_) => ErrorCode::STALE_BROKER_EPOCH,
            ControlledShutdownError::NotController => ErrorCode::NOT_CONTROLLER,
            ControlledShutdownError::Failed(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
        }
    }
}

type ShutdownReply = oneshot::Sender<Result<Vec<TopicPartition>, ControlledShutdownError>>;

/// Something the controller must react to.
#[derive(Debug)]
enum ControllerEvent {
    BrokerChange,
    TopicChange,
    /// `/brokers/topics/<t>` changed: partitions may have been added.
    PartitionModifications(String),
    TopicDeletion,
    PreferredReplicaElection,
    PartitionReassignment,
    IsrChangeNotification,
    AutoPreferredReplicaLeaderElection,
    ControlledShutdown {
        broker_id: BrokerId,
        broker_epoch: i64,
        reply: ShutdownReply,
    },
}

/// The running controller. Dropping it stops the controller (its task,
/// watches and broker channels), which is what losing the election does.
pub struct ActiveController {
    handle: ControllerHandle,
    task: JoinHandle<()>,
}

/// Queues requests for the running controller; cheap to clone, so request
/// handlers can hold one without holding the broker's lock.
#[derive(Debug, Clone)]
pub struct ControllerHandle {
    events: mpsc::UnboundedSender<ControllerEvent>,
    epoch: i32,
}

impl ActiveController {
    /// Takes over as controller for `epoch`: loads the cluster from
    /// ZooKeeper, tells every broker its partitions and elects leaders where
    /// needed (Kafka's `onControllerFailover`), then handles events.
    pub fn start(
        zk: KafkaZkClient,
        broker_id: BrokerId,
        epoch: i32,
        epoch_zk_version: i32,
        config: ControllerConfig,
    ) -> Self {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (responses_tx, responses) = mpsc::unbounded_channel();
        let channel = ControllerChannelManager::new(
            ChannelConfig {
                request_timeout: config.request_timeout,
                retry_backoff: DEFAULT_RETRY_BACKOFF,
                client_id: broker_id.to_string(),
            },
            responses_tx,
        );
        let controller = Controller {
            zk,
            config,
            ctx: ControllerContext {
                controller_id: broker_id,
                epoch,
                epoch_zk_version,
                ..Default::default()
            },
            batch: RequestBatch::default(),
            channel,
            events: events.clone(),
            watchers: Vec::new(),
            topic_watchers: BTreeMap::new(),
        };
        let task = tokio::spawn(controller.run(events.clone(), events_rx, responses));
        ActiveController {
            handle: ControllerHandle { events, epoch },
            task,
        }
    }

    /// The controller epoch this controller was elected with.
    pub fn epoch(&self) -> i32 {
        self.handle.epoch
    }

    pub fn handle(&self) -> ControllerHandle {
        self.handle.clone()
    }
}

impl ControllerHandle {
    /// Handles a broker's ControlledShutdown: moves its leaderships away and
    /// returns the partitions it still leads.
    pub async fn controlled_shutdown(
        &self,
        broker_id: BrokerId,
        broker_epoch: i64,
    ) -> Result<Vec<TopicPartition>, ControlledShutdownError> {
        let (reply, answer) = oneshot::channel();
        self.events
            .send(ControllerEvent::ControlledShutdown {
                broker_id,
                broker_epoch,
                reply,
            })
            .map_err(|_| ControlledShutdownError::NotController)?;
        answer
            .await
            .map_err(|_| ControlledShutdownError::NotController)?
    }
}

impl Drop for ActiveController {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The controller's state and the means to act: the context, ZooKeeper,
/// and the channels to brokers. The state machines are `impl` blocks on it
/// in their own modules.
pub(crate) struct Controller {
    pub(super) zk: KafkaZkClient,
    pub(super) config: ControllerConfig,
    pub(super) ctx: ControllerContext,
    pub(super) batch: RequestBatch,
    channel: ControllerChannelManager,
    /// Where watchers queue events for this controller.
    events: mpsc::UnboundedSender<ControllerEvent>,
    watchers: Vec<JoinHandle<()>>,
    /// One watch per topic on `/brokers/topics/<t>` (Kafka's
    /// `PartitionModificationsHandler`), while the topic exists.
    topic_watchers: BTreeMap<String, JoinHandle<()>>,
}

impl Drop for Controller {
    fn drop(&mut self) {
        for watcher in self.watchers.iter().chain(self.topic_watchers.values()) {
            watcher.abort();
        }
    }
}

impl Controller {
    async fn run(
        mut self,
        events_tx: mpsc::UnboundedSender<ControllerEvent>,
        mut events: mpsc::UnboundedReceiver<ControllerEvent>,
        mut responses: mpsc::UnboundedReceiver<(BrokerId, ControllerResponse)>,
    ) {
        info!(
            "broker {} acts as controller (epoch {})",
            self.ctx.controller_id, self.ctx.epoch
        );
        loop {
            match self.on_failover().await {
                Ok(()) => break,
                Err(e) if e.is_controller_moved() => return self.deposed(),
                Err(e) => {
                    warn!("controller start-up failed: {e}; retrying");
                    tokio::time::sleep(ZK_RETRY_BACKOFF).await;
                }
            }
        }
        self.start_watchers(&events_tx);
        let mut rebalance = tokio::time::interval(self.config.leader_imbalance_check_interval);
        rebalance.reset();
        loop {
            let result = tokio::select! {
                Some(event) = events.recv() => self.handle(event).await,
                Some((broker, response)) = responses.recv() => {
                    self.on_response(broker, response).await
                }
                _ = rebalance.tick(), if self.config.auto_leader_rebalance_enable => {
                    self.handle(ControllerEvent::AutoPreferredReplicaLeaderElection).await
                }
                else => return,
            };
            if let Err(e) = result {
                if e.is_controller_moved() {
                    return self.deposed();
                }
                warn!("controller event failed: {e}");
            }
        }
    }

    fn deposed(&self) {
        warn!(
            "broker {} stops acting as controller: epoch {} was superseded",
            self.ctx.controller_id, self.ctx.epoch
        );
    }

    /// Handles one event, retrying while ZooKeeper is unreachable (the
    /// event's handler re-reads what it needs, so a retry is safe). A
    /// ControlledShutdown is answered with the error instead: the broker
    /// asks again.
    async fn handle(&mut self, event: ControllerEvent) -> Result<(), ControllerError> {
        if let ControllerEvent::ControlledShutdown {
            broker_id,
            broker_epoch,
            reply,
        } = event
        {
            let outcome = self.on_controlled_shutdown(broker_id, broker_epoch).await;
            self.send_batch();
            let (answer, error) = match outcome {
                Ok(result) => (result, None),
                Err(e) => (Err(ControlledShutdownError::Failed(e.to_string())), Some(e)),
            };
            let _ = reply.send(answer);
            return error.map_or(Ok(()), Err);
        }
        loop {
            let result = match event {
                ControllerEvent::BrokerChange => self.on_broker_change().await,
                ControllerEvent::TopicChange => self.on_topic_change().await,
                ControllerEvent::PartitionModifications(ref topic) => {
                    self.on_partition_modifications(topic).await
                }
                ControllerEvent::TopicDeletion => self.on_topic_deletion_request().await,
                ControllerEvent::PreferredReplicaElection => {
                    self.on_preferred_replica_election().await
                }
                ControllerEvent::PartitionReassignment => self.on_partition_reassignment().await,
                ControllerEvent::IsrChangeNotification => self.on_isr_change_notification().await,
                ControllerEvent::AutoPreferredReplicaLeaderElection => {
                    self.on_auto_rebalance().await
                }
                ControllerEvent::ControlledShutdown { .. } => Ok(()),
            };
            // Whatever was decided (written to ZooKeeper) is told, also
            // when a later step failed.
            self.send_batch();
            self.unwatch_removed_topics();
            match result {
                Err(e) if !e.is_controller_moved() && !self.zk.state().is_terminated() => {
                    warn!("controller: {event:?} failed: {e}; retrying");
                    tokio::time::sleep(ZK_RETRY_BACKOFF).await;
                }
                result => return result,
            }
        }
    }

    fn send_batch(&mut self) {
        self.batch.send(&self.ctx, &self.channel);
    }

    async fn on_response(
        &mut self,
        broker: BrokerId,
        response: ControllerResponse,
    ) -> Result<(), ControllerError> {
        let result = match response {
            ControllerResponse::StopReplica(r) => self.on_stop_replica_response(broker, r).await,
            ControllerResponse::LeaderAndIsr(r) if r.error_code != ErrorCode::NONE.code() => {
                warn!(
                    "broker {broker} refused LeaderAndIsr: error {}",
                    r.error_code
                );
                Ok(())
            }
            ControllerResponse::UpdateMetadata(r) if r.error_code != ErrorCode::NONE.code() => {
                warn!(
                    "broker {broker} refused UpdateMetadata: error {}",
                    r.error_code
                );
                Ok(())
            }
            other => {
                debug!("broker {broker} answered {other:?}");
                Ok(())
            }
        };
        self.send_batch();
        result
    }

    /// Kafka's `onControllerFailover`: load everything, tell every broker
    /// the whole picture, then repair what the previous controller left.
    async fn on_failover(&mut self) -> Result<(), ControllerError> {
        // gregor speaks inter-broker protocol 2.8, so feature versioning
        // is on (Kafka's `maybeSetupFeatureVersioning`).
        self.zk.enable_feature_versioning().await?;
        self.ctx.live_brokers.clear();
        let brokers = self.zk.get_all_brokers_with_epochs().await?;
        for (id, (info, epoch)) in brokers {
            self.add_live_broker(id, info, epoch).await;
        }
        self.ctx.topic_ids.clear();
        self.ctx.assignments.clear();
        self.ctx.leaderships.clear();
        self.ctx.partition_states.clear();
        self.ctx.replica_states.clear();
        for topic in self.zk.get_all_topics().await? {
            self.load_topic(&topic).await?;
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
        self.dead_replicas_offline(dead).await?;
        self.send_batch();
        Ok(())
    }

    /// Reads a topic's assignment and partition states into the context,
    /// and watches the topic for added partitions. A topic written without
    /// an id (by a tool writing ZooKeeper itself, such as Kafka 2.8's
    /// `kafka-topics --zookeeper`, or by a Kafka older than 2.8) gets one
    /// written back, as Kafka's `processTopicIds` does.
    async fn load_topic(&mut self, topic: &str) -> Result<(), ControllerError> {
        let Some(mut assignment) = self.zk.get_topic_assignment(topic).await? else {
            return Ok(());
        };
        let topic_id = match assignment.topic_id {
            Some(id) => id,
            None => {
                let id = gregor_protocol::id::Uuid::random();
                assignment.topic_id = Some(id);
                match self
                    .zk
                    .set_topic_assignment_fenced(topic, &assignment, self.ctx.epoch_zk_version)
                    .await
                {
                    Ok(()) => info!("topic {topic} has no id: gave it {id}"),
                    // Deleted meanwhile: the topic change that follows
                    // forgets it.
                    Err(ZkError::UnknownTopic(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
                id
            }
        };
        self.ctx.topic_ids.insert(topic.to_owned(), topic_id);
        self.watch_topic(topic);
        for (partition, replicas) in assignment.partitions {
            self.load_partition(TopicPartition::new(topic, partition), replicas)
                .await?;
        }
        Ok(())
    }

    /// Reads one partition's state into the context: `New` (with `New`
    /// replicas) if it has no state znode yet.
    async fn load_partition(
        &mut self,
        tp: TopicPartition,
        replicas: Vec<BrokerId>,
    ) -> Result<(), ControllerError> {
        let (topic, partition) = (tp.topic.as_str(), tp.partition);
        let state = match self.zk.get_partition_state(topic, partition).await? {
            Some(v) => {
                let online = self.ctx.is_live(v.value.leader);
                self.ctx.leaderships.insert(
                    tp.clone(),
                    Leadership {
                        state: v.value,
                        zk_version: v.zk_version,
                    },
                );
                if online {
                    PartitionState::Online
                } else {
                    PartitionState::Offline
                }
            }
            None => {
                for r in &replicas {
                    self.ctx
                        .replica_states
                        .insert((tp.clone(), *r), ReplicaState::New);
                }
                PartitionState::New
            }
        };
        self.ctx.partition_states.insert(tp.clone(), state);
        self.ctx.assignments.insert(tp, replicas);
        Ok(())
    }

    /// Partitions were added to `/brokers/topics/<t>` (by `kafka-topics
    /// --zookeeper --alter --partitions`, Kafka's `AdminZkClient.addPartitions`):
    /// start them as a new topic's partitions are started (Kafka's
    /// `processPartitionModifications` → `onNewPartitionCreation`).
    /// Partitions of a topic queued for deletion are left alone.
    async fn on_partition_modifications(&mut self, topic: &str) -> Result<(), ControllerError> {
        if !self.ctx.has_topic(topic) {
            return Ok(());
        }
        let Some(assignment) = self.zk.get_topic_assignment(topic).await? else {
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
            self.load_partition(tp, replicas).await?;
        }
        self.elect_offline_partitions().await?;
        self.replicas_online(&online);
        Ok(())
    }

    /// Starts following `/brokers/topics/<topic>` unless already done.
    fn watch_topic(&mut self, topic: &str) {
        if self.topic_watchers.contains_key(topic) {
            return;
        }
        let owned = topic.to_owned();
        let event = move || ControllerEvent::PartitionModifications(owned.clone());
        let watcher = tokio::spawn(watch_loop(
            self.zk.clone(),
            paths::topic(topic),
            Watch::Exists,
            event,
            self.events.clone(),
        ));
        self.topic_watchers.insert(topic.to_owned(), watcher);
    }

    /// Stops following topics the controller no longer knows (deleted).
    fn unwatch_removed_topics(&mut self) {
        let ctx = &self.ctx;
        self.topic_watchers.retain(|topic, watcher| {
            let keep = ctx.has_topic(topic);
            if !keep {
                watcher.abort();
            }
            keep
        });
    }

    async fn add_live_broker(&mut self, id: BrokerId, info: BrokerInfo, epoch: i64) {
        let endpoint = info
            .endpoints
            .iter()
            .find(|e| e.listener_name == self.config.inter_broker_listener_name)
            .or_else(|| info.endpoints.first());
        match endpoint {
            Some(e) => {
                let address = format!("{}:{}", e.host, e.port);
                self.channel.add_broker(id, address).await;
            }
            None => warn!("broker {id} registered without endpoints; it cannot be told anything"),
        }
        self.ctx.live_brokers.insert(id, LiveBroker { info, epoch });
    }

    /// Brokers joined, left or re-registered (Kafka's `processBrokerChange`).
    async fn on_broker_change(&mut self) -> Result<(), ControllerError> {
        let current = self.zk.get_all_brokers_with_epochs().await?;
        let known = self.ctx.live_or_shutting_down();
        let mut dead: BTreeSet<BrokerId> = known
            .iter()
            .copied()
            .filter(|id| !current.contains_key(id))
            .collect();
        let mut new = BTreeSet::new();
        for (id, (_, epoch)) in &current {
            match self.ctx.live_brokers.get(id) {
                None => {
                    new.insert(*id);
                }
                // Restarted within its session timeout: a new incarnation.
                Some(b) if b.epoch != *epoch => {
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
            for (id, (info, epoch)) in current {
                if new.contains(&id) {
                    self.add_live_broker(id, info, epoch).await;
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
            self.channel.remove_broker(*id).await;
        }
        self.mark_leaderless_partitions_offline();
        self.elect_offline_partitions().await?;
        let replicas: Vec<_> = dead
            .iter()
            .flat_map(|id| {
                self.ctx
                    .partitions_on(*id)
                    .into_iter()
                    .map(move |tp| (tp, *id))
            })
            .collect();
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
        for r in deleting {
            self.ctx
                .replica_states
                .insert(r, ReplicaState::DeletionIneligible);
        }
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
        let replicas: Vec<_> = new
            .iter()
            .flat_map(|id| {
                self.ctx
                    .partitions_on(*id)
                    .into_iter()
                    .map(move |tp| (tp, *id))
            })
            .filter(|(tp, _)| !self.ctx.is_being_deleted(tp))
            .collect();
        self.replicas_online(&replicas);
        self.elect_offline_partitions().await?;
        self.resume_deletions().await
    }

    /// Topics appeared in or vanished from `/brokers/topics` (Kafka's
    /// `processTopicChange` → `onNewPartitionCreation`).
    async fn on_topic_change(&mut self) -> Result<(), ControllerError> {
        let topics: BTreeSet<String> = self.zk.get_all_topics().await?.into_iter().collect();
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
            info!("new topic {topic}");
            self.load_topic(&topic).await?;
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

    /// `/admin/preferred_replica_election` appeared: move leadership back
    /// to each listed partition's first replica, then remove the request.
    async fn on_preferred_replica_election(&mut self) -> Result<(), ControllerError> {
        let Some(partitions) = self.zk.get_preferred_replica_election().await? else {
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
        self.zk
            .delete_fenced(paths::PREFERRED_REPLICA_ELECTION, self.ctx.epoch_zk_version)
            .await?;
        Ok(())
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
    async fn on_isr_change_notification(&mut self) -> Result<(), ControllerError> {
        let notifications = self.zk.get_isr_change_notifications().await?;
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
            self.zk
                .delete_fenced(&path, self.ctx.epoch_zk_version)
                .await?;
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

    /// One watcher task per znode the controller follows.
    fn start_watchers(&mut self, events: &mpsc::UnboundedSender<ControllerEvent>) {
        let watches: [WatchSpec; 6] = [
            (
                paths::BROKER_IDS,
                || ControllerEvent::BrokerChange,
                Watch::Children,
            ),
            (
                paths::BROKER_TOPICS,
                || ControllerEvent::TopicChange,
                Watch::Children,
            ),
            (
                paths::DELETE_TOPICS,
                || ControllerEvent::TopicDeletion,
                Watch::Children,
            ),
            (
                paths::ISR_CHANGE_NOTIFICATION,
                || ControllerEvent::IsrChangeNotification,
                Watch::Children,
            ),
            (
                paths::PREFERRED_REPLICA_ELECTION,
                || ControllerEvent::PreferredReplicaElection,
                Watch::Exists,
            ),
            (
                paths::REASSIGN_PARTITIONS,
                || ControllerEvent::PartitionReassignment,
                Watch::Exists,
            ),
        ];
        for (path, event, kind) in watches {
            let zk = self.zk.clone();
            let events = events.clone();
            self.watchers.push(tokio::spawn(watch_loop(
                zk,
                path.to_owned(),
                kind,
                event,
                events,
            )));
        }
    }
}

/// A znode to follow, the event its changes raise, and how to watch it.
type WatchSpec = (&'static str, fn() -> ControllerEvent, Watch);

#[derive(Debug, Clone, Copy)]
enum Watch {
    Children,
    Exists,
}

/// Sets the watch, queues `event` (so a change between two watches is
/// never missed), waits for the watch to fire, and again — until the
/// session ends or the controller stops.
async fn watch_loop(
    zk: KafkaZkClient,
    path: String,
    kind: Watch,
    event: impl Fn() -> ControllerEvent,
    events: mpsc::UnboundedSender<ControllerEvent>,
) {
    loop {
        let watcher = match kind {
            Watch::Children => zk.watch_children(&path).await,
            Watch::Exists => zk.watch_exists(&path).await,
        };
        let watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                if zk.state().is_terminated() {
                    return;
                }
                warn!("cannot watch {path}: {e}; retrying");
                tokio::time::sleep(WATCH_RETRY_BACKOFF).await;
                continue;
            }
        };
        if events.send(event()).is_err() {
            return;
        }
        let fired = watcher.changed().await;
        if fired.event_type == EventType::Session && fired.session_state.is_terminated() {
            return;
        }
    }
}
