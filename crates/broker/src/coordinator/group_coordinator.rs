//! The group coordinator (Kafka's `GroupCoordinator` with the group cache
//! of its `GroupMetadataManager`): which `__consumer_offsets` partitions
//! this broker coordinates, the groups in them, and the request-level
//! checks before an operation reaches a group.
//!
//! Each group has its own lock and a task that sleeps until the group's
//! next deadline (a session end, a rebalance timeout) and then runs the
//! expiry; every operation wakes it, since it may have moved a deadline.
//! Partitions are loaded on a blocking-pool thread when this broker becomes
//! their leader; until then their groups answer COORDINATOR_LOAD_IN_PROGRESS,
//! and once it stops leading them, NOT_COORDINATOR. Every task of the
//! coordinator runs on its node of the broker's shutdown tree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use ::log::{error, info, warn};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metadata::MetadataCache;
use crate::replica::{LeaderAndIsrPartition, PartitionResults};
use gregor_protocol::BrokerId;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_runtime::{SharedClock, Shutdown};

use super::config::GroupConfig;
use super::group::{GroupMetadata, GroupState, GroupSummary};
use super::load::{read_partition, LoadedPartition};
use super::membership::{
    Ctx, JoinRequest, JoinResult, LeavingMember, SyncRequest, SyncResult, UNKNOWN_MEMBER_ID,
};
use super::offsets::{CommittedOffset, OffsetCommit};
use super::offsets_topic::{OffsetsTopic, PartitionLog};
use super::partition::{partition_for, GROUP_METADATA_TOPIC_NAME};

/// One group and the wake-up of its deadline task.
struct GroupHandle {
    partition: i32,
    group: Mutex<GroupMetadata>,
    changed: Notify,
}

impl GroupHandle {
    fn lock(&self) -> MutexGuard<'_, GroupMetadata> {
        self.group.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// This broker's claim on a partition of `__consumer_offsets`, in the
/// leader epoch the controller gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ownership {
    leader_epoch: i32,
    loading: bool,
}

#[derive(Default)]
struct State {
    partitions: HashMap<i32, Ownership>,
    /// The newest leader epoch heard of per partition, leading or not: a
    /// LeaderAndIsr older than it changes nothing (Kafka's
    /// `epochForPartitionId`).
    epochs: HashMap<i32, i32>,
    groups: HashMap<String, Arc<GroupHandle>>,
}

impl State {
    /// Records `leader_epoch` for `partition`; `false` if a newer one was
    /// already seen.
    fn advance_epoch(&mut self, partition: i32, leader_epoch: i32) -> bool {
        let newest = self.epochs.entry(partition).or_insert(leader_epoch);
        if *newest > leader_epoch {
            return false;
        }
        *newest = leader_epoch;
        true
    }
}

/// A partition of `__consumer_offsets` in a LeaderAndIsr: whether this
/// broker now leads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsPartitionLeadership {
    pub topic_partition: TopicPartition,
    pub leader_epoch: i32,
    pub is_leader: bool,
}

impl OffsetsPartitionLeadership {
    /// The `__consumer_offsets` partitions among a LeaderAndIsr's.
    pub fn of(local: BrokerId, partitions: &[LeaderAndIsrPartition]) -> Vec<Self> {
        partitions
            .iter()
            .filter(|p| p.topic_partition.topic == GROUP_METADATA_TOPIC_NAME)
            .map(|p| OffsetsPartitionLeadership {
                topic_partition: p.topic_partition.clone(),
                leader_epoch: p.leader_epoch,
                is_leader: p.leader == local,
            })
            .collect()
    }
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOverview {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

pub struct GroupCoordinator {
    config: GroupConfig,
    topic: Arc<dyn OffsetsTopic>,
    metadata: Arc<MetadataCache>,
    /// Group state timestamps and offset commit and expiry times.
    clock: SharedClock,
    state: Mutex<State>,
    /// The coordinator's node of the broker's shutdown tree, which its
    /// tasks run on. Once it is stopped, everything answers
    /// COORDINATOR_NOT_AVAILABLE.
    tasks: Shutdown,
}

impl GroupCoordinator {
    pub fn new(
        config: GroupConfig,
        topic: Arc<dyn OffsetsTopic>,
        metadata: Arc<MetadataCache>,
        clock: SharedClock,
        tasks: Shutdown,
    ) -> Arc<Self> {
        Arc::new(GroupCoordinator {
            config,
            topic,
            metadata,
            clock,
            state: Mutex::new(State::default()),
            tasks,
        })
    }

    /// Starts the periodic offset expiry (`offsets.retention.check.interval.ms`);
    /// it stops when the coordinator is shut down or dropped.
    pub fn start(self: &Arc<Self>) {
        // Weak, so that the task does not keep the coordinator alive: one
        // dropped without a shutdown (in tests) stops it too.
        let coordinator = Arc::downgrade(self);
        let interval = self.config.offsets_retention_check_interval;
        self.tasks.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(coordinator) = coordinator.upgrade() else {
                    return;
                };
                coordinator.expire_offsets();
            }
        });
    }

    /// Stops the coordinator's tasks, then unloads every group, answering
    /// waiting requests NOT_COORDINATOR.
    pub async fn shutdown(&self) {
        self.tasks.stop().await;
        let groups: Vec<Arc<GroupHandle>> = {
            let mut state = self.lock_state();
            state.partitions.clear();
            state.groups.drain().map(|(_, g)| g).collect()
        };
        for handle in groups {
            self.run(&handle, |group, ctx| group.unload(ctx));
        }
    }

    /// How many partitions `__consumer_offsets` has: as created, else as
    /// `offsets.topic.num.partitions` says it will be.
    pub fn offsets_partition_count(&self) -> u32 {
        self.metadata
            .snapshot()
            .topic(GROUP_METADATA_TOPIC_NAME)
            .map(|t| u32::try_from(t.partitions.len()).unwrap_or(u32::MAX))
            .filter(|n| *n > 0)
            .unwrap_or(self.config.offsets_topic_num_partitions)
    }

    /// The `__consumer_offsets` partition coordinating `group_id`.
    pub fn partition_for(&self, group_id: &str) -> i32 {
        partition_for(group_id, self.offsets_partition_count())
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kafka's `validateGroupStatus` and group lookup: the group, if this
    /// broker coordinates it (created when missing if `create`). An empty
    /// group id is valid only where `allow_empty_id` (Kafka allows it for
    /// offsets and admin requests).
    fn group(
        self: &Arc<Self>,
        group_id: &str,
        allow_empty_id: bool,
        create: bool,
    ) -> Result<Option<Arc<GroupHandle>>, ErrorCode> {
        if group_id.is_empty() && !allow_empty_id {
            return Err(ErrorCode::INVALID_GROUP_ID);
        }
        if self.tasks.is_stopped() {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let partition = self.partition_for(group_id);
        let mut state = self.lock_state();
        match state.partitions.get(&partition) {
            None => return Err(ErrorCode::NOT_COORDINATOR),
            Some(o) if o.loading => return Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            Some(_) => {}
        }
        if let Some(handle) = state.groups.get(group_id) {
            return Ok(Some(Arc::clone(handle)));
        }
        if !create {
            return Ok(None);
        }
        let handle = self.add_group(
            &mut state,
            partition,
            GroupMetadata::new(group_id.to_owned(), self.clock.milliseconds()),
        );
        Ok(Some(handle))
    }

    fn add_group(
        self: &Arc<Self>,
        state: &mut State,
        partition: i32,
        group: GroupMetadata,
    ) -> Arc<GroupHandle> {
        let handle = Arc::new(GroupHandle {
            partition,
            group: Mutex::new(group),
            changed: Notify::new(),
        });
        let id = handle.lock().group_id.clone();
        state.groups.insert(id, Arc::clone(&handle));
        self.spawn_deadline_task(Arc::clone(&handle));
        handle
    }

    /// The group's deadline task: sleeps until the next deadline (or a
    /// change), runs the expiry, and ends with the group.
    fn spawn_deadline_task(self: &Arc<Self>, handle: Arc<GroupHandle>) {
        let coordinator: Weak<Self> = Arc::downgrade(self);
        self.tasks.spawn(async move {
            loop {
                let deadline = {
                    let group = handle.lock();
                    if group.is(GroupState::Dead) {
                        return;
                    }
                    group.next_deadline()
                };
                let changed = handle.changed.notified();
                match deadline {
                    Some(deadline) => tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => continue,
                    },
                    None => {
                        changed.await;
                        continue;
                    }
                }
                let Some(coordinator) = coordinator.upgrade() else {
                    return;
                };
                coordinator.run(&handle, |group, ctx| group.expire(ctx));
            }
        });
    }

    /// Runs `op` on the locked group with the current time and its
    /// partition's log, then wakes its deadline task.
    fn run<R>(
        &self,
        handle: &GroupHandle,
        op: impl FnOnce(&mut GroupMetadata, &Ctx<'_>) -> R,
    ) -> R {
        let log = PartitionLog {
            topic: &*self.topic,
            partition: handle.partition,
        };
        let result = {
            let mut group = handle.lock();
            let ctx = Ctx {
                now: Instant::now(),
                now_ms: self.clock.milliseconds(),
                config: &self.config,
                log: &log,
            };
            op(&mut group, &ctx)
        };
        handle.changed.notify_one();
        result
    }

    /// Forgets a group that became Dead (deleted, or expired empty).
    fn remove_if_dead(&self, handle: &Arc<GroupHandle>) {
        // Never both locks at once: the coordinator's is taken first
        // everywhere else.
        let group_id = {
            let group = handle.lock();
            if !group.is(GroupState::Dead) {
                return;
            }
            group.group_id.clone()
        };
        let mut state = self.lock_state();
        if state
            .groups
            .get(&group_id)
            .is_some_and(|current| Arc::ptr_eq(current, handle))
        {
            state.groups.remove(&group_id);
        }
    }

    /// JoinGroup: answered when the member's rebalance completes (or at
    /// once with an error or MEMBER_ID_REQUIRED).
    pub async fn join_group(self: &Arc<Self>, group_id: &str, request: JoinRequest) -> JoinResult {
        let member_id = request.member_id.clone();
        let timeouts = self.config.min_session_timeout..=self.config.max_session_timeout;
        if let Err(code) = self.group(group_id, false, false) {
            return JoinResult::error(&member_id, code);
        }
        if !timeouts.contains(&request.session_timeout) {
            return JoinResult::error(&member_id, ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        // A new member creates the group; a known one must find it.
        let new_member = member_id == UNKNOWN_MEMBER_ID;
        let handle = match self.group(group_id, false, new_member) {
            Err(code) => return JoinResult::error(&member_id, code),
            Ok(None) => return JoinResult::error(&member_id, ErrorCode::UNKNOWN_MEMBER_ID),
            Ok(Some(handle)) => handle,
        };
        let answer = self.run(&handle, |group, ctx| group.join(request, ctx));
        // The answer is only dropped unsent if the group went away.
        answer
            .await
            .unwrap_or_else(|_| JoinResult::error(&member_id, ErrorCode::COORDINATOR_NOT_AVAILABLE))
    }

    /// SyncGroup: answered with the member's assignment once the leader's
    /// is stored.
    pub async fn sync_group(self: &Arc<Self>, group_id: &str, request: SyncRequest) -> SyncResult {
        let handle = match self.group(group_id, false, false) {
            // The rebalance state was lost with the previous coordinator:
            // the member rejoins without looking for this one again.
            Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS) => {
                return SyncResult::error(ErrorCode::REBALANCE_IN_PROGRESS)
            }
            Err(code) => return SyncResult::error(code),
            Ok(None) => return SyncResult::error(ErrorCode::UNKNOWN_MEMBER_ID),
            Ok(Some(handle)) => handle,
        };
        let answer = self.run(&handle, |group, ctx| group.sync(request, ctx));
        answer
            .await
            .unwrap_or_else(|_| SyncResult::error(ErrorCode::COORDINATOR_NOT_AVAILABLE))
    }

    /// Heartbeat: NONE, or what the member must do (rejoin, find the
    /// coordinator again, ...).
    pub fn heartbeat(
        self: &Arc<Self>,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> ErrorCode {
        match self.group(group_id, false, false) {
            // Loading: the member's state will be there; answer blindly.
            Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS) => ErrorCode::NONE,
            Err(code) => code,
            Ok(None) => ErrorCode::UNKNOWN_MEMBER_ID,
            Ok(Some(handle)) => self.run(&handle, |group, ctx| {
                group.heartbeat(member_id, group_instance_id, generation_id, ctx)
            }),
        }
    }

    /// LeaveGroup: each member's outcome, or an error for the request.
    pub fn leave_group(
        self: &Arc<Self>,
        group_id: &str,
        members: &[LeavingMember],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        match self.group(group_id, false, false)? {
            None => Ok(vec![ErrorCode::UNKNOWN_MEMBER_ID; members.len()]),
            Some(handle) => self.run(&handle, |group, ctx| group.leave(members, ctx)),
        }
    }

    /// OffsetCommit: each partition's outcome, in request order, once the
    /// offsets are committed in `__consumer_offsets` (in-sync replicas
    /// included, up to `offsets.commit.timeout.ms`).
    pub async fn commit_offsets(
        self: &Arc<Self>,
        group_id: &str,
        commit: OffsetCommit,
    ) -> Vec<(TopicPartition, ErrorCode)> {
        let refuse = |commit: OffsetCommit, code: ErrorCode| {
            commit
                .offsets
                .into_iter()
                .map(|(tp, _)| (tp, code))
                .collect()
        };
        // Only a consumer outside group management creates a group here;
        // a member of a generation the coordinator does not know is stale.
        let create = commit.generation_id < 0;
        match self.group(group_id, true, create) {
            Err(code) => refuse(commit, code),
            Ok(None) => refuse(commit, ErrorCode::ILLEGAL_GENERATION),
            Ok(Some(handle)) => {
                let outcome = self.run(&handle, |group, ctx| group.commit_offsets(commit, ctx));
                let committed = match &outcome.written {
                    Some(written) => {
                        self.topic
                            .wait_for_commit(written.append.clone(), self.config.commit_timeout)
                            .await
                    }
                    None => Ok(()),
                };
                self.run(&handle, |group, _| {
                    group.complete_offset_commit(outcome, committed)
                })
            }
        }
    }

    /// OffsetFetch: the committed offsets of `partitions` (`None`: all).
    pub fn fetch_offsets(
        self: &Arc<Self>,
        group_id: &str,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<Vec<(TopicPartition, Option<CommittedOffset>)>, ErrorCode> {
        match self.group(group_id, true, false)? {
            Some(handle) => Ok(handle.lock().fetch_offsets(partitions)),
            None => Ok(partitions
                .unwrap_or_default()
                .iter()
                .map(|tp| (tp.clone(), None))
                .collect()),
        }
    }

    /// DescribeGroups for one group; an unknown group is described Dead.
    pub fn describe_group(self: &Arc<Self>, group_id: &str) -> Result<GroupSummary, ErrorCode> {
        Ok(match self.group(group_id, true, false)? {
            Some(handle) => handle.lock().summary(),
            None => GroupSummary {
                state: GroupState::Dead,
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            },
        })
    }

    /// ListGroups: the groups this broker coordinates, in `states` (all if
    /// empty, names as Kafka spells them); COORDINATOR_LOAD_IN_PROGRESS
    /// with what is known while a partition loads.
    pub fn list_groups(&self, states: &[String]) -> (ErrorCode, Vec<GroupOverview>) {
        if self.tasks.is_stopped() {
            return (ErrorCode::COORDINATOR_NOT_AVAILABLE, Vec::new());
        }
        let (loading, handles): (bool, Vec<Arc<GroupHandle>>) = {
            let state = self.lock_state();
            (
                state.partitions.values().any(|o| o.loading),
                state.groups.values().cloned().collect(),
            )
        };
        let mut groups: Vec<GroupOverview> = handles
            .iter()
            .map(|h| {
                let group = h.lock();
                GroupOverview {
                    group_id: group.group_id.clone(),
                    protocol_type: group.protocol_type().unwrap_or_default().to_owned(),
                    state: group.state(),
                }
            })
            .filter(|g| g.state != GroupState::Dead)
            .filter(|g| states.is_empty() || states.iter().any(|s| s == g.state.name()))
            .collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        let error = if loading {
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
        } else {
            ErrorCode::NONE
        };
        (error, groups)
    }

    /// DeleteGroups: only Empty groups go, with their offsets.
    pub fn delete_groups(self: &Arc<Self>, group_ids: &[String]) -> Vec<(String, ErrorCode)> {
        group_ids
            .iter()
            .map(|id| (id.clone(), self.delete_group(id)))
            .collect()
    }

    fn delete_group(self: &Arc<Self>, group_id: &str) -> ErrorCode {
        let handle = match self.group(group_id, true, false) {
            Err(code) => return code,
            Ok(None) => return ErrorCode::GROUP_ID_NOT_FOUND,
            Ok(Some(handle)) => handle,
        };
        let code = self.run(&handle, |group, ctx| match group.state() {
            GroupState::Dead => ErrorCode::GROUP_ID_NOT_FOUND,
            GroupState::Empty => {
                group.unload(ctx);
                let all: Vec<TopicPartition> = group
                    .fetch_offsets(None)
                    .into_iter()
                    .map(|(tp, _)| tp)
                    .collect();
                let removed = group.remove_offsets(&all, ctx);
                info!("group {group_id} deleted with {removed} offsets");
                ErrorCode::NONE
            }
            _ => ErrorCode::NON_EMPTY_GROUP,
        });
        self.remove_if_dead(&handle);
        code
    }

    /// OffsetDelete: offsets of partitions the group does not consume.
    pub fn delete_offsets(
        self: &Arc<Self>,
        group_id: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, ErrorCode)>, ErrorCode> {
        let handle = self
            .group(group_id, true, false)?
            .ok_or(ErrorCode::GROUP_ID_NOT_FOUND)?;
        let outcome = self.run(&handle, |group, ctx| {
            let consumer_group = group.protocol_type()
                == Some(gregor_protocol::consumer_protocol::CONSUMER_PROTOCOL_TYPE);
            let (deletable, consumed): (Vec<TopicPartition>, Vec<TopicPartition>) =
                match group.state() {
                    GroupState::Dead => return Err(ErrorCode::GROUP_ID_NOT_FOUND),
                    GroupState::Empty => (partitions.to_vec(), Vec::new()),
                    _ if consumer_group => partitions
                        .iter()
                        .cloned()
                        .partition(|tp| !group.is_subscribed_to(&tp.topic)),
                    _ => return Err(ErrorCode::NON_EMPTY_GROUP),
                };
            group.remove_offsets(&deletable, ctx);
            Ok(partitions
                .iter()
                .map(|tp| {
                    let code = if consumed.contains(tp) {
                        ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
                    } else {
                        ErrorCode::NONE
                    };
                    (tp.clone(), code)
                })
                .collect())
        });
        self.remove_if_dead(&handle);
        outcome
    }

    /// Removes expired offsets, and groups left empty without offsets.
    fn expire_offsets(&self) {
        let removed = self.cleanup_group_metadata(|group, ctx| {
            let due = group.expired_offsets(ctx);
            let abandoned = group.is(GroupState::Empty) && !group.has_offsets();
            (!due.is_empty() || abandoned).then_some(due)
        });
        if removed > 0 {
            info!("removed {removed} expired offsets");
        }
    }

    /// The UpdateMetadata hook for deleted topics (Kafka's
    /// `handleDeletedPartitions`): every group's offsets for `partitions`
    /// are removed, with tombstones in `__consumer_offsets`, so a topic
    /// created again under the same name starts with no committed offsets.
    pub fn on_partitions_deleted(&self, partitions: &[TopicPartition]) {
        let removed = self.cleanup_group_metadata(|group, _| {
            let held: Vec<TopicPartition> = partitions
                .iter()
                .filter(|tp| group.has_offset_for(tp))
                .cloned()
                .collect();
            (!held.is_empty()).then_some(held)
        });
        info!("removed {removed} offsets of deleted partitions {partitions:?}");
    }

    /// Removes, from every loaded group, the offsets `select` picks (a
    /// group for which it picks `None` is left alone); groups left Dead are
    /// dropped. Kafka's `cleanupGroupMetadata`. Returns how many offsets
    /// were removed.
    fn cleanup_group_metadata(
        &self,
        select: impl Fn(&GroupMetadata, &Ctx<'_>) -> Option<Vec<TopicPartition>>,
    ) -> usize {
        let handles: Vec<Arc<GroupHandle>> = self.lock_state().groups.values().cloned().collect();
        let mut removed = 0;
        for handle in handles {
            removed += self.run(&handle, |group, ctx| match select(group, ctx) {
                Some(partitions) => group.remove_offsets(&partitions, ctx),
                None => 0,
            });
            self.remove_if_dead(&handle);
        }
        removed
    }

    /// The LeaderAndIsr hook (Kafka's `onLeadershipChange` for the group
    /// coordinator): loads the partitions of `__consumer_offsets` this
    /// broker now leads and unloads those it now follows, for each change
    /// the replica manager applied.
    pub fn on_leadership_change(
        self: &Arc<Self>,
        changes: Vec<OffsetsPartitionLeadership>,
        results: &PartitionResults,
    ) {
        for change in changes {
            let applied = results
                .iter()
                .any(|(tp, r)| *tp == change.topic_partition && r.is_ok());
            if !applied {
                continue;
            }
            let partition = change.topic_partition.partition;
            if change.is_leader {
                self.on_election(partition, change.leader_epoch);
            } else {
                self.on_resignation(partition, change.leader_epoch);
            }
        }
    }

    /// This broker leads `partition` in `leader_epoch`: load its groups.
    fn on_election(self: &Arc<Self>, partition: i32, leader_epoch: i32) {
        {
            let mut state = self.lock_state();
            if !state.advance_epoch(partition, leader_epoch) {
                return;
            }
            state.partitions.insert(
                partition,
                Ownership {
                    leader_epoch,
                    loading: true,
                },
            );
        }
        // Groups of an earlier term go; the load brings them back current.
        self.unload_groups(partition);
        info!("loading groups of {GROUP_METADATA_TOPIC_NAME}-{partition} (leader epoch {leader_epoch})");
        let coordinator = Arc::clone(self);
        self.tasks.spawn(async move {
            let started = Instant::now();
            let topic = Arc::clone(&coordinator.topic);
            let buffer = coordinator.config.load_buffer_size;
            let read =
                tokio::task::spawn_blocking(move || read_partition(&*topic, partition, buffer))
                    .await;
            match read {
                Ok(Ok(loaded)) => coordinator.finish_load(partition, leader_epoch, loaded, started),
                Ok(Err(e)) => {
                    error!("cannot load {GROUP_METADATA_TOPIC_NAME}-{partition}: {e}");
                    coordinator.abandon_load(partition, leader_epoch);
                }
                Err(e) => {
                    error!("loading {GROUP_METADATA_TOPIC_NAME}-{partition} failed: {e}");
                    coordinator.abandon_load(partition, leader_epoch);
                }
            }
        });
    }

    fn finish_load(
        self: &Arc<Self>,
        partition: i32,
        leader_epoch: i32,
        loaded: LoadedPartition,
        started: Instant,
    ) {
        let loading = Ownership {
            leader_epoch,
            loading: true,
        };
        let mut state = self.lock_state();
        if state.partitions.get(&partition) != Some(&loading) {
            // Resigned, or elected again, while loading.
            return;
        }
        let groups = loaded.into_groups(Instant::now(), self.clock.milliseconds());
        let count = groups.len();
        for group in groups {
            self.add_group(&mut state, partition, group);
        }
        state.partitions.insert(
            partition,
            Ownership {
                leader_epoch,
                loading: false,
            },
        );
        info!(
            "loaded {count} groups of {GROUP_METADATA_TOPIC_NAME}-{partition} in {:?}",
            started.elapsed()
        );
    }

    fn abandon_load(&self, partition: i32, leader_epoch: i32) {
        let mut state = self.lock_state();
        let loading = Ownership {
            leader_epoch,
            loading: true,
        };
        if state.partitions.get(&partition) == Some(&loading) {
            state.partitions.remove(&partition);
        }
    }

    /// This broker no longer leads `partition`: its groups go elsewhere.
    fn on_resignation(&self, partition: i32, leader_epoch: i32) {
        {
            let mut state = self.lock_state();
            if !state.advance_epoch(partition, leader_epoch)
                || state.partitions.remove(&partition).is_none()
            {
                return;
            }
        }
        info!("no longer coordinating {GROUP_METADATA_TOPIC_NAME}-{partition}");
        self.unload_groups(partition);
    }

    fn unload_groups(&self, partition: i32) {
        let handles: Vec<Arc<GroupHandle>> = {
            let mut state = self.lock_state();
            let ids: Vec<String> = state
                .groups
                .iter()
                .filter(|(_, h)| h.partition == partition)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter()
                .filter_map(|id| state.groups.remove(id))
                .collect()
        };
        if !handles.is_empty() {
            warn!(
                "unloading {} groups of {GROUP_METADATA_TOPIC_NAME}-{partition}",
                handles.len()
            );
        }
        for handle in handles {
            self.run(&handle, |group, ctx| group.unload(ctx));
        }
    }
}

#[cfg(test)]
#[path = "group_coordinator_tests.rs"]
mod tests;
