//! The group membership protocol (Kafka's `GroupCoordinator` join, sync,
//! heartbeat and leave handling, and its delayed join and heartbeat
//! operations), as operations on one locked [`GroupMetadata`].
//!
//! Every operation runs with the group's lock held and a [`Ctx`] giving the
//! time and the group's log. Requests that must wait (a JoinGroup until the
//! rebalance completes, a SyncGroup until the leader's assignment is stored)
//! get a oneshot receiver; the operation that completes them sends the
//! answer. Deadlines (session expiry, rebalance timeout, the initial delay)
//! are not timers here: [`GroupMetadata::next_deadline`] says when
//! [`GroupMetadata::expire`] must run, and the coordinator's per-group task
//! calls it then.

use std::collections::HashMap;
use std::time::Duration;

use ::log::{debug, info, warn};
use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::replica::AwaitedCommit;
use gregor_protocol::ErrorCode;

use super::config::GroupConfig;
use super::group::{GroupMetadata, GroupState, InitialDelay, JoinTimer, JoinedMember};
use super::member::{Member, Protocol};
use super::schema::{self, GroupMetadataValue, MemberMetadataValue};

/// The member id of a member that has none yet (Kafka's
/// `JoinGroupRequest.UNKNOWN_MEMBER_ID`).
pub const UNKNOWN_MEMBER_ID: &str = "";
/// The generation of an error response (`JoinGroupRequest.UNKNOWN_GENERATION_ID`).
pub const NO_GENERATION: i32 = -1;

/// A record for the group's `__consumer_offsets` partition: key and value
/// (`None`: a tombstone).
pub type LogRecord = (Bytes, Option<Bytes>);

/// Appends a group's records to its `__consumer_offsets` partition as one
/// batch, as for acks=all. The error is the partition's own
/// (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, ...); each caller maps it
/// to what its clients expect, as Kafka does. Offset commits are answered
/// once the returned append is committed; group metadata is not waited for
/// (a coordinator failing over before its followers have a generation makes
/// the members rejoin, which is harmless).
pub trait GroupLog {
    fn append(
        &self,
        records: Vec<LogRecord>,
        timestamp_ms: i64,
    ) -> Result<AwaitedCommit, ErrorCode>;
}

/// What an operation on a group needs besides the group.
pub struct Ctx<'a> {
    /// tokio's clock, which session and rebalance deadlines are measured
    /// on: the group's deadline task sleeps until them on tokio's timer
    /// (paused-time tests move both).
    pub now: Instant,
    /// The coordinator's clock, ms since the epoch: for what is stored, and
    /// offset expiry.
    pub now_ms: i64,
    pub config: &'a GroupConfig,
    pub log: &'a dyn GroupLog,
}

/// The answer to a JoinGroup (Kafka's `JoinGroupResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    pub error: ErrorCode,
    pub member_id: String,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: String,
    /// Every member, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    pub fn error(member_id: &str, error: ErrorCode) -> Self {
        JoinResult {
            error,
            member_id: member_id.to_owned(),
            generation_id: NO_GENERATION,
            protocol_type: None,
            protocol_name: None,
            leader_id: String::new(),
            members: Vec::new(),
        }
    }
}

/// The answer to a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    pub error: ErrorCode,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: ErrorCode) -> Self {
        SyncResult {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A JoinGroup, validated by the coordinator (group id, session timeout).
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// JoinGroup v4+: a new dynamic member must first get its member id
    /// (MEMBER_ID_REQUIRED) and join again with it.
    pub require_known_member_id: bool,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout: Duration,
    pub session_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<Protocol>,
}

/// A SyncGroup.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
    /// v5+: must match the group's when given.
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment by member id (empty from followers).
    pub assignments: Vec<(String, Bytes)>,
}

/// One member leaving (LeaveGroup; v3+ batches them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeavingMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

fn respond<T>(tx: oneshot::Sender<T>, result: T) {
    // The requester may have gone (connection closed): nothing to do then.
    let _ = tx.send(result);
}

/// Kafka's mapping of a failed group metadata append
/// (`GroupMetadataManager.storeGroup`) to what members are told.
fn store_group_error(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::NOT_ENOUGH_REPLICAS
        | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::KAFKA_STORAGE_ERROR => {
            ErrorCode::NOT_COORDINATOR
        }
        ErrorCode::REQUEST_TIMED_OUT => ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::MESSAGE_TOO_LARGE
        | ErrorCode::RECORD_LIST_TOO_LARGE
        | ErrorCode::INVALID_FETCH_SIZE => ErrorCode::UNKNOWN_SERVER_ERROR,
        other => other,
    }
}

impl GroupMetadata {
    /// JoinGroup. The answer comes at once (errors, MEMBER_ID_REQUIRED, a
    /// member rejoining a stable group unchanged) or when the rebalance
    /// completes.
    pub fn join(&mut self, request: JoinRequest, ctx: &Ctx<'_>) -> oneshot::Receiver<JoinResult> {
        let (tx, rx) = oneshot::channel();
        let names: Vec<&str> = request.protocols.iter().map(|p| p.name.as_str()).collect();
        if self.is(GroupState::Dead) {
            // Unloaded or deleted meanwhile: the member finds the
            // coordinator again and rejoins.
            respond(
                tx,
                JoinResult::error(&request.member_id, ErrorCode::COORDINATOR_NOT_AVAILABLE),
            );
        } else if !self.supports_protocols(&request.protocol_type, &names) {
            respond(
                tx,
                JoinResult::error(&request.member_id, ErrorCode::INCONSISTENT_GROUP_PROTOCOL),
            );
        } else if request.member_id == UNKNOWN_MEMBER_ID
            && self.members.len() >= ctx.config.max_size
        {
            // Kafka checks before handing out an id: a full group takes no
            // new member, static or not.
            respond(
                tx,
                JoinResult::error(UNKNOWN_MEMBER_ID, ErrorCode::GROUP_MAX_SIZE_REACHED),
            );
        } else if request.member_id == UNKNOWN_MEMBER_ID {
            self.join_new_member(request, tx, ctx);
        } else {
            self.join_known_member(request, tx, ctx);
        }
        if self.is(GroupState::PreparingRebalance) {
            self.try_complete_join(ctx);
        }
        rx
    }

    fn join_new_member(
        &mut self,
        request: JoinRequest,
        tx: oneshot::Sender<JoinResult>,
        ctx: &Ctx<'_>,
    ) {
        let member_id = GroupMetadata::generate_member_id(
            &request.client_id,
            request.group_instance_id.as_deref(),
        );
        let known_instance = request
            .group_instance_id
            .as_ref()
            .is_some_and(|i| self.static_members.contains_key(i));
        if known_instance {
            self.replace_static_member(member_id, request, tx, ctx);
        } else if request.require_known_member_id && request.group_instance_id.is_none() {
            debug!(
                "group {}: new member gets id {member_id} and must join again with it",
                self.group_id
            );
            self.pending_members
                .insert(member_id.clone(), ctx.now + request.session_timeout);
            respond(
                tx,
                JoinResult::error(&member_id, ErrorCode::MEMBER_ID_REQUIRED),
            );
        } else {
            self.add_member_and_rebalance(member_id, request, tx, ctx);
        }
    }

    fn join_known_member(
        &mut self,
        request: JoinRequest,
        tx: oneshot::Sender<JoinResult>,
        ctx: &Ctx<'_>,
    ) {
        let member_id = request.member_id.clone();
        if self.pending_members.contains_key(&member_id) {
            // A static member never gets a pending id; one claiming to hold
            // one is confused and starts over.
            if request.group_instance_id.is_some() {
                respond(
                    tx,
                    JoinResult::error(&member_id, ErrorCode::UNKNOWN_MEMBER_ID),
                );
                return;
            }
            self.pending_members.remove(&member_id);
            self.add_member_and_rebalance(member_id, request, tx, ctx);
            return;
        }
        let instance = request.group_instance_id.as_deref();
        let unknown_instance = instance.is_some_and(|i| !self.static_members.contains_key(i));
        if self.is_static_member_fenced(&member_id, instance) {
            respond(
                tx,
                JoinResult::error(&member_id, ErrorCode::FENCED_INSTANCE_ID),
            );
            return;
        }
        let Some(member) = self.members.get(&member_id).filter(|_| !unknown_instance) else {
            respond(
                tx,
                JoinResult::error(&member_id, ErrorCode::UNKNOWN_MEMBER_ID),
            );
            return;
        };
        let unchanged = member.matches(&request.protocols);
        match self.state {
            GroupState::PreparingRebalance => {
                self.update_member_and_rebalance(&member_id, request.protocols, tx, ctx);
            }
            // Joining again unchanged: it missed the JoinGroup answer.
            GroupState::CompletingRebalance if unchanged => {
                let result = self.current_generation_for(&member_id, self.is_leader(&member_id));
                respond(tx, result);
            }
            // A follower rejoining unchanged may simply sync; the leader
            // rejoining asks for a rebalance (its view of the topics changed).
            GroupState::Stable if unchanged && !self.is_leader(&member_id) => {
                respond(tx, self.current_generation_for(&member_id, false));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(&member_id, request.protocols, tx, ctx);
            }
            GroupState::Empty | GroupState::Dead => {
                respond(
                    tx,
                    JoinResult::error(&member_id, ErrorCode::UNKNOWN_MEMBER_ID),
                );
            }
        }
    }

    /// The current generation as told to `member_id`; with the member list
    /// if `with_members` (the leader).
    fn current_generation_for(&self, member_id: &str, with_members: bool) -> JoinResult {
        JoinResult {
            error: ErrorCode::NONE,
            member_id: member_id.to_owned(),
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader_id: self.leader_id.clone().unwrap_or_default(),
            members: if with_members {
                self.current_member_metadata()
            } else {
                Vec::new()
            },
        }
    }

    fn add_member_and_rebalance(
        &mut self,
        member_id: String,
        request: JoinRequest,
        tx: oneshot::Sender<JoinResult>,
        ctx: &Ctx<'_>,
    ) {
        info!(
            "group {}: member {member_id} (instance {:?}) joins in state {}",
            self.group_id, request.group_instance_id, self.state
        );
        if self.is(GroupState::PreparingRebalance) && self.generation_id == 0 {
            self.new_member_added = true;
        }
        self.add_member(Member {
            member_id,
            group_instance_id: request.group_instance_id,
            client_id: request.client_id,
            client_host: request.client_host,
            rebalance_timeout: request.rebalance_timeout,
            session_timeout: request.session_timeout,
            protocol_type: request.protocol_type,
            protocols: request.protocols,
            assignment: Bytes::new(),
            awaiting_join: Some(tx),
            awaiting_sync: None,
            last_heartbeat: ctx.now,
            is_new: true,
        });
        self.maybe_prepare_rebalance(ctx);
    }

    fn update_member_and_rebalance(
        &mut self,
        member_id: &str,
        protocols: Vec<Protocol>,
        tx: oneshot::Sender<JoinResult>,
        ctx: &Ctx<'_>,
    ) {
        if let Some(member) = self.members.get_mut(member_id) {
            member.protocols = protocols;
            // A JoinGroup it sent earlier (on a connection since given up)
            // is superseded by this one.
            if let Some(earlier) = member.awaiting_join.replace(tx) {
                respond(
                    earlier,
                    JoinResult::error(member_id, ErrorCode::REBALANCE_IN_PROGRESS),
                );
            }
        }
        self.maybe_prepare_rebalance(ctx);
    }

    /// A static member came back with a new member id (its old instance is
    /// fenced). In a Stable group whose protocol it does not change, it
    /// takes over its old assignment without a rebalance.
    fn replace_static_member(
        &mut self,
        new_member_id: String,
        request: JoinRequest,
        tx: oneshot::Sender<JoinResult>,
        ctx: &Ctx<'_>,
    ) {
        let Some(instance) = request.group_instance_id.clone() else {
            return;
        };
        let Some(old_member_id) = self.static_members.get(&instance).cloned() else {
            return;
        };
        let current_leader = self.leader_id.clone().unwrap_or_default();
        self.rename_member(&old_member_id, &new_member_id, &instance);
        let Some(member) = self.members.get_mut(&new_member_id) else {
            return;
        };
        member.last_heartbeat = ctx.now;
        let old_protocols = std::mem::replace(&mut member.protocols, request.protocols);
        member.awaiting_join = Some(tx);
        info!(
            "group {}: static member {instance} rejoins as {new_member_id}, replacing {old_member_id}",
            self.group_id
        );
        match self.state {
            GroupState::Stable if self.select_protocol() == self.protocol_name => {
                let assignment: HashMap<String, Bytes> = self
                    .members
                    .values()
                    .map(|m| (m.member_id.clone(), m.assignment.clone()))
                    .collect();
                let stored = self.store_group(&assignment, ctx);
                let Some(member) = self.members.get_mut(&new_member_id) else {
                    return;
                };
                let Some(tx) = member.awaiting_join.take() else {
                    return;
                };
                // The old leader id is returned on purpose: a replaced
                // leader must not reassign a stable group, whose new
                // assignment nobody would receive.
                let mut result = JoinResult {
                    error: ErrorCode::NONE,
                    member_id: new_member_id.clone(),
                    generation_id: self.generation_id,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    leader_id: current_leader,
                    members: Vec::new(),
                };
                if let Err(code) = stored {
                    warn!(
                        "group {}: storing static member {instance}'s new id failed ({code:?}); keeping {old_member_id}",
                        self.group_id
                    );
                    member.protocols = old_protocols;
                    self.rename_member(&new_member_id, &old_member_id, &instance);
                    result.member_id = UNKNOWN_MEMBER_ID.to_owned();
                    result.error = code;
                }
                respond(tx, result);
            }
            GroupState::Stable => self.maybe_prepare_rebalance(ctx),
            // The leader may already be assigning to the old member id.
            GroupState::CompletingRebalance => self.prepare_rebalance(ctx),
            // It will be answered when the rebalance completes.
            GroupState::PreparingRebalance => {}
            // A group with a static member has members: not Empty; Dead
            // groups were refused before.
            GroupState::Empty | GroupState::Dead => {
                if let Some(tx) = self
                    .members
                    .get_mut(&new_member_id)
                    .and_then(|m| m.awaiting_join.take())
                {
                    respond(
                        tx,
                        JoinResult::error(&new_member_id, ErrorCode::UNKNOWN_MEMBER_ID),
                    );
                }
            }
        }
    }

    /// Gives a static member a new member id; whatever its old id was
    /// waiting for is answered FENCED_INSTANCE_ID.
    fn rename_member(&mut self, from: &str, to: &str, instance: &str) {
        let Some(mut member) = self.members.remove(from) else {
            return;
        };
        if let Some(join) = member.awaiting_join.take() {
            respond(join, JoinResult::error(from, ErrorCode::FENCED_INSTANCE_ID));
        }
        if let Some(sync) = member.awaiting_sync.take() {
            respond(sync, SyncResult::error(ErrorCode::FENCED_INSTANCE_ID));
        }
        member.member_id = to.to_owned();
        if self.is_leader(from) {
            self.leader_id = Some(to.to_owned());
        }
        self.static_members
            .insert(instance.to_owned(), to.to_owned());
        self.members.insert(to.to_owned(), member);
    }

    /// SyncGroup. Followers wait for the leader's; the leader's assignment
    /// is stored and then handed to everyone.
    pub fn sync(&mut self, request: SyncRequest, ctx: &Ctx<'_>) -> oneshot::Receiver<SyncResult> {
        let (tx, rx) = oneshot::channel();
        let member_id = request.member_id.as_str();
        let mismatch =
            |ours: &Option<String>, theirs: &Option<String>| theirs.is_some() && ours != theirs;
        let error = if self.is(GroupState::Dead) {
            Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        } else if self.is_static_member_fenced(member_id, request.group_instance_id.as_deref()) {
            Some(ErrorCode::FENCED_INSTANCE_ID)
        } else if !self.members.contains_key(member_id) {
            Some(ErrorCode::UNKNOWN_MEMBER_ID)
        } else if request.generation_id != self.generation_id {
            Some(ErrorCode::ILLEGAL_GENERATION)
        } else if mismatch(&self.protocol_type, &request.protocol_type)
            || mismatch(&self.protocol_name, &request.protocol_name)
        {
            Some(ErrorCode::INCONSISTENT_GROUP_PROTOCOL)
        } else {
            match self.state {
                GroupState::Empty => Some(ErrorCode::UNKNOWN_MEMBER_ID),
                GroupState::PreparingRebalance => Some(ErrorCode::REBALANCE_IN_PROGRESS),
                GroupState::Dead => Some(ErrorCode::COORDINATOR_NOT_AVAILABLE),
                GroupState::CompletingRebalance | GroupState::Stable => None,
            }
        };
        if let Some(error) = error {
            respond(tx, SyncResult::error(error));
            return rx;
        }
        if self.is(GroupState::Stable) {
            if let Some(member) = self.members.get_mut(member_id) {
                member.last_heartbeat = ctx.now;
                let result = SyncResult {
                    error: ErrorCode::NONE,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol_name.clone(),
                    assignment: member.assignment.clone(),
                };
                respond(tx, result);
            }
            return rx;
        }
        // CompletingRebalance.
        if let Some(member) = self.members.get_mut(member_id) {
            member.awaiting_sync = Some(tx);
        }
        if self.is_leader(member_id) {
            let mut assignment: HashMap<String, Bytes> = request.assignments.into_iter().collect();
            for id in self.members.keys() {
                if !assignment.contains_key(id) {
                    warn!(
                        "group {}: the leader assigned nothing to member {id}",
                        self.group_id
                    );
                    assignment.insert(id.clone(), Bytes::new());
                }
            }
            match self.store_group(&assignment, ctx) {
                Ok(()) => {
                    for member in self.members.values_mut() {
                        if let Some(a) = assignment.get(&member.member_id) {
                            member.assignment = a.clone();
                        }
                    }
                    self.propagate_assignment(ErrorCode::NONE, ctx);
                    self.transition_to(GroupState::Stable, ctx.now_ms);
                    info!(
                        "group {}: generation {} is stable with {} members",
                        self.group_id,
                        self.generation_id,
                        self.members.len()
                    );
                }
                Err(error) => {
                    self.reset_and_propagate_assignment_error(error, ctx);
                    self.maybe_prepare_rebalance(ctx);
                }
            }
        }
        rx
    }

    /// Heartbeat: keeps the member's session; tells it when a rebalance
    /// is under way.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
        ctx: &Ctx<'_>,
    ) -> ErrorCode {
        if self.is(GroupState::Dead) {
            return ErrorCode::COORDINATOR_NOT_AVAILABLE;
        }
        if self.is_static_member_fenced(member_id, group_instance_id) {
            return ErrorCode::FENCED_INSTANCE_ID;
        }
        let state = self.state;
        let current_generation = self.generation_id;
        let Some(member) = self.members.get_mut(member_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if generation_id != current_generation {
            return ErrorCode::ILLEGAL_GENERATION;
        }
        match state {
            GroupState::Empty => ErrorCode::UNKNOWN_MEMBER_ID,
            GroupState::CompletingRebalance | GroupState::Stable => {
                member.last_heartbeat = ctx.now;
                ErrorCode::NONE
            }
            GroupState::PreparingRebalance => {
                member.last_heartbeat = ctx.now;
                ErrorCode::REBALANCE_IN_PROGRESS
            }
            GroupState::Dead => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        }
    }

    /// LeaveGroup: each member's outcome, in order; `Err` for the whole
    /// request.
    pub fn leave(
        &mut self,
        leaving: &[LeavingMember],
        ctx: &Ctx<'_>,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if self.is(GroupState::Dead) {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        Ok(leaving.iter().map(|m| self.leave_one(m, ctx)).collect())
    }

    fn leave_one(&mut self, leaving: &LeavingMember, ctx: &Ctx<'_>) -> ErrorCode {
        let member_id = leaving.member_id.as_str();
        let instance = leaving.group_instance_id.as_deref();
        if member_id != UNKNOWN_MEMBER_ID && self.is_static_member_fenced(member_id, instance) {
            return ErrorCode::FENCED_INSTANCE_ID;
        }
        if self.pending_members.contains_key(member_id) {
            if instance.is_some() {
                return ErrorCode::UNKNOWN_MEMBER_ID;
            }
            self.remove_pending_member_and_update_group(member_id, ctx);
            return ErrorCode::NONE;
        }
        // A static member may leave by instance id alone (an admin removing
        // it, KIP-345).
        let target = instance
            .and_then(|i| self.static_members.get(i).cloned())
            .or_else(|| {
                self.members
                    .contains_key(member_id)
                    .then(|| member_id.to_owned())
            });
        match target {
            Some(id) => {
                info!("group {}: member {id} leaves", self.group_id);
                self.remove_member_and_update_group(&id, ctx);
                ErrorCode::NONE
            }
            None => ErrorCode::UNKNOWN_MEMBER_ID,
        }
    }

    /// The next time [`expire`](Self::expire) has work: a member's or a
    /// pending member id's session end, or the rebalance deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        let sessions = self.members.values().filter_map(Member::session_deadline);
        let pending = self.pending_members.values().copied();
        let join = self.join_timer.map(|t| t.deadline);
        sessions.chain(pending).chain(join).min()
    }

    /// Runs whatever is due at `ctx.now`: members whose session ended are
    /// removed (Kafka's heartbeat expiry), lapsed pending member ids
    /// dropped, and a rebalance whose deadline passed completes.
    pub fn expire(&mut self, ctx: &Ctx<'_>) {
        let now = ctx.now;
        let lapsed: Vec<String> = self
            .pending_members
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in lapsed {
            self.remove_pending_member_and_update_group(&id, ctx);
        }
        loop {
            // One at a time: removing a member can complete a rebalance,
            // which renews every remaining member's session.
            let expired = self
                .members
                .values()
                .find(|m| m.session_deadline().is_some_and(|d| d <= now))
                .map(|m| m.member_id.clone());
            let Some(id) = expired else { break };
            info!(
                "group {}: member {id} failed to heartbeat in time; removing it",
                self.group_id
            );
            self.remove_member_and_update_group(&id, ctx);
        }
        if let Some(timer) = self.join_timer.filter(|t| t.deadline <= now) {
            self.join_timer = None;
            if self.is(GroupState::PreparingRebalance) {
                self.on_join_deadline(timer, ctx);
            }
        }
    }

    /// A rebalance deadline passed. The initial delay of a new group waits
    /// again while members keep arriving; otherwise the rebalance completes
    /// with whoever rejoined.
    fn on_join_deadline(&mut self, timer: JoinTimer, ctx: &Ctx<'_>) {
        match timer.initial {
            Some(initial) if self.new_member_added && !initial.remaining.is_zero() => {
                self.new_member_added = false;
                let delay = initial.delay.min(initial.remaining);
                self.join_timer = Some(JoinTimer {
                    deadline: ctx.now + delay,
                    initial: Some(InitialDelay {
                        delay: initial.delay,
                        remaining: initial.remaining.saturating_sub(delay),
                    }),
                });
            }
            _ => self.complete_join(ctx),
        }
    }

    /// The coordinator stops coordinating the group (it no longer leads its
    /// partition, or the group was deleted): waiting requests learn it.
    pub fn unload(&mut self, ctx: &Ctx<'_>) {
        let previous = self.state;
        self.transition_to(GroupState::Dead, ctx.now_ms);
        self.join_timer = None;
        for member in self.members.values_mut() {
            if let Some(tx) = member.awaiting_join.take() {
                respond(
                    tx,
                    JoinResult::error(&member.member_id, ErrorCode::NOT_COORDINATOR),
                );
            }
            if let Some(tx) = member.awaiting_sync.take() {
                respond(tx, SyncResult::error(ErrorCode::NOT_COORDINATOR));
            }
        }
        debug!("group {}: unloaded in state {previous}", self.group_id);
    }

    pub(super) fn maybe_prepare_rebalance(&mut self, ctx: &Ctx<'_>) {
        if self.can_rebalance() {
            self.prepare_rebalance(ctx);
        }
    }

    /// Starts a rebalance: members waiting on SyncGroup are told to rejoin,
    /// and the join waits for every member (a new group: for the initial
    /// delay).
    fn prepare_rebalance(&mut self, ctx: &Ctx<'_>) {
        if self.is(GroupState::CompletingRebalance) {
            self.reset_and_propagate_assignment_error(ErrorCode::REBALANCE_IN_PROGRESS, ctx);
        }
        let rebalance_timeout = self.rebalance_timeout();
        self.join_timer = Some(if self.is(GroupState::Empty) {
            let delay = ctx.config.initial_rebalance_delay;
            JoinTimer {
                deadline: ctx.now + delay,
                initial: Some(InitialDelay {
                    delay,
                    remaining: rebalance_timeout.saturating_sub(delay),
                }),
            }
        } else {
            JoinTimer {
                deadline: ctx.now + rebalance_timeout,
                initial: None,
            }
        });
        info!(
            "group {}: preparing to rebalance (state {}, generation {})",
            self.group_id, self.state, self.generation_id
        );
        self.transition_to(GroupState::PreparingRebalance, ctx.now_ms);
        self.try_complete_join(ctx);
    }

    /// Completes the rebalance now if every member rejoined (never during
    /// a new group's initial delay).
    fn try_complete_join(&mut self, ctx: &Ctx<'_>) {
        let initial = self.join_timer.is_some_and(|t| t.initial.is_some());
        if self.is(GroupState::PreparingRebalance) && !initial && self.has_all_members_joined() {
            self.join_timer = None;
            self.complete_join(ctx);
        }
    }

    /// Ends the join phase (Kafka's `onCompleteJoin`): dynamic members that
    /// did not rejoin are dropped, the next generation starts, and every
    /// waiting JoinGroup is answered (the leader gets the member list).
    fn complete_join(&mut self, ctx: &Ctx<'_>) {
        let not_rejoined: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.is_awaiting_join() && !m.is_static())
            .map(|m| m.member_id.clone())
            .collect();
        for id in not_rejoined {
            info!(
                "group {}: member {id} did not rejoin in time",
                self.group_id
            );
            self.remove_member(&id);
        }
        if self.is(GroupState::Dead) {
            return;
        }
        if !self.maybe_elect_new_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined remain: wait for
            // them (or for their sessions to end).
            self.join_timer = Some(JoinTimer {
                deadline: ctx.now + self.rebalance_timeout(),
                initial: None,
            });
            return;
        }
        self.init_next_generation(ctx.now_ms);
        if self.is(GroupState::Empty) {
            info!(
                "group {} with generation {} is now empty",
                self.group_id, self.generation_id
            );
            if let Err(code) = self.store_group(&HashMap::new(), ctx) {
                warn!(
                    "group {}: storing the empty generation {} failed: {code:?}",
                    self.group_id, self.generation_id
                );
            }
            return;
        }
        let leader_view = self.current_member_metadata();
        let template = self.current_generation_for("", false);
        for member in self.members.values_mut() {
            let members = if template.leader_id == member.member_id {
                leader_view.clone()
            } else {
                Vec::new()
            };
            let result = JoinResult {
                member_id: member.member_id.clone(),
                members,
                ..template.clone()
            };
            if let Some(tx) = member.awaiting_join.take() {
                respond(tx, result);
            }
            member.last_heartbeat = ctx.now;
            member.is_new = false;
        }
        info!(
            "group {}: generation {} formed with {} members, protocol {:?}, leader {}",
            self.group_id,
            self.generation_id,
            self.members.len(),
            self.protocol_name,
            template.leader_id
        );
    }

    /// Removes a member (left, or its session ended) and moves the group
    /// on: a rebalance starts, or the one under way may now complete.
    pub(super) fn remove_member_and_update_group(&mut self, member_id: &str, ctx: &Ctx<'_>) {
        let Some(mut member) = self.remove_member(member_id) else {
            return;
        };
        // A member still waiting in a rebalance is told to join again.
        if let Some(tx) = member.awaiting_join.take() {
            respond(
                tx,
                JoinResult::error(member_id, ErrorCode::UNKNOWN_MEMBER_ID),
            );
        }
        if let Some(tx) = member.awaiting_sync.take() {
            respond(tx, SyncResult::error(ErrorCode::UNKNOWN_MEMBER_ID));
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(ctx);
            }
            GroupState::PreparingRebalance => self.try_complete_join(ctx),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    fn remove_pending_member_and_update_group(&mut self, member_id: &str, ctx: &Ctx<'_>) {
        self.pending_members.remove(member_id);
        if self.is(GroupState::PreparingRebalance) {
            self.try_complete_join(ctx);
        }
    }

    /// Sends every waiting SyncGroup its member's assignment (or `error`),
    /// and restarts their sessions: a session that ran out while waiting
    /// for the leader does not count.
    fn propagate_assignment(&mut self, error: ErrorCode, ctx: &Ctx<'_>) {
        let (protocol_type, protocol_name) = if error == ErrorCode::NONE {
            (self.protocol_type.clone(), self.protocol_name.clone())
        } else {
            (None, None)
        };
        for member in self.members.values_mut() {
            if let Some(tx) = member.awaiting_sync.take() {
                respond(
                    tx,
                    SyncResult {
                        error,
                        protocol_type: protocol_type.clone(),
                        protocol_name: protocol_name.clone(),
                        assignment: member.assignment.clone(),
                    },
                );
                member.last_heartbeat = ctx.now;
            }
        }
    }

    fn reset_and_propagate_assignment_error(&mut self, error: ErrorCode, ctx: &Ctx<'_>) {
        for member in self.members.values_mut() {
            member.assignment = Bytes::new();
        }
        self.propagate_assignment(error, ctx);
    }

    /// Writes the group's metadata record with `assignment` (by member id).
    pub(super) fn store_group(
        &self,
        assignment: &HashMap<String, Bytes>,
        ctx: &Ctx<'_>,
    ) -> Result<(), ErrorCode> {
        let value = GroupMetadataValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation_id,
            protocol: self.protocol_name.clone(),
            leader: self.leader_id.clone(),
            current_state_timestamp: self.state_timestamp_ms.unwrap_or(schema::NO_TIMESTAMP),
            members: self
                .members
                .values()
                .map(|m| MemberMetadataValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout: duration_ms(m.rebalance_timeout),
                    session_timeout: duration_ms(m.session_timeout),
                    subscription: self
                        .protocol_name
                        .as_deref()
                        .map(|p| m.metadata(p))
                        .unwrap_or_default(),
                    assignment: assignment.get(&m.member_id).cloned().unwrap_or_default(),
                })
                .collect(),
        };
        let encoded = schema::group_key(&self.group_id).and_then(|key| {
            let value = schema::group_value(&value)?;
            Ok((key, Some(value)))
        });
        let record = encoded.map_err(|e| {
            warn!("group {}: cannot encode its metadata: {e}", self.group_id);
            ErrorCode::UNKNOWN_SERVER_ERROR
        })?;
        ctx.log
            .append(vec![record], ctx.now_ms)
            .map(|_| ())
            .map_err(store_group_error)
    }
}

/// A timeout as the int32 milliseconds the records hold (they came from
/// int32 request fields).
fn duration_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
