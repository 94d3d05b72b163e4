//! The active controller's executor: the task that owns the ZooKeeper
//! client, the watches, the channels to brokers and the auto-rebalance
//! timer, and drives the sans-io [`KafkaController`] — it reads what each
//! event is about, performs each [`Decision`] and feeds ZooKeeper's answers
//! back (Kafka's `ControllerEventManager` thread plus the I/O of its
//! handlers).
//!
//! Every watch fires once: the watcher re-arms it and only then queues its
//! trigger, and the event carries ZooKeeper's data read after that, so no
//! change is missed or handled twice. A fenced write that fails
//! ([`ZkFailure::ControllerMoved`]) stops the controller.
//!
//! The controller's tasks form one node of the broker's shutdown tree: the
//! executor's task, below it a node for the watchers (one child per topic
//! watch) and one for the broker channels. Stopping the node stops them
//! all; a task that ends by itself (the controller was deposed) stops the
//! watchers and channels below it.
//!
//! Owns: I/O and retries. Must not decide anything: every choice of leader,
//! ISR, replica state or request is the core's.

use std::collections::BTreeMap;
use std::time::Duration;

use log::{info, warn};
use tokio::sync::{mpsc, oneshot};
use zookeeper_client::EventType;

use super::channel::{ChannelConfig, ControllerChannelManager, DEFAULT_RETRY_BACKOFF};
use super::context::{Leadership, LiveBroker};
use super::decision::{ControlledShutdownError, Decision, ZkFailure, ZkReply, ZkRequest};
use super::event::{ClusterSnapshot, ControllerEvent, TopicSnapshot};
use super::kafka_controller::{ControllerConfig, KafkaController, Status};
use super::port::ControllerError;
use super::request_batch::ControllerResponse;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_runtime::{Backoff, Shutdown};
use gregor_zk::data::LeaderIsrAndControllerEpoch;
use gregor_zk::Versioned;
use gregor_zk::{paths, KafkaZkClient, ZkError};

/// Pause before handling an event again after ZooKeeper failed it.
const ZK_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Pause before re-arming a watch that could not be set.
const WATCH_RETRY_BACKOFF: Duration = Duration::from_millis(500);

type ShutdownReply = oneshot::Sender<Result<Vec<TopicPartition>, ControlledShutdownError>>;

/// Why the executor must feed the core an event.
#[derive(Debug)]
enum Trigger {
    /// Something changed; what, the event will read.
    Cause(Cause),
    ControlledShutdown {
        broker_id: BrokerId,
        broker_epoch: i64,
        reply: ShutdownReply,
    },
}

/// A change the core is told about with ZooKeeper's data read after it.
#[derive(Debug, Clone)]
enum Cause {
    BrokerChange,
    TopicChange,
    /// `/brokers/topics/<t>` changed: partitions may have been added.
    PartitionModifications(String),
    TopicDeletion,
    PreferredReplicaElection,
    PartitionReassignment,
    IsrChangeNotification,
    /// A topic's configuration changed; the core reads it if it needs it.
    TopicConfigChange(String),
    AutoRebalance,
}

/// The running controller. Dropping it stops the controller (its task,
/// watches and broker channels), which is what losing the election does.
pub struct ActiveController {
    handle: ControllerHandle,
    /// The node the controller's tasks run on.
    tasks: Shutdown,
}

/// Queues requests for the running controller; cheap to clone, so request
/// handlers can hold one without holding the broker's lock.
#[derive(Debug, Clone)]
pub struct ControllerHandle {
    triggers: mpsc::UnboundedSender<Trigger>,
    epoch: i32,
}

impl ActiveController {
    /// Takes over as controller for `epoch`: loads the cluster from
    /// ZooKeeper, tells every broker its partitions and elects leaders where
    /// needed (Kafka's `onControllerFailover`), then handles events. Every
    /// write is fenced on `epoch_zk_version`, the zkVersion of
    /// `/controller_epoch` this broker's election wrote. Its tasks run
    /// below a child of `tasks`.
    pub fn start(
        zk: KafkaZkClient,
        broker_id: BrokerId,
        epoch: i32,
        epoch_zk_version: i32,
        config: ControllerConfig,
        tasks: &Shutdown,
    ) -> Self {
        let tasks = tasks.child();
        let (triggers, triggers_rx) = mpsc::unbounded_channel();
        let (responses_tx, responses) = mpsc::unbounded_channel();
        let channel = ControllerChannelManager::new(
            ChannelConfig {
                request_timeout: config.request_timeout,
                retry_backoff: DEFAULT_RETRY_BACKOFF,
                client_id: broker_id.to_string(),
            },
            responses_tx,
            tasks.child(),
        );
        let executor = Executor {
            zk,
            epoch_zk_version,
            auto_rebalance: config.auto_leader_rebalance_enable,
            rebalance_interval: config.leader_imbalance_check_interval,
            core: KafkaController::new(broker_id, epoch, config),
            channel,
            triggers: triggers.clone(),
            watchers: tasks.child(),
            topic_watchers: BTreeMap::new(),
        };
        tasks.spawn(executor.run(triggers_rx, responses));
        ActiveController {
            handle: ControllerHandle { triggers, epoch },
            tasks,
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
        self.triggers
            .send(Trigger::ControlledShutdown {
                broker_id,
                broker_epoch,
                reply,
            })
            .map_err(|_| ControlledShutdownError::NotController)?;
        answer
            .await
            .map_err(|_| ControlledShutdownError::NotController)?
    }

    /// Tells the controller that `topic`'s configuration changed (the
    /// broker follows `/config/changes` anyway), so that its partitions
    /// without a leader can use a newly allowed unclean election.
    pub fn topic_config_changed(&self, topic: &str) {
        let cause = Cause::TopicConfigChange(topic.to_owned());
        // A stopped controller has nothing to elect.
        let _ = self.triggers.send(Trigger::Cause(cause));
    }
}

impl Drop for ActiveController {
    fn drop(&mut self) {
        self.tasks.cancel();
    }
}

struct Executor {
    zk: KafkaZkClient,
    /// zkVersion of `/controller_epoch`; every controller write is fenced on
    /// it, so a deposed controller's writes fail.
    epoch_zk_version: i32,
    /// `auto.leader.rebalance.enable`.
    auto_rebalance: bool,
    /// `leader.imbalance.check.interval.seconds`.
    rebalance_interval: Duration,
    core: KafkaController,
    channel: ControllerChannelManager,
    /// Where watchers queue triggers for this controller.
    triggers: mpsc::UnboundedSender<Trigger>,
    /// The node the watcher tasks run on, each topic's on a child.
    watchers: Shutdown,
    /// One watch per topic on `/brokers/topics/<t>` (Kafka's
    /// `PartitionModificationsHandler`), while the core knows the topic: the
    /// node its task runs on.
    topic_watchers: BTreeMap<String, Shutdown>,
}

impl Drop for Executor {
    /// The executor's task ended (deposed) or was stopped: its watchers stop
    /// with it, as its broker channels do when `channel` is dropped.
    fn drop(&mut self) {
        self.watchers.cancel();
    }
}

impl Executor {
    async fn run(
        mut self,
        mut triggers: mpsc::UnboundedReceiver<Trigger>,
        mut responses: mpsc::UnboundedReceiver<(BrokerId, ControllerResponse)>,
    ) {
        let (controller_id, epoch) = self
            .core
            .context()
            .map_or((-1, -1), |c| (c.controller_id, c.epoch));
        info!("broker {controller_id} acts as controller (epoch {epoch})");
        // Unlimited: only being deposed or stopped ends the retries.
        let retries = Backoff::fixed(ZK_RETRY_BACKOFF).start();
        loop {
            let result = match read_snapshot(&self.zk).await {
                Ok(snapshot) => {
                    self.perform(ControllerEvent::Failover(snapshot), None)
                        .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => break,
                Err(e) if e.is_controller_moved() => return deposed(controller_id, epoch),
                Err(e) => {
                    warn!("controller start-up failed: {e}; retrying");
                    retries.pause().await;
                }
            }
        }
        self.sync_topic_watches();
        self.start_watchers();
        let mut rebalance = tokio::time::interval(self.rebalance_interval);
        rebalance.reset();
        loop {
            let result = tokio::select! {
                Some(trigger) = triggers.recv() => self.on_trigger(trigger).await,
                Some((broker, response)) = responses.recv() => {
                    self.perform(ControllerEvent::BrokerResponse { broker, response }, None).await
                }
                _ = rebalance.tick(), if self.auto_rebalance => {
                    self.on_trigger(Trigger::Cause(Cause::AutoRebalance)).await
                }
                else => return,
            };
            if let Err(e) = result {
                if e.is_controller_moved() {
                    return deposed(controller_id, epoch);
                }
                warn!("controller event failed: {e}");
            }
        }
    }

    /// Has the core handle a trigger. A change is read and handled again
    /// (with fresh data, after a pause) while ZooKeeper fails it; a
    /// ControlledShutdown is answered with the failure instead: the broker
    /// asks again.
    async fn on_trigger(&mut self, trigger: Trigger) -> Result<(), ControllerError> {
        let cause = match trigger {
            Trigger::Cause(cause) => cause,
            Trigger::ControlledShutdown {
                broker_id,
                broker_epoch,
                reply,
            } => {
                let event = ControllerEvent::ControlledShutdown {
                    broker_id,
                    broker_epoch,
                };
                return self.perform(event, Some(reply)).await;
            }
        };
        // Unlimited while the session lives.
        let retries = Backoff::fixed(ZK_RETRY_BACKOFF).start();
        loop {
            let result = match read_event(&self.zk, &cause).await {
                Ok(event) => self.perform(event, None).await,
                Err(e) => Err(e),
            };
            self.sync_topic_watches();
            match result {
                Err(e) if !e.is_controller_moved() && !self.zk.state().is_terminated() => {
                    warn!("controller: {cause:?} failed: {e}; retrying");
                    retries.pause().await;
                }
                result => return result,
            }
        }
    }

    /// Feeds `event` to the core and performs its decisions until it is
    /// handled.
    async fn perform(
        &mut self,
        event: ControllerEvent,
        mut shutdown_reply: Option<ShutdownReply>,
    ) -> Result<(), ControllerError> {
        let mut step = self.core.handle(event);
        loop {
            let mut answer = None;
            for decision in step.decisions {
                match decision {
                    Decision::Zk(request) => {
                        answer = Some(zk_request(&self.zk, self.epoch_zk_version, request).await)
                    }
                    Decision::ConnectBroker { broker, address } => {
                        self.channel.add_broker(broker, address).await
                    }
                    Decision::DisconnectBroker { broker } => {
                        self.channel.remove_broker(broker).await
                    }
                    Decision::Send { broker, request } => self.channel.send(broker, request),
                    Decision::ControlledShutdownReply(result) => {
                        if let Some(reply) = shutdown_reply.take() {
                            // The broker may have given up waiting.
                            let _ = reply.send(result);
                        }
                    }
                }
            }
            match (step.status, answer) {
                (Status::WaitingForZk, Some(answer)) => step = self.core.resume(answer),
                (Status::WaitingForZk, None) => return Err(ControllerError::Busy),
                (Status::Done(result), _) => return result,
            }
        }
    }

    /// Follows `/brokers/topics/<t>` for every topic the core knows, and no
    /// other.
    fn sync_topic_watches(&mut self) {
        let Some(ctx) = self.core.context() else {
            return;
        };
        self.topic_watchers.retain(|topic, watcher| {
            let keep = ctx.has_topic(topic);
            if !keep {
                watcher.cancel();
            }
            keep
        });
        for topic in ctx.topic_ids.keys() {
            if self.topic_watchers.contains_key(topic) {
                continue;
            }
            let owned = topic.clone();
            let trigger = move || Trigger::Cause(Cause::PartitionModifications(owned.clone()));
            let watcher = self.watchers.child();
            watcher.spawn(watch_loop(
                self.zk.clone(),
                paths::topic(topic),
                Watch::Exists,
                trigger,
                self.triggers.clone(),
            ));
            self.topic_watchers.insert(topic.clone(), watcher);
        }
    }

    /// One watcher task per znode the controller follows.
    fn start_watchers(&mut self) {
        let watches: [WatchSpec; 6] = [
            (
                paths::BROKER_IDS,
                || Trigger::Cause(Cause::BrokerChange),
                Watch::Children,
            ),
            (
                paths::BROKER_TOPICS,
                || Trigger::Cause(Cause::TopicChange),
                Watch::Children,
            ),
            (
                paths::DELETE_TOPICS,
                || Trigger::Cause(Cause::TopicDeletion),
                Watch::Children,
            ),
            (
                paths::ISR_CHANGE_NOTIFICATION,
                || Trigger::Cause(Cause::IsrChangeNotification),
                Watch::Children,
            ),
            (
                paths::PREFERRED_REPLICA_ELECTION,
                || Trigger::Cause(Cause::PreferredReplicaElection),
                Watch::Exists,
            ),
            (
                paths::REASSIGN_PARTITIONS,
                || Trigger::Cause(Cause::PartitionReassignment),
                Watch::Exists,
            ),
        ];
        for (path, trigger, kind) in watches {
            let zk = self.zk.clone();
            let triggers = self.triggers.clone();
            self.watchers
                .spawn(watch_loop(zk, path.to_owned(), kind, trigger, triggers));
        }
    }
}

/// Performs one of the core's ZooKeeper requests, fenced.
async fn zk_request(
    zk: &KafkaZkClient,
    fence: i32,
    request: ZkRequest,
) -> Result<ZkReply, ZkFailure> {
    let reply = match request {
        ZkRequest::ReadTopic { topic } => ZkReply::Topic(read_topic(zk, &topic).await?),
        ZkRequest::ReadPartitionState { tp } => {
            ZkReply::PartitionState(read_partition_state(zk, &tp).await?)
        }
        ZkRequest::ReadTopicConfig { topic } => {
            ZkReply::TopicConfig(zk.get_topic_config(&topic).await?)
        }
        ZkRequest::CreatePartitionState { tp, state } => {
            let written = zk.create_partition_state_fenced(&tp, &state, fence).await;
            conditional_write(zk, &tp, written).await?
        }
        ZkRequest::UpdatePartitionState {
            tp,
            state,
            expected_zk_version,
        } => {
            let written = zk
                .update_partition_state_fenced(&tp, &state, expected_zk_version, fence)
                .await;
            conditional_write(zk, &tp, written).await?
        }
        ZkRequest::SetTopicAssignment { topic, assignment } => {
            match zk
                .set_topic_assignment_fenced(&topic, &assignment, fence)
                .await
            {
                Ok(()) => ZkReply::Done,
                Err(ZkError::UnknownTopic(_)) => ZkReply::UnknownTopic,
                Err(e) => return Err(e.into()),
            }
        }
        ZkRequest::SetPartitionReassignment { remaining } => {
            zk.set_partition_reassignment_fenced(remaining, fence)
                .await?;
            ZkReply::Done
        }
        ZkRequest::Delete { path } => {
            zk.delete_fenced(&path, fence).await?;
            ZkReply::Done
        }
        ZkRequest::DeleteTopicZnodes { topic } => {
            zk.delete_topic_znodes(&topic).await?;
            ZkReply::Done
        }
    };
    Ok(reply)
}

/// What a new controller loads. gregor speaks inter-broker protocol
/// 2.8, so feature versioning is turned on first (Kafka's
/// `maybeSetupFeatureVersioning`).
async fn read_snapshot(zk: &KafkaZkClient) -> Result<ClusterSnapshot, ControllerError> {
    zk.enable_feature_versioning().await?;
    let mut snapshot = ClusterSnapshot {
        brokers: read_brokers(zk).await?,
        topics: BTreeMap::new(),
    };
    for topic in zk.get_all_topics().await? {
        if let Some(data) = read_topic(zk, &topic).await? {
            snapshot.topics.insert(topic, data);
        }
    }
    Ok(snapshot)
}

/// The event `trigger` stands for, with the data it is about.
async fn read_event(zk: &KafkaZkClient, cause: &Cause) -> Result<ControllerEvent, ControllerError> {
    let event = match cause {
        Cause::BrokerChange => ControllerEvent::BrokerChange(read_brokers(zk).await?),
        Cause::TopicChange => {
            ControllerEvent::TopicChange(zk.get_all_topics().await?.into_iter().collect())
        }
        Cause::PartitionModifications(topic) => ControllerEvent::PartitionModifications {
            topic: topic.clone(),
            assignment: zk.get_topic_assignment(topic).await?,
        },
        Cause::TopicDeletion => {
            ControllerEvent::TopicDeletion(zk.get_topics_marked_for_deletion().await?)
        }
        Cause::PreferredReplicaElection => {
            ControllerEvent::PreferredReplicaElection(zk.get_preferred_replica_election().await?)
        }
        Cause::PartitionReassignment => {
            ControllerEvent::PartitionReassignment(zk.get_partition_reassignment().await?)
        }
        Cause::IsrChangeNotification => {
            ControllerEvent::IsrChangeNotification(zk.get_isr_change_notifications().await?)
        }
        Cause::TopicConfigChange(topic) => ControllerEvent::TopicConfigChange(topic.clone()),
        Cause::AutoRebalance => ControllerEvent::AutoRebalanceTick,
    };
    Ok(event)
}

fn deposed(controller_id: BrokerId, epoch: i32) {
    warn!("broker {controller_id} stops acting as controller: epoch {epoch} was superseded");
}

impl From<ZkError> for ZkFailure {
    fn from(e: ZkError) -> Self {
        match e {
            ZkError::ControllerMoved => ZkFailure::ControllerMoved,
            other => ZkFailure::Unavailable(other.to_string()),
        }
    }
}

impl From<ZkError> for ControllerError {
    fn from(e: ZkError) -> Self {
        ControllerError::Zk(e.into())
    }
}

/// Every registered broker with its epoch.
async fn read_brokers(zk: &KafkaZkClient) -> Result<BTreeMap<BrokerId, LiveBroker>, ZkFailure> {
    Ok(zk
        .get_all_brokers_with_epochs()
        .await?
        .into_iter()
        .map(|(id, (info, epoch))| (id, LiveBroker { info, epoch }))
        .collect())
}

/// A topic's assignment and its partitions' state znodes, `None` if gone.
async fn read_topic(zk: &KafkaZkClient, topic: &str) -> Result<Option<TopicSnapshot>, ZkFailure> {
    let Some(assignment) = zk.get_topic_assignment(topic).await? else {
        return Ok(None);
    };
    let mut partition_states = BTreeMap::new();
    for partition in assignment.partitions.keys() {
        let tp = TopicPartition::new(topic, *partition);
        if let Some(state) = read_partition_state(zk, &tp).await? {
            partition_states.insert(*partition, state);
        }
    }
    Ok(Some(TopicSnapshot {
        assignment,
        partition_states,
    }))
}

async fn read_partition_state(
    zk: &KafkaZkClient,
    tp: &TopicPartition,
) -> Result<Option<Leadership>, ZkFailure> {
    let read: Option<Versioned<LeaderIsrAndControllerEpoch>> =
        zk.get_partition_state(&tp.topic, tp.partition).await?;
    Ok(read.map(|v| Leadership {
        state: v.value,
        zk_version: v.zk_version,
    }))
}

/// A conditional write's outcome: its new zkVersion, or on a version
/// conflict (or an existing znode) the state that won, re-read.
async fn conditional_write(
    zk: &KafkaZkClient,
    tp: &TopicPartition,
    written: Result<i32, ZkError>,
) -> Result<ZkReply, ZkFailure> {
    match written {
        Ok(zk_version) => Ok(ZkReply::Written { zk_version }),
        Err(ZkError::BadVersion { .. } | ZkError::NodeExists { .. }) => Ok(ZkReply::Conflict {
            current: read_partition_state(zk, tp).await?,
        }),
        Err(e) => Err(e.into()),
    }
}

/// A znode to follow, the trigger its changes raise, and how to watch it.
type WatchSpec = (&'static str, fn() -> Trigger, Watch);

#[derive(Debug, Clone, Copy)]
enum Watch {
    Children,
    Exists,
}

/// Sets the watch, queues `trigger` (so a change between two watches is
/// never missed), waits for the watch to fire, and again — until the
/// session ends or the controller stops.
async fn watch_loop(
    zk: KafkaZkClient,
    path: String,
    kind: Watch,
    trigger: impl Fn() -> Trigger,
    triggers: mpsc::UnboundedSender<Trigger>,
) {
    // Unlimited while the session lives.
    let retries = Backoff::fixed(WATCH_RETRY_BACKOFF).start();
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
                retries.pause().await;
                continue;
            }
        };
        if triggers.send(trigger()).is_err() {
            return;
        }
        let fired = watcher.changed().await;
        if fired.event_type == EventType::Session && fired.session_state.is_terminated() {
            return;
        }
    }
}
