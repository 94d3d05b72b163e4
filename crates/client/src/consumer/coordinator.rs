//! The consumer's side of the group protocol (Kafka's `ConsumerCoordinator`
//! and `AbstractCoordinator`): finding the group's coordinator, joining the
//! group, running the assignor when elected leader, committing offsets and
//! reading them back, and leaving.
//!
//! A rebalance, as the member sees it (eager protocol, Kafka 2.8's default):
//!
//! ```text
//! poll: rejoin needed (new member, subscription changed, or the heartbeat
//!       saw REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID)
//!   -> commit the positions (enable.auto.commit), give up every partition
//!   -> JoinGroup  (answered MEMBER_ID_REQUIRED once: again with that id)
//!      the leader gets every member's subscription, asks Metadata for the
//!      partition counts and runs the assignor
//!   -> SyncGroup  (the leader's carries every member's assignment)
//!   -> stable: the heartbeat starts; the poll looks up the committed offset
//!      of each assigned partition (OffsetFetch)
//! ```
//!
//! JoinGroup waits until every member has rejoined, up to the rebalance
//! timeout (`max.poll.interval.ms`), so join and sync run as a task of their
//! own on their own connection: a poll waits for it no longer than its own
//! timeout and the next poll picks it up where it is. Commits and offset
//! lookups use a third connection, bounded by `request.timeout.ms`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use log::{debug, warn};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::assignor::{self, MemberSubscription};
use super::config::{AssignmentStrategy, ConsumerConfig, IsolationLevel};
use super::heartbeat::{self, HeartbeatSettings};
use super::subscription::Position;
use super::ConsumerError;
use crate::versions::{
    FIND_COORDINATOR_VERSION, GROUP_KEY_TYPE, JOIN_GROUP_VERSION, LEAVE_GROUP_VERSION,
    METADATA_VERSION, OFFSET_COMMIT_VERSION, OFFSET_FETCH_VERSION, SYNC_GROUP_VERSION,
};
use crate::{BrokerConnection, ClientError, NetworkClient};
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::api::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse,
};
use gregor_protocol::api::leave_group::{LeaveGroupRequest, MemberIdentity};
use gregor_protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
use gregor_protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use gregor_protocol::api::sync_group::{SyncGroupRequest, SyncGroupRequestAssignment};
use gregor_protocol::consumer_protocol::CONSUMER_PROTOCOL_TYPE;
use gregor_protocol::consumer_protocol::{Assignment, Subscription};
use gregor_protocol::TopicPartition;
use gregor_protocol::{ErrorCode, Request};
use gregor_runtime::Backoff;

/// How much longer than the rebalance timeout a JoinGroup may take to be
/// answered (Kafka's `JOIN_GROUP_TIMEOUT_LAPSE`).
const JOIN_GROUP_TIMEOUT_LAPSE: Duration = Duration::from_secs(5);

/// The group's coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CoordinatorNode {
    pub node: i32,
    pub address: String,
}

/// A member's place in one generation of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Generation {
    pub id: i32,
    pub member_id: String,
    pub protocol: Option<String>,
}

impl Generation {
    /// Not a member: what commits outside any generation carry.
    fn none() -> Self {
        Generation {
            id: -1,
            member_id: String::new(),
            protocol: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MemberState {
    /// Not in the group (yet, or any more).
    Unjoined,
    /// JoinGroup or SyncGroup under way.
    Rebalancing,
    /// Has an assignment; heartbeats flow.
    Stable,
}

/// What the poll and the heartbeat task share.
#[derive(Debug)]
pub(super) struct GroupState {
    pub coordinator: Option<CoordinatorNode>,
    pub generation: Generation,
    pub member: MemberState,
    /// Set by the heartbeat when the group rebalances.
    pub rejoin_needed: bool,
    /// When the application last called poll (for `max.poll.interval.ms`).
    pub last_poll: Instant,
}

impl GroupState {
    /// Forgets the member id and generation: the next join is a new
    /// member's.
    pub(super) fn reset_generation(&mut self) {
        self.generation = Generation::none();
        self.member = MemberState::Unjoined;
        self.rejoin_needed = true;
    }

    /// The coordinator `node` failed us: look it up again (unless another
    /// one is already known).
    pub(super) fn coordinator_unreachable(&mut self, node: i32) {
        if self.coordinator.as_ref().is_some_and(|c| c.node == node) {
            debug!("group coordinator {node} is unavailable or moved: looking it up again");
            self.coordinator = None;
        }
    }

    /// The coordinator said it is not (or no longer) the coordinator.
    pub(super) fn forget_coordinator(&mut self) {
        if let Some(node) = self.coordinator.as_ref().map(|c| c.node) {
            self.coordinator_unreachable(node);
        }
    }
}

/// Locks the shared state; a panic elsewhere while it was held leaves it
/// usable (every update is a plain assignment).
pub(super) fn lock(shared: &Mutex<GroupState>) -> MutexGuard<'_, GroupState> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a join attempt did not end in an assignment.
#[derive(Debug)]
enum JoinFailure {
    /// The coordinator is gone or moved: look it up again.
    Coordinator(String),
    /// Try again after `retry.backoff.ms`.
    Retry(ErrorCode),
    /// Join again as a new member.
    ResetMember(ErrorCode),
    /// The group cannot be joined as configured.
    Fatal(ConsumerError),
}

/// The end of a join task: the member id it ended with (kept even on
/// failure: the coordinator may have handed one out) and what came of it.
struct JoinAttempt {
    member_id: String,
    result: Result<(Generation, Assignment), JoinFailure>,
}

/// What the join task needs.
#[derive(Debug, Clone)]
struct JoinParams {
    group_id: String,
    coordinator: CoordinatorNode,
    client_id: String,
    request_timeout: Duration,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    rebalance_timeout: Duration,
    member_id: String,
    subscription: Bytes,
    strategies: Vec<AssignmentStrategy>,
}

/// The consumer's group membership and offset storage.
pub(super) struct ConsumerCoordinator {
    group_id: String,
    client_id: String,
    request_timeout: Duration,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    retry_backoff: Duration,
    strategies: Vec<AssignmentStrategy>,
    isolation_level: IsolationLevel,
    shared: Arc<Mutex<GroupState>>,
    /// For commits, offset lookups and leaving, with the coordinator's id.
    connection: Option<(i32, BrokerConnection)>,
    heartbeat: HeartbeatSettings,
    /// The heartbeat task, started with the first join.
    heartbeat_task: Option<JoinHandle<()>>,
    join: Option<JoinHandle<JoinAttempt>>,
    /// The topics of the subscription the current generation was joined with.
    joined_topics: Option<BTreeSet<String>>,
    /// No lookup or join before this, after a failure.
    backoff_until: Option<Instant>,
}

impl Drop for ConsumerCoordinator {
    fn drop(&mut self) {
        if let Some(heartbeat) = &self.heartbeat_task {
            heartbeat.abort();
        }
        if let Some(join) = &self.join {
            join.abort();
        }
    }
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

impl ConsumerCoordinator {
    /// A coordinator for `group_id`.
    pub(super) fn new(group_id: String, config: &ConsumerConfig) -> Self {
        let shared = Arc::new(Mutex::new(GroupState {
            coordinator: None,
            generation: Generation::none(),
            member: MemberState::Unjoined,
            rejoin_needed: false,
            last_poll: Instant::now(),
        }));
        ConsumerCoordinator {
            heartbeat: HeartbeatSettings {
                group_id: group_id.clone(),
                client_id: config.client.client_id.clone(),
                request_timeout: config.client.request_timeout,
                interval: config.heartbeat_interval,
                max_poll_interval: config.max_poll_interval,
            },
            heartbeat_task: None,
            group_id,
            client_id: config.client.client_id.clone(),
            request_timeout: config.client.request_timeout,
            session_timeout: config.session_timeout,
            rebalance_timeout: config.max_poll_interval,
            retry_backoff: config.retry_backoff,
            strategies: config.partition_assignment_strategy.clone(),
            isolation_level: config.isolation_level,
            shared,
            connection: None,
            join: None,
            joined_topics: None,
            backoff_until: None,
        }
    }

    /// Notes that the application polled (resets the poll timer of
    /// `max.poll.interval.ms`).
    pub(super) fn record_poll(&self) {
        lock(&self.shared).last_poll = Instant::now();
    }

    /// Whether the member holds a current assignment.
    pub(super) fn is_stable(&self) -> bool {
        let state = lock(&self.shared);
        state.member == MemberState::Stable && !state.rejoin_needed
    }

    /// Whether the member belongs to a generation (its commits count), even
    /// if a rebalance has begun.
    pub(super) fn is_member_of_generation(&self) -> bool {
        lock(&self.shared).member == MemberState::Stable
    }

    fn backing_off(&self) -> bool {
        self.backoff_until.is_some_and(|t| Instant::now() < t)
    }

    fn back_off(&mut self) {
        self.backoff_until = Some(Instant::now() + self.retry_backoff);
    }

    /// Finds the coordinator if it is not known, retrying until
    /// `deadline`. False if it is still unknown then.
    pub(super) async fn ensure_coordinator(
        &mut self,
        network: &mut NetworkClient,
        deadline: Instant,
    ) -> Result<bool, ConsumerError> {
        loop {
            if lock(&self.shared).coordinator.is_some() {
                return Ok(true);
            }
            if self.backing_off() {
                let until = self.backoff_until.unwrap_or_else(Instant::now);
                if until >= deadline {
                    return Ok(false);
                }
                tokio::time::sleep_until(until).await;
            }
            match self.find_coordinator(network).await? {
                Some(coordinator) => {
                    debug!(
                        "group {} is coordinated by broker {} at {}",
                        self.group_id, coordinator.node, coordinator.address
                    );
                    lock(&self.shared).coordinator = Some(coordinator);
                    self.backoff_until = None;
                }
                None => {
                    self.back_off();
                    if Instant::now() >= deadline {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// One FindCoordinator; `None` for a retriable failure.
    async fn find_coordinator(
        &self,
        network: &mut NetworkClient,
    ) -> Result<Option<CoordinatorNode>, ConsumerError> {
        let request = FindCoordinatorRequest {
            key: self.group_id.clone(),
            key_type: GROUP_KEY_TYPE,
            ..Default::default()
        };
        let response = match network
            .send_to_any(FIND_COORDINATOR_VERSION, &request)
            .await
        {
            Ok(response) => response,
            Err(e) => {
                debug!("FindCoordinator failed: {e}");
                return Ok(None);
            }
        };
        match ErrorCode::from_code(response.error_code) {
            ErrorCode::NONE => Ok(Some(CoordinatorNode {
                node: response.node_id,
                address: format!("{}:{}", response.host, response.port),
            })),
            code if code.is_retriable() => {
                debug!("FindCoordinator answered {code:?}");
                Ok(None)
            }
            code => Err(ConsumerError::Group {
                api: "FindCoordinator",
                code,
            }),
        }
    }

    /// Whether the member must (re)join to consume `topics`.
    pub(super) fn needs_join(&self, topics: &BTreeSet<String>) -> bool {
        if self.join.is_some() {
            return false;
        }
        let state = lock(&self.shared);
        state.member != MemberState::Stable
            || state.rejoin_needed
            || self.joined_topics.as_ref() != Some(topics)
    }

    pub(super) fn join_in_progress(&self) -> bool {
        self.join.is_some()
    }

    /// Starts joining with a subscription to `topics`, if the coordinator is
    /// known and no backoff is under way. The caller has already given up
    /// its partitions.
    pub(super) fn start_join(&mut self, topics: &BTreeSet<String>) -> Result<(), ConsumerError> {
        if self.join.is_some() || self.backing_off() {
            return Ok(());
        }
        let mut state = lock(&self.shared);
        let Some(coordinator) = state.coordinator.clone() else {
            return Ok(());
        };
        let subscription = Subscription::new(topics.iter().cloned()).encode()?;
        let params = JoinParams {
            group_id: self.group_id.clone(),
            coordinator,
            client_id: self.client_id.clone(),
            request_timeout: self.request_timeout,
            session_timeout_ms: millis_i32(self.session_timeout),
            rebalance_timeout_ms: millis_i32(self.rebalance_timeout),
            rebalance_timeout: self.rebalance_timeout,
            member_id: state.generation.member_id.clone(),
            subscription,
            strategies: self.strategies.clone(),
        };
        state.member = MemberState::Rebalancing;
        state.rejoin_needed = false;
        drop(state);
        if self.heartbeat_task.is_none() {
            let shared = Arc::clone(&self.shared);
            self.heartbeat_task = Some(heartbeat::spawn(self.heartbeat.clone(), shared));
        }
        debug!("joining group {} for topics {topics:?}", self.group_id);
        self.joined_topics = Some(topics.clone());
        self.join = Some(tokio::spawn(async move {
            let mut member_id = params.member_id.clone();
            let result = join_and_sync(&params, &mut member_id).await;
            JoinAttempt { member_id, result }
        }));
        Ok(())
    }

    /// Waits for the join under way until `deadline`; the partitions
    /// assigned if it completed with an assignment.
    pub(super) async fn poll_join(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<Vec<TopicPartition>>, ConsumerError> {
        let Some(task) = self.join.as_mut() else {
            return Ok(None);
        };
        let Ok(joined) = tokio::time::timeout_at(deadline, task).await else {
            return Ok(None);
        };
        self.join = None;
        let attempt = joined.map_err(|e| ConsumerError::Internal(format!("join task: {e}")))?;
        let mut state = lock(&self.shared);
        state.generation.member_id = attempt.member_id;
        let failure = match attempt.result {
            Ok((generation, assignment)) => {
                debug!(
                    "joined group {} in generation {} as {}: assigned {:?}",
                    self.group_id, generation.id, generation.member_id, assignment.partitions
                );
                state.generation = generation;
                state.member = MemberState::Stable;
                return Ok(Some(assignment.partitions));
            }
            Err(failure) => failure,
        };
        state.member = MemberState::Unjoined;
        state.rejoin_needed = true;
        match failure {
            JoinFailure::Coordinator(why) => {
                debug!("joining group {}: {why}", self.group_id);
                state.forget_coordinator();
            }
            JoinFailure::Retry(code) => debug!("joining group {}: {code:?}", self.group_id),
            JoinFailure::ResetMember(code) => {
                debug!(
                    "joining group {}: {code:?}; joining as a new member",
                    self.group_id
                );
                state.reset_generation();
            }
            JoinFailure::Fatal(e) => return Err(e),
        }
        drop(state);
        self.back_off();
        Ok(None)
    }

    /// Sends `request` to the coordinator, connecting if needed. A failed
    /// exchange drops the connection and marks the coordinator unknown.
    async fn send<R: Request>(
        &mut self,
        version: i16,
        request: &R,
    ) -> Result<R::Response, ClientError> {
        let coordinator = lock(&self.shared)
            .coordinator
            .clone()
            .ok_or_else(|| ClientError::NoBrokerReachable("group coordinator unknown".into()))?;
        let mut connection = match self.connection.take() {
            Some((node, connection)) if node == coordinator.node => connection,
            _ => {
                let connected = BrokerConnection::connect(
                    &coordinator.address,
                    &self.client_id,
                    self.request_timeout,
                )
                .await;
                match connected {
                    Ok(connection) => connection,
                    Err(e) => {
                        lock(&self.shared).coordinator_unreachable(coordinator.node);
                        return Err(e);
                    }
                }
            }
        };
        let result = connection.send(version, request).await;
        match &result {
            Ok(_) => self.connection = Some((coordinator.node, connection)),
            Err(_) => lock(&self.shared).coordinator_unreachable(coordinator.node),
        }
        result
    }

    /// Commits `offsets` (OffsetCommit), as the current generation's
    /// member or, outside a group generation, as a simple offset store;
    /// retries retriable failures until `deadline`.
    pub(super) async fn commit(
        &mut self,
        network: &mut NetworkClient,
        offsets: &BTreeMap<TopicPartition, Position>,
        deadline: Instant,
    ) -> Result<(), ConsumerError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut retries = Backoff::fixed(self.retry_backoff)
            .starting_before(deadline)
            .start();
        loop {
            let retry = self.try_commit(network, offsets, deadline).await?;
            let Some(why) = retry else {
                return Ok(());
            };
            if !retries.allows_another() {
                return Err(ConsumerError::Timeout(format!("committing offsets: {why}")));
            }
            retries.pause().await;
        }
    }

    /// One commit attempt: `Some(reason)` if it may be retried.
    async fn try_commit(
        &mut self,
        network: &mut NetworkClient,
        offsets: &BTreeMap<TopicPartition, Position>,
        deadline: Instant,
    ) -> Result<Option<String>, ConsumerError> {
        if !self.ensure_coordinator(network, deadline).await? {
            return Ok(Some("group coordinator not found".into()));
        }
        let generation = {
            let state = lock(&self.shared);
            match state.member {
                MemberState::Stable => state.generation.clone(),
                MemberState::Unjoined if self.joined_topics.is_none() => Generation::none(),
                _ => {
                    return Err(ConsumerError::CommitFailed(
                        ErrorCode::REBALANCE_IN_PROGRESS,
                    ))
                }
            }
        };
        let request = OffsetCommitRequest {
            group_id: self.group_id.clone(),
            generation_id: generation.id,
            member_id: generation.member_id.clone(),
            group_instance_id: None,
            topics: by_topic(offsets.iter(), |(tp, position)| {
                (
                    tp,
                    OffsetCommitRequestPartition {
                        partition_index: tp.partition,
                        committed_offset: position.offset,
                        committed_leader_epoch: position.leader_epoch.unwrap_or(-1),
                        committed_metadata: Some(String::new()),
                        ..Default::default()
                    },
                )
            })
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic { name, partitions })
            .collect(),
            ..Default::default()
        };
        let response = match self.send(OFFSET_COMMIT_VERSION, &request).await {
            Ok(response) => response,
            Err(e) => return Ok(Some(e.to_string())),
        };
        let mut retry = None;
        for partition in response.topics.iter().flat_map(|t| &t.partitions) {
            match ErrorCode::from_code(partition.error_code) {
                ErrorCode::NONE => {}
                code @ (ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR) => {
                    lock(&self.shared).forget_coordinator();
                    retry = Some(format!("{code:?}"));
                }
                code @ (ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION) => {
                    lock(&self.shared).reset_generation();
                    return Err(ConsumerError::CommitFailed(code));
                }
                ErrorCode::REBALANCE_IN_PROGRESS => {
                    lock(&self.shared).rejoin_needed = true;
                    return Err(ConsumerError::CommitFailed(
                        ErrorCode::REBALANCE_IN_PROGRESS,
                    ));
                }
                code if code.is_retriable() => retry = Some(format!("{code:?}")),
                code => {
                    return Err(ConsumerError::Group {
                        api: "OffsetCommit",
                        code,
                    })
                }
            }
        }
        Ok(retry)
    }

    /// The committed offsets of `partitions` (OffsetFetch); `None` in the
    /// map for a partition the group has no offset for. `Ok(None)` if the
    /// coordinator cannot answer yet (not found, loading, unstable
    /// offsets): ask again at the next poll.
    pub(super) async fn fetch_committed(
        &mut self,
        network: &mut NetworkClient,
        partitions: &[TopicPartition],
        deadline: Instant,
    ) -> Result<Option<BTreeMap<TopicPartition, Option<Position>>>, ConsumerError> {
        if !self.ensure_coordinator(network, deadline).await? {
            return Ok(None);
        }
        let request = OffsetFetchRequest {
            group_id: self.group_id.clone(),
            topics: Some(
                by_topic(partitions.iter(), |tp| (tp, tp.partition))
                    .into_iter()
                    .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                        name,
                        partition_indexes,
                    })
                    .collect(),
            ),
            // Kafka's consumer asks for stable offsets (KIP-447) when it
            // reads committed data only.
            require_stable: self.isolation_level == IsolationLevel::ReadCommitted,
        };
        let response = match self.send(OFFSET_FETCH_VERSION, &request).await {
            Ok(response) => response,
            Err(e) => {
                debug!("OffsetFetch failed: {e}");
                return Ok(None);
            }
        };
        match ErrorCode::from_code(response.error_code) {
            ErrorCode::NONE => {}
            code @ (ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR) => {
                debug!("OffsetFetch answered {code:?}");
                lock(&self.shared).forget_coordinator();
                return Ok(None);
            }
            code if code.is_retriable() => {
                debug!("OffsetFetch answered {code:?}");
                return Ok(None);
            }
            code => {
                return Err(ConsumerError::Group {
                    api: "OffsetFetch",
                    code,
                })
            }
        }
        let mut committed = BTreeMap::new();
        for topic in response.topics {
            for p in topic.partitions {
                let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                match ErrorCode::from_code(p.error_code) {
                    ErrorCode::NONE => {}
                    code if code.is_retriable() => {
                        debug!("OffsetFetch of {tp} answered {code:?}");
                        return Ok(None);
                    }
                    code => {
                        return Err(ConsumerError::Group {
                            api: "OffsetFetch",
                            code,
                        })
                    }
                }
                let position = (p.committed_offset >= 0).then_some(Position {
                    offset: p.committed_offset,
                    leader_epoch: Some(p.committed_leader_epoch).filter(|e| *e >= 0),
                });
                committed.insert(tp, position);
            }
        }
        Ok(Some(committed))
    }

    /// Leaves the group (LeaveGroup), stopping any join under way and the
    /// heartbeat. Best effort: a member that cannot say goodbye is removed
    /// when its session times out.
    pub(super) async fn leave(&mut self) {
        if let Some(heartbeat) = self.heartbeat_task.take() {
            heartbeat.abort();
        }
        if let Some(join) = self.join.take() {
            join.abort();
        }
        let (coordinator, member_id) = {
            let mut state = lock(&self.shared);
            let member_id = state.generation.member_id.clone();
            state.reset_generation();
            (state.coordinator.clone(), member_id)
        };
        if let Some(coordinator) = coordinator {
            leave_group(
                &self.group_id,
                &self.client_id,
                self.request_timeout,
                &coordinator.address,
                &member_id,
            )
            .await;
        }
    }
}

/// Groups `items` by topic, in the order met, mapping each to a topic name
/// and an entry.
fn by_topic<'a, T, E>(
    items: impl Iterator<Item = T>,
    entry: impl Fn(T) -> (&'a TopicPartition, E),
) -> Vec<(String, Vec<E>)> {
    let mut topics: Vec<(String, Vec<E>)> = Vec::new();
    for item in items {
        let (tp, e) = entry(item);
        match topics.last_mut() {
            Some((name, entries)) if *name == tp.topic => entries.push(e),
            _ => topics.push((tp.topic.clone(), vec![e])),
        }
    }
    topics
}

/// Sends LeaveGroup for `member_id` on a connection of its own (best
/// effort: the session timeout removes the member anyway if this fails).
pub(super) async fn leave_group(
    group_id: &str,
    client_id: &str,
    request_timeout: Duration,
    address: &str,
    member_id: &str,
) {
    if member_id.is_empty() {
        return;
    }
    let request = LeaveGroupRequest {
        group_id: group_id.to_owned(),
        members: vec![MemberIdentity {
            member_id: member_id.to_owned(),
            group_instance_id: None,
        }],
        ..Default::default()
    };
    let result = async {
        let mut conn = BrokerConnection::connect(address, client_id, request_timeout).await?;
        conn.send(LEAVE_GROUP_VERSION, &request).await
    }
    .await;
    match result.map(|r| ErrorCode::from_code(r.error_code)) {
        Ok(ErrorCode::NONE) => debug!("member {member_id} left group {group_id}"),
        // Already removed (session expired, or a rebalance dropped it).
        Ok(ErrorCode::UNKNOWN_MEMBER_ID) => debug!("LeaveGroup: {member_id} was not a member"),
        Ok(code) => warn!("LeaveGroup of {member_id} answered {code:?}"),
        Err(e) => warn!("LeaveGroup of {member_id} failed: {e}"),
    }
}

/// Classifies a JoinGroup or SyncGroup error as Kafka's coordinator
/// response handlers do.
fn join_failure(api: &'static str, code: ErrorCode) -> JoinFailure {
    match code {
        ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
            JoinFailure::Coordinator(format!("{api} answered {code:?}"))
        }
        ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION => {
            JoinFailure::ResetMember(code)
        }
        code if code.is_retriable() || code == ErrorCode::REBALANCE_IN_PROGRESS => {
            JoinFailure::Retry(code)
        }
        code => JoinFailure::Fatal(ConsumerError::Group { api, code }),
    }
}

/// JoinGroup then SyncGroup, on a connection of their own whose timeout
/// covers the rebalance timeout.
async fn join_and_sync(
    p: &JoinParams,
    member_id: &mut String,
) -> Result<(Generation, Assignment), JoinFailure> {
    let network = |e: ClientError| JoinFailure::Coordinator(e.to_string());
    let timeout = p.rebalance_timeout + JOIN_GROUP_TIMEOUT_LAPSE;
    let connect = BrokerConnection::connect(&p.coordinator.address, &p.client_id, timeout);
    let mut conn = tokio::time::timeout(p.request_timeout, connect)
        .await
        .map_err(|_| JoinFailure::Coordinator("connect timed out".into()))?
        .map_err(network)?;

    let mut joined = None;
    // A new member is answered MEMBER_ID_REQUIRED with the id to join with
    // (KIP-394): one more round, then it must be in.
    for _ in 0..2 {
        let request = JoinGroupRequest {
            group_id: p.group_id.clone(),
            session_timeout_ms: p.session_timeout_ms,
            rebalance_timeout_ms: p.rebalance_timeout_ms,
            member_id: member_id.clone(),
            group_instance_id: None,
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_owned(),
            protocols: p
                .strategies
                .iter()
                .map(|s| JoinGroupRequestProtocol {
                    name: s.protocol_name().to_owned(),
                    metadata: p.subscription.clone(),
                })
                .collect(),
        };
        let response = conn
            .send(JOIN_GROUP_VERSION, &request)
            .await
            .map_err(network)?;
        match ErrorCode::from_code(response.error_code) {
            ErrorCode::NONE => {
                joined = Some(response);
                break;
            }
            ErrorCode::MEMBER_ID_REQUIRED => {
                debug!("group {} gave member id {}", p.group_id, response.member_id);
                *member_id = response.member_id;
            }
            code => return Err(join_failure("JoinGroup", code)),
        }
    }
    let joined = joined.ok_or(JoinFailure::Retry(ErrorCode::MEMBER_ID_REQUIRED))?;
    *member_id = joined.member_id.clone();
    let protocol = joined.protocol_name.clone().unwrap_or_default();

    let assignments = if joined.leader == joined.member_id {
        leader_assignments(&mut conn, p, &joined, &protocol).await?
    } else {
        Vec::new()
    };
    let request = SyncGroupRequest {
        group_id: p.group_id.clone(),
        generation_id: joined.generation_id,
        member_id: member_id.clone(),
        group_instance_id: None,
        protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_owned()),
        protocol_name: Some(protocol.clone()),
        assignments,
    };
    let response = conn
        .send(SYNC_GROUP_VERSION, &request)
        .await
        .map_err(network)?;
    match ErrorCode::from_code(response.error_code) {
        ErrorCode::NONE => {}
        code => return Err(join_failure("SyncGroup", code)),
    }
    let assignment = Assignment::decode(&response.assignment)
        .map_err(|e| JoinFailure::Fatal(ConsumerError::Protocol(e)))?;
    let generation = Generation {
        id: joined.generation_id,
        member_id: member_id.clone(),
        protocol: Some(protocol),
    };
    Ok((generation, assignment))
}

/// The leader's work: every member's subscription, the partition count of
/// every subscribed topic (Metadata, asked of the coordinator), and the
/// assignor's result, encoded for SyncGroup.
async fn leader_assignments(
    conn: &mut BrokerConnection,
    p: &JoinParams,
    joined: &JoinGroupResponse,
    protocol: &str,
) -> Result<Vec<SyncGroupRequestAssignment>, JoinFailure> {
    let fatal = |e: ConsumerError| JoinFailure::Fatal(e);
    let strategy = AssignmentStrategy::from_protocol_name(protocol)
        .filter(|s| p.strategies.contains(s))
        .ok_or_else(|| fatal(ConsumerError::UnknownAssignor(protocol.to_owned())))?;
    let members = joined
        .members
        .iter()
        .map(|m| {
            Ok(MemberSubscription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                topics: Subscription::decode(&m.metadata)?.topics,
            })
        })
        .collect::<Result<Vec<_>, gregor_protocol::consumer_protocol::ProtocolError>>()
        .map_err(|e| fatal(ConsumerError::Protocol(e)))?;
    let topics: BTreeSet<&String> = members.iter().flat_map(|m| &m.topics).collect();
    let request = MetadataRequest {
        topics: Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic { name: (*t).clone() })
                .collect(),
        ),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let metadata = conn
        .send(METADATA_VERSION, &request)
        .await
        .map_err(|e| JoinFailure::Coordinator(e.to_string()))?;
    let counts: BTreeMap<String, i32> = metadata
        .topics
        .iter()
        .filter(|t| t.error_code == ErrorCode::NONE.code())
        .map(|t| (t.name.clone(), t.partitions.len() as i32))
        .collect();
    for topic in &topics {
        if !counts.contains_key(*topic) {
            warn!("subscribed topic {topic} has no metadata: assigning none of it");
        }
    }
    let assignment = assignor::assign(strategy, &counts, &members);
    debug!("group {} leader assigned {assignment:?}", p.group_id);
    assignment
        .into_iter()
        .map(|(member_id, partitions)| {
            let bytes = Assignment {
                partitions,
                user_data: None,
            }
            .encode()
            .map_err(|e| fatal(ConsumerError::Protocol(e)))?;
            Ok(SyncGroupRequestAssignment {
                member_id,
                assignment: bytes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_errors_are_handled_as_kafka_does() {
        assert!(matches!(
            join_failure("JoinGroup", ErrorCode::NOT_COORDINATOR),
            JoinFailure::Coordinator(_)
        ));
        assert!(matches!(
            join_failure("SyncGroup", ErrorCode::ILLEGAL_GENERATION),
            JoinFailure::ResetMember(_)
        ));
        assert!(matches!(
            join_failure("SyncGroup", ErrorCode::REBALANCE_IN_PROGRESS),
            JoinFailure::Retry(_)
        ));
        assert!(matches!(
            join_failure("JoinGroup", ErrorCode::INCONSISTENT_GROUP_PROTOCOL),
            JoinFailure::Fatal(ConsumerError::Group {
                api: "JoinGroup",
                code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL
            })
        ));
    }

    #[test]
    fn offsets_are_grouped_by_topic_in_order() {
        let tps = [
            TopicPartition::new("a", 0),
            TopicPartition::new("a", 1),
            TopicPartition::new("b", 0),
        ];
        let grouped = by_topic(tps.iter(), |tp| (tp, tp.partition));
        assert_eq!(
            grouped,
            [("a".to_owned(), vec![0, 1]), ("b".to_owned(), vec![0])]
        );
    }
}
