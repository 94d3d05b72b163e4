//! One hosted partition (Kafka's `Partition`): its local log, whether this
//! broker leads or follows it and in which leader epoch, and, while it
//! leads, the ISR and the followers' positions that decide its high
//! watermark.
//!
//! The high watermark is the smallest log end offset among the leader and
//! the in-sync followers (Kafka's `maybeIncrementLeaderHW`) and only moves
//! forward. A follower joins the ISR once it has everything below the high
//! watermark, and leaves it when it has not caught up for
//! `replica.lag.time.max.ms` (Kafka's `maybeExpandIsr` / `maybeShrinkIsr`);
//! each change is written to ZooKeeper before it counts (see
//! [`isr`](super::isr)).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard};

use gregor_log::{manager::lock, LogAppendInfo, PartitionLog, SharedLog};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_zk::client::ZkError;
use gregor_zk::data::LeaderIsrAndControllerEpoch;

use super::error::ReplicaError;
use super::isr::IsrUpdate;
use super::remote_replica::RemoteReplica;
use super::state_change::{LeaderAndIsrPartition, NO_LEADER};
use super::truncation::{truncation_point, LeaderEpochEnd, Truncation};

/// This broker's part in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Serves produce, fetch and list-offsets.
    Leader,
    /// Refuses clients (NOT_LEADER_OR_FOLLOWER) and replicates from
    /// `leader`; `None` while the partition has no leader, or none this
    /// broker knows of (it gave up leading when the controller moved on).
    Follower { leader: Option<BrokerId> },
}

/// The leader epoch of a partition not placed yet.
const NO_LEADER_EPOCH: i32 = -1;

/// Role and epoch change together, under one lock.
#[derive(Debug, Clone)]
struct Leadership {
    role: Role,
    leader_epoch: i32,
    /// While this broker leads: the first leader epoch of its unbroken
    /// leadership. The controller bumps the epoch of a leader it keeps (to
    /// take a replica out of the ISR, say); only following can truncate the
    /// log, so a batch appended in this epoch or a later one is still there
    /// and may yet be committed.
    leading_since_epoch: i32,
}

impl Leadership {
    /// Whether this broker has led without a break since `leader_epoch`.
    fn led_since(&self, leader_epoch: i32) -> bool {
        self.role == Role::Leader && self.leading_since_epoch <= leader_epoch
    }
}

/// The ISR as this broker knows it (Kafka's `IsrState`) and, while it
/// leads, its followers' positions.
#[derive(Debug, Default)]
struct IsrState {
    /// The in-sync replicas as ZooKeeper has them.
    isr: Vec<BrokerId>,
    /// An ISR this leader is writing to ZooKeeper (Kafka's
    /// `PendingExpandIsr` / `PendingShrinkIsr`): no other change starts
    /// until it is settled.
    pending: Option<Vec<BrokerId>>,
    /// The partition state znode's version: the next write is conditional
    /// on it.
    zk_version: i32,
    /// The epoch of the controller that last wrote the partition state,
    /// written back with the leader's ISR changes.
    controller_epoch: i32,
    /// The leader's log end offset when its epoch began: a follower must
    /// have everything before it to join the ISR (Kafka's
    /// `leaderEpochStartOffsetOpt`).
    leader_epoch_start_offset: i64,
    /// The other replicas, while this broker leads.
    followers: BTreeMap<BrokerId, RemoteReplica>,
}

impl IsrState {
    /// The state the controller's LeaderAndIsr describes.
    fn from_controller(state: &LeaderAndIsrPartition) -> Self {
        IsrState {
            isr: state.isr.clone(),
            zk_version: state.zk_version,
            controller_epoch: state.controller_epoch,
            ..IsrState::default()
        }
    }

    /// Whether `id` counts for the high watermark: in the ISR or in the one
    /// being written (Kafka's "maximal" ISR), so that no record counts as
    /// committed before every replica that may be in the ISR has it.
    fn in_maximal_isr(&self, id: BrokerId) -> bool {
        self.isr.contains(&id) || self.pending.as_ref().is_some_and(|p| p.contains(&id))
    }
}

/// What recording a follower's fetch changed at the leader.
#[derive(Debug)]
pub(super) struct FollowerFetch {
    /// The leader's high watermark afterwards.
    pub high_watermark: i64,
    pub high_watermark_advanced: bool,
    /// The ISR expansion to write, if the fetch brought the follower in
    /// sync.
    pub isr_update: Option<IsrUpdate>,
}

pub struct Partition {
    topic_partition: TopicPartition,
    /// This broker's id.
    local_broker_id: BrokerId,
    log: SharedLog,
    /// Held for reading while an operation uses the log, so a leadership
    /// change waits for appends in flight (Kafka's `leaderIsrUpdateLock`).
    /// Always taken before the log's lock.
    leadership: RwLock<Leadership>,
    /// Always taken after the log's lock.
    isr: Mutex<IsrState>,
}

impl Partition {
    /// A partition the controller has not placed yet: it follows no one, in
    /// no epoch (Kafka starts a `Partition` at leader epoch -1), until
    /// [`make_leader`](Self::make_leader) or
    /// [`make_follower`](Self::make_follower).
    pub fn new(topic_partition: TopicPartition, local_broker_id: BrokerId, log: SharedLog) -> Self {
        Partition {
            topic_partition,
            local_broker_id,
            log,
            leadership: RwLock::new(Leadership {
                role: Role::Follower { leader: None },
                leader_epoch: NO_LEADER_EPOCH,
                leading_since_epoch: NO_LEADER_EPOCH,
            }),
            isr: Mutex::new(IsrState::default()),
        }
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn leader_epoch(&self) -> i32 {
        self.read_leadership().leader_epoch
    }

    pub fn role(&self) -> Role {
        self.read_leadership().role
    }

    /// The ISR as ZooKeeper has it (a change being written not included).
    pub fn isr(&self) -> Vec<BrokerId> {
        self.lock_isr().isr.clone()
    }

    /// The partition state znode's version this broker holds.
    #[cfg(test)]
    pub fn zk_version(&self) -> i32 {
        self.lock_isr().zk_version
    }

    /// Leads the partition as `state` says (Kafka's `Partition.makeLeader`):
    /// the new epoch is recorded in the leader epoch cache as starting at
    /// the log end, so a follower asking where an older epoch ends is told
    /// (OffsetForLeaderEpoch); the followers in the ISR count as caught up
    /// now. A new leader starts its followers' positions unknown; one that
    /// already led keeps them (Kafka's `isNewLeader` false), its log being
    /// unchanged, and keeps answering the produce requests waiting on it.
    /// The high watermark stays where it was (from the checkpoint, or as a
    /// follower learned it) until the ISR's positions move it, which a
    /// smaller ISR, or one of this broker alone, may do at once. Returns
    /// whether it moved. Writes the epoch checkpoint: touches the disk.
    pub fn make_leader(
        &self,
        state: &LeaderAndIsrPartition,
        now_ms: i64,
    ) -> Result<bool, ReplicaError> {
        let mut leadership = self.write_leadership();
        let mut log = self.log();
        let log_end = log.log_end_offset();
        log.assign_epoch_start_offset(state.leader_epoch, log_end)?;
        let mut isr = self.lock_isr();
        let (leading_since_epoch, mut known) = match leadership.role {
            Role::Leader => (
                leadership.leading_since_epoch,
                std::mem::take(&mut isr.followers),
            ),
            Role::Follower { .. } => (state.leader_epoch, BTreeMap::new()),
        };
        *leadership = Leadership {
            role: Role::Leader,
            leader_epoch: state.leader_epoch,
            leading_since_epoch,
        };
        let followers = state
            .replicas
            .iter()
            .filter(|id| **id != self.local_broker_id)
            .map(|id| {
                let in_isr = state.isr.contains(id);
                let follower = match known.remove(id) {
                    Some(mut follower) => {
                        follower.start_leader_epoch(in_isr, log_end, now_ms);
                        follower
                    }
                    None => RemoteReplica::new(in_isr, log_end, now_ms),
                };
                (*id, follower)
            })
            .collect();
        *isr = IsrState {
            leader_epoch_start_offset: log_end,
            followers,
            ..IsrState::from_controller(state)
        };
        Ok(maybe_increment_high_watermark(&mut log, &isr))
    }

    /// Follows `state.leader` (Kafka's `Partition.makeFollower`). The log is
    /// left as it is: what lies past the point where it diverges from the
    /// new leader's is truncated by the fetcher once the leader has said
    /// where that is (OffsetForLeaderEpoch, see
    /// `truncation`), before anything is fetched.
    pub fn make_follower(&self, state: &LeaderAndIsrPartition) {
        let mut leadership = self.write_leadership();
        *leadership = Leadership {
            role: Role::Follower {
                leader: (state.leader != NO_LEADER).then_some(state.leader),
            },
            leader_epoch: state.leader_epoch,
            leading_since_epoch: NO_LEADER_EPOCH,
        };
        *self.lock_isr() = IsrState::from_controller(state);
    }

    /// Runs `operation` on the log with the leader epoch, if this broker
    /// leads the partition in the epoch the client believes current (Kafka's
    /// `Partition.getLocalLog` with `requireLeader`). `current_leader_epoch`
    /// `None` skips the epoch check (clients before Fetch v9 / ListOffsets v4,
    /// or that do not know it).
    pub fn with_leader_log<R>(
        &self,
        current_leader_epoch: Option<i32>,
        operation: impl FnOnce(&mut PartitionLog, i32) -> Result<R, ReplicaError>,
    ) -> Result<R, ReplicaError> {
        self.with_readable_log(current_leader_epoch, false, operation)
    }

    /// As [`with_leader_log`](Self::with_leader_log); with `follower_too`
    /// a follower's log is read as well (a consumer reading from a follower,
    /// KIP-392), the leader epoch being checked the same way.
    pub fn with_readable_log<R>(
        &self,
        current_leader_epoch: Option<i32>,
        follower_too: bool,
        operation: impl FnOnce(&mut PartitionLog, i32) -> Result<R, ReplicaError>,
    ) -> Result<R, ReplicaError> {
        let leadership = self.read_leadership();
        let epoch = leadership.leader_epoch;
        match current_leader_epoch {
            Some(theirs) if theirs < epoch => {
                return Err(ReplicaError::FencedLeaderEpoch {
                    tp: self.topic_partition.clone(),
                    request: theirs,
                    current: epoch,
                })
            }
            Some(theirs) if theirs > epoch => {
                return Err(ReplicaError::UnknownLeaderEpoch {
                    tp: self.topic_partition.clone(),
                    request: theirs,
                    current: epoch,
                })
            }
            _ => {}
        }
        if let (Role::Follower { leader }, false) = (&leadership.role, follower_too) {
            let leader = *leader;
            return Err(ReplicaError::NotLeader {
                tp: self.topic_partition.clone(),
                leader,
            });
        }
        operation(&mut self.log(), epoch)
    }

    /// Appends a producer's batches as leader; the high watermark follows
    /// if the ISR allows (with this broker alone in it, to the new end).
    /// With `acks_all`, an ISR smaller than `min.insync.replicas` refuses
    /// the batches first (Kafka checks the ISR ZooKeeper has, not one being
    /// written). Returns the leader epoch they were appended in.
    pub fn append_as_leader(
        &self,
        records: &[u8],
        acks_all: bool,
        now_ms: i64,
    ) -> Result<(LogAppendInfo, i32), ReplicaError> {
        self.with_leader_log(None, |log, epoch| {
            let isr = self.lock_isr();
            let min = log.config().min_insync_replicas;
            if acks_all && isr.isr.len() < min as usize {
                return Err(ReplicaError::NotEnoughReplicas {
                    tp: self.topic_partition.clone(),
                    isr: isr.isr.len(),
                    min,
                });
            }
            drop(isr);
            let info = log.append_as_leader(records, epoch, now_ms)?;
            maybe_increment_high_watermark(log, &self.lock_isr());
            Ok((info, epoch))
        })
    }

    /// Whether the ISR has every record before `offset`, appended in
    /// `leader_epoch` (Kafka's `checkEnoughReplicasReachOffset`): `None`
    /// while the high watermark is below it; then `Ok`, or
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR has meanwhile shrunk
    /// below `min.insync.replicas`. A newer epoch of this broker's unbroken
    /// leadership changes nothing: the records are still in its log. If it
    /// has stopped leading since, even for a while, NOT_LEADER_OR_FOLLOWER:
    /// a follower's log may have been truncated below them (Kafka answers
    /// at the change itself; here the waiter may look only later).
    pub(super) fn check_committed(
        &self,
        offset: i64,
        leader_epoch: i32,
    ) -> Option<Result<(), ReplicaError>> {
        let leadership = self.read_leadership();
        if !leadership.led_since(leader_epoch) {
            let leader = match leadership.role {
                Role::Leader => Some(self.local_broker_id),
                Role::Follower { leader } => leader,
            };
            return Some(Err(ReplicaError::NotLeader {
                tp: self.topic_partition.clone(),
                leader,
            }));
        }
        let log = self.log();
        if log.high_watermark() < offset {
            return None;
        }
        let min = log.config().min_insync_replicas;
        let isr = self.lock_isr().isr.len();
        if isr < min as usize {
            return Some(Err(ReplicaError::NotEnoughReplicasAfterAppend {
                tp: self.topic_partition.clone(),
                isr,
                min,
            }));
        }
        Some(Ok(()))
    }

    /// Records that `follower` fetched from `fetch_offset` when the leader's
    /// log ended at `leader_log_end_offset` (Kafka's
    /// `updateFollowerFetchState`), if this broker still leads in
    /// `leader_epoch`: the follower's position, whether it is caught up, an
    /// ISR expansion if it now qualifies, and the high watermark it allows.
    /// `None` if the fetch is not recorded: the follower is not a replica
    /// (Kafka answers it with no records), or leadership moved meanwhile.
    pub(super) fn record_follower_fetch(
        &self,
        follower: BrokerId,
        leader_epoch: i32,
        fetch_offset: i64,
        leader_log_end_offset: i64,
        now_ms: i64,
    ) -> Option<FollowerFetch> {
        let leadership = self.read_leadership();
        if leadership.role != Role::Leader || leadership.leader_epoch != leader_epoch {
            return None;
        }
        let mut log = self.log();
        let mut isr = self.lock_isr();
        isr.followers.get_mut(&follower)?.update_fetch_state(
            fetch_offset,
            leader_log_end_offset,
            now_ms,
        );
        let isr_update = self.maybe_expand_isr(&leadership, &log, &mut isr, follower);
        let high_watermark_advanced = maybe_increment_high_watermark(&mut log, &isr);
        Some(FollowerFetch {
            high_watermark: log.high_watermark(),
            high_watermark_advanced,
            isr_update,
        })
    }

    /// Adds `follower` to the ISR if it is a replica outside it that has
    /// every record below the high watermark and below the start of this
    /// leader's epoch (Kafka's `needsExpandIsr`). The follower joins at the
    /// end of the ISR, whatever the replicas' order: Kafka 2.8 adds it to
    /// the ISR's (insertion-ordered, for up to four replicas) Scala `Set`
    /// and writes that in order (`PendingExpandIsr.maximalIsr`).
    fn maybe_expand_isr(
        &self,
        leadership: &Leadership,
        log: &PartitionLog,
        isr: &mut IsrState,
        follower: BrokerId,
    ) -> Option<IsrUpdate> {
        if isr.pending.is_some() || isr.isr.contains(&follower) {
            return None;
        }
        let end = isr.followers.get(&follower)?.log_end_offset();
        if end < log.high_watermark() || end < isr.leader_epoch_start_offset {
            return None;
        }
        let mut new_isr = isr.isr.clone();
        new_isr.push(follower);
        Some(self.propose_isr(leadership, isr, new_isr))
    }

    /// Removes from the ISR every follower that lacks some of the leader's
    /// records and has not caught up for more than `max_lag_ms` (Kafka's
    /// `maybeShrinkIsr`), if this broker leads and no change is being
    /// written.
    pub(super) fn maybe_shrink_isr(&self, now_ms: i64, max_lag_ms: i64) -> Option<IsrUpdate> {
        let leadership = self.read_leadership();
        if leadership.role != Role::Leader {
            return None;
        }
        let log = self.log();
        let mut isr = self.lock_isr();
        if isr.pending.is_some() {
            return None;
        }
        let log_end = log.log_end_offset();
        let in_sync = |id: &BrokerId| {
            *id == self.local_broker_id
                || isr
                    .followers
                    .get(id)
                    .is_some_and(|f| !f.is_out_of_sync(log_end, now_ms, max_lag_ms))
        };
        let new_isr: Vec<BrokerId> = isr.isr.iter().copied().filter(in_sync).collect();
        if new_isr.len() == isr.isr.len() {
            return None;
        }
        Some(self.propose_isr(&leadership, &mut isr, new_isr))
    }

    /// Marks `new_isr` as being written and describes the write.
    fn propose_isr(
        &self,
        leadership: &Leadership,
        isr: &mut IsrState,
        new_isr: Vec<BrokerId>,
    ) -> IsrUpdate {
        ::log::info!(
            "{}: changing the ISR from {:?} to {new_isr:?}",
            self.topic_partition,
            isr.isr
        );
        isr.pending = Some(new_isr.clone());
        IsrUpdate {
            topic_partition: self.topic_partition.clone(),
            leader_epoch: leadership.leader_epoch,
            state: LeaderIsrAndControllerEpoch::new(
                self.local_broker_id,
                leadership.leader_epoch,
                new_isr,
                isr.controller_epoch,
            ),
            zk_version: isr.zk_version,
        }
    }

    /// Settles an ISR change with the store's answer: written, it is the
    /// ISR at the new zkVersion (and may let the high watermark advance);
    /// failed, the ISR stays and the change may be tried again. Refused for
    /// a stale zkVersion, the controller has written the partition state
    /// since: it has decided something this broker has not heard yet (a
    /// new leader, a replica out of the ISR), so this broker stops leading,
    /// and refuses produce and fetch (NOT_LEADER_OR_FOLLOWER), until the
    /// controller's next LeaderAndIsr says what it is. Ignored if
    /// leadership changed meanwhile: the controller's newer state replaced
    /// it. Returns whether waiting fetches and produces should look again.
    pub(super) fn complete_isr_update(
        &self,
        update: &IsrUpdate,
        written: &Result<i32, ZkError>,
    ) -> bool {
        let mut leadership = self.write_leadership();
        if leadership.role != Role::Leader || leadership.leader_epoch != update.leader_epoch {
            return false;
        }
        let mut log = self.log();
        let mut isr = self.lock_isr();
        if isr.pending.as_ref() != Some(&update.state.isr) {
            return false;
        }
        isr.pending = None;
        match written {
            Ok(zk_version) => {
                isr.isr = update.state.isr.clone();
                isr.zk_version = *zk_version;
                maybe_increment_high_watermark(&mut log, &isr)
            }
            Err(ZkError::BadVersion { .. }) => {
                leadership.role = Role::Follower { leader: None };
                true
            }
            Err(_) => false,
        }
    }

    /// Where a follower's next fetch starts, while this broker follows in
    /// `leader_epoch`: its log end offset, and its log start offset.
    pub(super) fn follower_fetch_position(&self, leader_epoch: i32) -> Option<(i64, i64)> {
        let _leadership = self.follower_in(leader_epoch).ok()?;
        let log = self.log();
        Some((log.log_end_offset(), log.log_start_offset()))
    }

    /// Appends what a fetch from the leader returned and takes the leader's
    /// high watermark and log start offset, never past its own log end
    /// (Kafka's `ReplicaFetcherThread.processPartitionData`), if this broker
    /// still follows in `leader_epoch`. Touches the disk.
    pub(super) fn append_as_follower(
        &self,
        leader_epoch: i32,
        records: &[u8],
        leader_high_watermark: i64,
        leader_log_start_offset: i64,
        now_ms: i64,
    ) -> Result<Option<LogAppendInfo>, ReplicaError> {
        let _leadership = self.follower_in(leader_epoch)?;
        let mut log = self.log();
        let info = log.append_as_follower(records, now_ms)?;
        log.set_high_watermark(leader_high_watermark);
        let log_start = leader_log_start_offset.min(log.high_watermark());
        if log_start > log.log_start_offset() {
            log.delete_records_before(log_start)?;
        }
        Ok(info)
    }

    /// The latest leader epoch in a follower's log, while it follows in
    /// `leader_epoch`: what it asks the leader about before fetching.
    pub(super) fn follower_latest_epoch(
        &self,
        leader_epoch: i32,
    ) -> Result<Option<i32>, ReplicaError> {
        let _leadership = self.follower_in(leader_epoch)?;
        Ok(self.log().leader_epochs().latest_epoch())
    }

    /// Truncates a follower's log where it stops being the leader's, as the
    /// leader's OffsetForLeaderEpoch answer says (`None`: at the high
    /// watermark), if this broker still follows in `leader_epoch`. Returns
    /// the log end offset before, and the truncation. Touches the disk.
    pub(super) fn truncate_follower_to_epoch_end(
        &self,
        leader_epoch: i32,
        leader: Option<LeaderEpochEnd>,
    ) -> Result<(i64, Truncation), ReplicaError> {
        let _leadership = self.follower_in(leader_epoch)?;
        let mut log = self.log();
        let before = log.log_end_offset();
        let truncation = truncation_point(leader, &log);
        log.truncate_to(truncation.offset)?;
        Ok((before, truncation))
    }

    /// Truncates a follower's log to `offset`, where the leader's log ends
    /// or its batches start: the tail after it is not the leader's. Returns
    /// the new log end offset. Touches the disk.
    pub(super) fn truncate_follower_to(
        &self,
        leader_epoch: i32,
        offset: i64,
    ) -> Result<i64, ReplicaError> {
        let _leadership = self.follower_in(leader_epoch)?;
        Ok(self.log().truncate_to(offset)?)
    }

    /// Empties a follower's log to start again at `offset`, the leader's log
    /// start offset, which has passed everything this log has. Touches the
    /// disk.
    pub(super) fn restart_follower_at(
        &self,
        leader_epoch: i32,
        offset: i64,
    ) -> Result<(), ReplicaError> {
        let _leadership = self.follower_in(leader_epoch)?;
        Ok(self.log().truncate_fully_and_start_at(offset)?)
    }

    /// The leadership, if this broker follows in `leader_epoch`: a fetch
    /// made in an older epoch must not change the log.
    fn follower_in(
        &self,
        leader_epoch: i32,
    ) -> Result<RwLockReadGuard<'_, Leadership>, ReplicaError> {
        let leadership = self.read_leadership();
        if leadership.role == Role::Leader || leadership.leader_epoch != leader_epoch {
            return Err(ReplicaError::FencedLeaderEpoch {
                tp: self.topic_partition.clone(),
                request: leader_epoch,
                current: leadership.leader_epoch,
            });
        }
        Ok(leadership)
    }

    /// Locks the log for one operation.
    pub fn log(&self) -> std::sync::MutexGuard<'_, PartitionLog> {
        lock(&self.log)
    }

    fn lock_isr(&self) -> MutexGuard<'_, IsrState> {
        self.isr.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_leadership(&self) -> RwLockReadGuard<'_, Leadership> {
        self.leadership.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_leadership(&self) -> std::sync::RwLockWriteGuard<'_, Leadership> {
        self.leadership.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Moves the leader's high watermark up to the smallest log end offset
/// among it and the followers in the maximal ISR (Kafka's
/// `maybeIncrementLeaderHW`); a follower not heard from yet in this epoch
/// holds it where it is. Returns whether it moved.
fn maybe_increment_high_watermark(log: &mut PartitionLog, isr: &IsrState) -> bool {
    let high_watermark = isr
        .followers
        .iter()
        .filter(|(id, _)| isr.in_maximal_isr(**id))
        .map(|(_, f)| f.log_end_offset())
        .fold(log.log_end_offset(), i64::min);
    if high_watermark <= log.high_watermark() {
        return false;
    }
    log.set_high_watermark(high_watermark);
    true
}
