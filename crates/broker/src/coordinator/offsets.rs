//! Committed offsets (Kafka's `GroupCoordinator.handleCommitOffsets` and
//! the offset half of `GroupMetadataManager`): validated against the
//! group's generation, written to its `__consumer_offsets` partition, then
//! kept in the group for OffsetFetch. Deleting and expiring offsets write
//! tombstones, so a reload (and compaction) forgets them too.

use ::log::{info, warn};

use crate::replica::AwaitedCommit;
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use super::group::{GroupMetadata, GroupState};
use super::membership::{Ctx, LogRecord};
use super::schema::{self, OffsetCommitValue};
use gregor_protocol::consumer_protocol::CONSUMER_PROTOCOL_TYPE;

/// One committed offset (Kafka's `OffsetAndMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, if the client knew it.
    pub leader_epoch: Option<i32>,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
    /// Set by OffsetCommit v2-v4 with an explicit retention time.
    pub expire_timestamp_ms: Option<i64>,
}

impl CommittedOffset {
    pub(super) fn from_value(value: OffsetCommitValue) -> Self {
        CommittedOffset {
            offset: value.offset,
            leader_epoch: (value.leader_epoch != schema::NO_LEADER_EPOCH)
                .then_some(value.leader_epoch),
            metadata: value.metadata,
            commit_timestamp_ms: value.commit_timestamp,
            expire_timestamp_ms: (value.expire_timestamp != schema::NO_TIMESTAMP)
                .then_some(value.expire_timestamp),
        }
    }

    fn to_value(&self) -> OffsetCommitValue {
        OffsetCommitValue {
            offset: self.offset,
            leader_epoch: self.leader_epoch.unwrap_or(schema::NO_LEADER_EPOCH),
            metadata: self.metadata.clone(),
            commit_timestamp: self.commit_timestamp_ms,
            expire_timestamp: self.expire_timestamp_ms.unwrap_or(schema::NO_TIMESTAMP),
        }
    }
}

/// An OffsetCommit, as the coordinator sees it.
#[derive(Debug, Clone)]
pub struct OffsetCommit {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// -1 for a consumer outside group management (it only stores offsets).
    pub generation_id: i32,
    pub offsets: Vec<(TopicPartition, CommittedOffset)>,
}

/// Kafka's mapping of a failed offset append to what the committer is told.
fn commit_error(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::NOT_ENOUGH_REPLICAS
        | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::KAFKA_STORAGE_ERROR => {
            ErrorCode::NOT_COORDINATOR
        }
        ErrorCode::MESSAGE_TOO_LARGE
        | ErrorCode::RECORD_LIST_TOO_LARGE
        | ErrorCode::INVALID_FETCH_SIZE => ErrorCode::INVALID_COMMIT_OFFSET_SIZE,
        other => other,
    }
}

/// An OffsetCommit as far as the group took it: each partition's outcome
/// so far, and the offsets written, which count once the in-sync replicas
/// have them ([`GroupMetadata::complete_offset_commit`]).
#[derive(Debug)]
pub struct CommitOutcome {
    /// In request order; written partitions say NONE until the write's
    /// fate is known.
    pub results: Vec<(TopicPartition, ErrorCode)>,
    pub written: Option<WrittenOffsets>,
}

/// Offsets appended to the group's partition, not yet committed there.
#[derive(Debug)]
pub struct WrittenOffsets {
    pub append: AwaitedCommit,
    offsets: Vec<(TopicPartition, CommittedOffset)>,
}

impl CommitOutcome {
    fn refused(offsets: Vec<(TopicPartition, CommittedOffset)>, code: ErrorCode) -> Self {
        CommitOutcome {
            results: offsets.into_iter().map(|(tp, _)| (tp, code)).collect(),
            written: None,
        }
    }
}

/// Sets the result of every partition in `written` to `code`.
fn set_results(
    results: &mut [(TopicPartition, ErrorCode)],
    written: &[(TopicPartition, CommittedOffset)],
    code: ErrorCode,
) {
    for (tp, result) in results.iter_mut() {
        if written.iter().any(|(w, _)| w == tp) {
            *result = code;
        }
    }
}

impl GroupMetadata {
    /// OffsetCommit: validates it against the group's generation and writes
    /// the offsets; they are answered for (and fetched) once committed.
    pub fn commit_offsets(&mut self, commit: OffsetCommit, ctx: &Ctx<'_>) -> CommitOutcome {
        let member_id = commit.member_id.as_str();
        if self.is(GroupState::Dead) {
            return CommitOutcome::refused(commit.offsets, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        if self.is_static_member_fenced(member_id, commit.group_instance_id.as_deref()) {
            return CommitOutcome::refused(commit.offsets, ErrorCode::FENCED_INSTANCE_ID);
        }
        // A consumer outside group management only stores offsets here.
        if commit.generation_id < 0 && self.is(GroupState::Empty) {
            return self.store_offsets(commit.offsets, ctx);
        }
        let generation = self.generation_id;
        let state = self.state;
        let Some(member) = self.members.get_mut(member_id) else {
            return CommitOutcome::refused(commit.offsets, ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if commit.generation_id != generation {
            return CommitOutcome::refused(commit.offsets, ErrorCode::ILLEGAL_GENERATION);
        }
        match state {
            // While preparing a rebalance, members still commit what they
            // consumed; the heartbeat tells them to rejoin.
            GroupState::Stable | GroupState::PreparingRebalance => {
                member.last_heartbeat = ctx.now;
                self.store_offsets(commit.offsets, ctx)
            }
            // It joined this generation but has no assignment yet.
            GroupState::CompletingRebalance => {
                CommitOutcome::refused(commit.offsets, ErrorCode::REBALANCE_IN_PROGRESS)
            }
            GroupState::Empty | GroupState::Dead => {
                CommitOutcome::refused(commit.offsets, ErrorCode::UNKNOWN_MEMBER_ID)
            }
        }
    }

    /// Writes the offsets whose metadata fits `offset.metadata.max.bytes`
    /// as one batch.
    fn store_offsets(
        &mut self,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
        ctx: &Ctx<'_>,
    ) -> CommitOutcome {
        let max = ctx.config.offset_metadata_max_bytes;
        let mut results = Vec::with_capacity(offsets.len());
        let mut records: Vec<LogRecord> = Vec::new();
        let mut written = Vec::new();
        for (tp, offset) in offsets {
            if offset.metadata.len() > max {
                results.push((tp, ErrorCode::OFFSET_METADATA_TOO_LARGE));
                continue;
            }
            let key = schema::offset_key(&self.group_id, &tp.topic, tp.partition);
            let value = schema::offset_value(&offset.to_value());
            match key.and_then(|k| Ok((k, Some(value?)))) {
                Ok(record) => {
                    records.push(record);
                    results.push((tp.clone(), ErrorCode::NONE));
                    written.push((tp, offset));
                }
                Err(e) => {
                    warn!("group {}: cannot encode offset of {tp}: {e}", self.group_id);
                    results.push((tp, ErrorCode::INVALID_COMMIT_OFFSET_SIZE));
                }
            }
        }
        let mut outcome = CommitOutcome {
            results,
            written: None,
        };
        if records.is_empty() {
            return outcome;
        }
        match ctx.log.append(records, ctx.now_ms) {
            Ok(append) => {
                outcome.written = Some(WrittenOffsets {
                    append,
                    offsets: written,
                });
            }
            Err(code) => {
                warn!(
                    "group {}: writing {} offsets failed: {code:?}",
                    self.group_id,
                    written.len()
                );
                set_results(&mut outcome.results, &written, commit_error(code));
            }
        }
        outcome
    }

    /// The written offsets' fate (`committed`: whether the in-sync replicas
    /// have them) is known: committed ones become what OffsetFetch answers,
    /// unless a later commit of the same partition got there first (Kafka
    /// keeps the offset whose record comes later in the log). Returns the
    /// final outcome.
    pub fn complete_offset_commit(
        &mut self,
        outcome: CommitOutcome,
        committed: Result<(), ErrorCode>,
    ) -> Vec<(TopicPartition, ErrorCode)> {
        let CommitOutcome {
            mut results,
            written,
        } = outcome;
        let Some(written) = written else {
            return results;
        };
        match committed {
            Ok(()) => {
                let position = written.append.required_offset;
                for (tp, offset) in written.offsets {
                    let newer = self
                        .offset_positions
                        .get(&tp)
                        .is_none_or(|p| *p <= position);
                    if newer {
                        self.offset_positions.insert(tp.clone(), position);
                        self.offsets.insert(tp, offset);
                    }
                }
            }
            Err(code) => {
                warn!(
                    "group {}: {} offsets written but not committed: {code:?}",
                    self.group_id,
                    written.offsets.len()
                );
                set_results(&mut results, &written.offsets, commit_error(code));
            }
        }
        results
    }

    /// The committed offsets of `partitions` (`None`: every partition with
    /// one), `None` where there is none.
    pub fn fetch_offsets(
        &self,
        partitions: Option<&[TopicPartition]>,
    ) -> Vec<(TopicPartition, Option<CommittedOffset>)> {
        match partitions {
            Some(partitions) => partitions
                .iter()
                .map(|tp| (tp.clone(), self.offsets.get(tp).cloned()))
                .collect(),
            None => {
                let mut all: Vec<_> = self
                    .offsets
                    .iter()
                    .map(|(tp, o)| (tp.clone(), Some(o.clone())))
                    .collect();
                all.sort_by(|a, b| a.0.cmp(&b.0));
                all
            }
        }
    }

    pub fn has_offsets(&self) -> bool {
        !self.offsets.is_empty()
    }

    pub fn has_offset_for(&self, partition: &TopicPartition) -> bool {
        self.offsets.contains_key(partition)
    }

    /// The offsets due for expiry at `ctx.now_ms` (Kafka's
    /// `GroupMetadata.removeExpiredOffsets` selection): in an Empty group,
    /// `offsets.retention.minutes` after it became empty; in a consumer
    /// group with members, offsets of topics it no longer subscribes to,
    /// that long after their commit; in a group outside group management,
    /// that long after their commit. An explicit expire timestamp (old
    /// clients) wins.
    pub fn expired_offsets(&self, ctx: &Ctx<'_>) -> Vec<TopicPartition> {
        let retention = i64::try_from(ctx.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        let now = ctx.now_ms;
        let expired = |base: i64, offset: &CommittedOffset| match offset.expire_timestamp_ms {
            Some(expire) => now >= expire,
            None => now.saturating_sub(base) >= retention,
        };
        let mut due: Vec<TopicPartition> = match (self.protocol_type.as_deref(), self.state) {
            (Some(_), GroupState::Empty) => self
                .offsets
                .iter()
                .filter(|(_, o)| {
                    expired(self.state_timestamp_ms.unwrap_or(o.commit_timestamp_ms), o)
                })
                .map(|(tp, _)| tp.clone())
                .collect(),
            (Some(CONSUMER_PROTOCOL_TYPE), _) => match &self.subscribed_topics {
                Some(subscribed) => self
                    .offsets
                    .iter()
                    .filter(|(tp, o)| {
                        !subscribed.contains(&tp.topic) && expired(o.commit_timestamp_ms, o)
                    })
                    .map(|(tp, _)| tp.clone())
                    .collect(),
                None => Vec::new(),
            },
            (None, _) => self
                .offsets
                .iter()
                .filter(|(_, o)| expired(o.commit_timestamp_ms, o))
                .map(|(tp, _)| tp.clone())
                .collect(),
            (Some(_), _) => Vec::new(),
        };
        due.sort();
        due
    }

    /// Forgets `partitions`' offsets and writes their tombstones (Kafka's
    /// `cleanupGroupMetadata`). An Empty group left without offsets is Dead
    /// afterwards, and unless it only ever stored offsets (generation 0)
    /// its metadata record is tombstoned too. Returns the offsets removed.
    pub fn remove_offsets(&mut self, partitions: &[TopicPartition], ctx: &Ctx<'_>) -> usize {
        let removed: Vec<TopicPartition> = partitions
            .iter()
            .filter(|tp| {
                self.offset_positions.remove(tp);
                self.offsets.remove(tp).is_some()
            })
            .cloned()
            .collect();
        if self.is(GroupState::Empty) && self.offsets.is_empty() {
            info!(
                "group {} has no members and no offsets left: it is Dead",
                self.group_id
            );
            self.unload(ctx);
        }
        let mut keys = Vec::with_capacity(removed.len() + 1);
        for tp in &removed {
            keys.push(schema::offset_key(&self.group_id, &tp.topic, tp.partition));
        }
        if self.is(GroupState::Dead) && self.generation_id > 0 {
            keys.push(schema::group_key(&self.group_id));
        }
        let tombstones: Result<Vec<LogRecord>, _> =
            keys.into_iter().map(|k| k.map(|k| (k, None))).collect();
        match tombstones {
            Ok(records) if records.is_empty() => {}
            Ok(records) => {
                if let Err(code) = ctx.log.append(records, ctx.now_ms) {
                    warn!(
                        "group {}: writing tombstones failed ({code:?}); a reload may bring them back",
                        self.group_id
                    );
                }
            }
            Err(e) => warn!("group {}: cannot encode tombstones: {e}", self.group_id),
        }
        removed.len()
    }
}

#[cfg(test)]
#[path = "offsets_tests.rs"]
mod tests;
