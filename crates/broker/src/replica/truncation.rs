//! Where a follower's log stops being its leader's (KIP-101, KIP-279;
//! Kafka's `AbstractFetcherThread.truncateToEpochEndOffsets`).
//!
//! A follower of a new leader may hold records the leader never got: it
//! led, or followed an earlier leader, in an epoch whose last records did
//! not reach the new leader before it was elected. Before it fetches
//! anything, it asks the leader (OffsetForLeaderEpoch) where the
//! follower's latest leader epoch ends in the leader's log, and truncates
//! its own log there: everything before is the same on both (the same
//! leader wrote it in the same epoch), everything after may not be. Its
//! high watermark is no guide: records past it may be the leader's, and a
//! record below the new leader's end may still be another epoch's.
//!
//! If the leader answers with an older epoch than the one asked, the
//! follower may hold records of epochs the leader never had: it truncates
//! where its own log ends that older epoch's successor, and asks again with
//! its (now older) latest epoch (KIP-279). With no epoch to ask about, or
//! a leader that cannot tell, it falls back to its high watermark, as Kafka
//! before KIP-101.

use std::sync::Arc;

use ::log::{debug, info};

use gregor_client::BrokerConnection;
use gregor_log::PartitionLog;
use gregor_protocol::api::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochRequest, OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use super::error::ReplicaError;
use super::fetcher::FetchError;
use super::partition::Partition;

/// Where a follower truncates, and whether that settles it (Kafka's
/// `OffsetTruncationState`): if not, it asks the leader again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Truncation {
    pub offset: i64,
    pub complete: bool,
}

/// The leader's answer for one partition: where the epoch it found ends;
/// `None` when it could not tell (Kafka's UNDEFINED_EPOCH_OFFSET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LeaderEpochEnd {
    /// The largest epoch at or below the asked one the leader knows; -1
    /// from a leader answering OffsetForLeaderEpoch v0.
    pub epoch: i32,
    pub end_offset: i64,
}

/// Kafka's `UNDEFINED_EPOCH_OFFSET`: the leader cannot tell.
const UNDEFINED_EPOCH_OFFSET: i64 = -1;

impl LeaderEpochEnd {
    fn from_answer(answer: &EpochEndOffset) -> Option<Self> {
        (answer.end_offset != UNDEFINED_EPOCH_OFFSET).then_some(LeaderEpochEnd {
            epoch: answer.leader_epoch,
            end_offset: answer.end_offset,
        })
    }
}

/// Where `log`, a follower's, stops being its leader's, given the leader's
/// answer (Kafka's `getOffsetTruncationState`), never past its own end.
pub(super) fn truncation_point(leader: Option<LeaderEpochEnd>, log: &PartitionLog) -> Truncation {
    let log_end = log.log_end_offset();
    let done = |offset: i64| Truncation {
        offset: offset.min(log_end),
        complete: true,
    };
    let Some(leader) = leader else {
        return done(log.high_watermark());
    };
    if leader.epoch < 0 {
        // A v0 answer carries no epoch: trust its end offset.
        return done(leader.end_offset);
    }
    match log.end_offset_for_epoch(leader.epoch) {
        // This log does not know the leader's epoch: drop what it has after
        // the epoch before it, then ask again about its latest epoch.
        Some((own_epoch, own_end)) if own_epoch != leader.epoch => Truncation {
            offset: own_end.min(log_end),
            complete: false,
        },
        // Both know the epoch: it ends where the earlier of the two ends.
        Some((_, own_end)) => done(own_end.min(leader.end_offset)),
        // This log tracks no epochs before the leader's answer.
        None => done(leader.end_offset),
    }
}

/// One partition to truncate before fetching, in `leader_epoch`.
#[derive(Clone)]
pub(super) struct PendingTruncation {
    pub tp: TopicPartition,
    pub partition: Arc<Partition>,
    pub leader_epoch: i32,
}

/// What a partition's truncation goes by: the leader's answer (`None`:
/// the high watermark), or why there is none.
type Answer = Result<Option<LeaderEpochEnd>, FetchError>;

/// Asks the leader where each partition's latest epoch ends and truncates
/// there; without an epoch to ask about, or when the leader does not speak
/// OffsetForLeaderEpoch (`version`, the version it does, is `None`), to the
/// high watermark. Each partition's outcome: whether its truncation is
/// complete, or why it failed; `Err` if the request failed as a whole (the
/// connection is then unusable).
pub(super) async fn truncate(
    connection: &mut BrokerConnection,
    version: Option<i16>,
    replica_id: i32,
    pending: Vec<PendingTruncation>,
) -> Result<Vec<(PendingTruncation, Result<bool, FetchError>)>, FetchError> {
    let mut answers: Vec<(PendingTruncation, Answer)> = Vec::new();
    let mut ask = Vec::new();
    for p in pending {
        match p.partition.follower_latest_epoch(p.leader_epoch) {
            Err(e) => answers.push((p, Err(e.into()))),
            Ok(Some(epoch)) if version.is_some() => ask.push((p, epoch)),
            Ok(_) => answers.push((p, Ok(None))),
        }
    }
    if let Some(version) = version.filter(|_| !ask.is_empty()) {
        let response = connection.send(version, &request(replica_id, &ask)).await?;
        for (p, epoch) in ask {
            let answer = response
                .topics
                .iter()
                .filter(|t| t.topic == p.tp.topic)
                .flat_map(|t| &t.partitions)
                .find(|a| a.partition == p.tp.partition);
            let answer = match answer {
                None => Err(FetchError::Missing),
                Some(a) => match ErrorCode::from_code(a.error_code) {
                    ErrorCode::NONE => {
                        let found = LeaderEpochEnd::from_answer(a);
                        debug!("{}: the leader says epoch {epoch} ends at {found:?}", p.tp);
                        Ok(found)
                    }
                    code => Err(FetchError::Leader(code)),
                },
            };
            answers.push((p, answer));
        }
    }
    let applied = tokio::task::spawn_blocking(move || {
        answers
            .into_iter()
            .map(|(p, answer)| {
                let complete = answer.and_then(|leader| Ok(apply(&p, leader)?.complete));
                (p, complete)
            })
            .collect()
    })
    .await?;
    Ok(applied)
}

/// Truncates one partition where the leader's answer says (touches the
/// disk).
fn apply(
    p: &PendingTruncation,
    leader: Option<LeaderEpochEnd>,
) -> Result<Truncation, ReplicaError> {
    let (before, truncation) = p
        .partition
        .truncate_follower_to_epoch_end(p.leader_epoch, leader)?;
    if truncation.offset < before {
        info!(
            "{}: truncated from {before} to {} (leader's answer {leader:?}){}",
            p.tp,
            truncation.offset,
            if truncation.complete {
                ""
            } else {
                "; asking again"
            }
        );
    }
    Ok(truncation)
}

/// The follower's OffsetForLeaderEpoch: each partition's latest epoch, in
/// the leader epoch it follows.
fn request(replica_id: i32, ask: &[(PendingTruncation, i32)]) -> OffsetForLeaderEpochRequest {
    let mut topics: Vec<OffsetForLeaderTopic> = Vec::new();
    for (p, epoch) in ask {
        let partition = OffsetForLeaderPartition {
            partition: p.tp.partition,
            current_leader_epoch: p.leader_epoch,
            leader_epoch: *epoch,
        };
        match topics.iter_mut().find(|t| t.topic == p.tp.topic) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(OffsetForLeaderTopic {
                topic: p.tp.topic.clone(),
                partitions: vec![partition],
            }),
        }
    }
    OffsetForLeaderEpochRequest { replica_id, topics }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::testing::batch;
    use gregor_log::{LoadState, LogConfig};
    use gregor_runtime::ManualClock;

    /// A follower's log with one single-record batch per epoch listed, and
    /// its high watermark at `high_watermark`.
    fn log(dir: &std::path::Path, epochs: &[i32], high_watermark: i64) -> PartitionLog {
        let path = dir.join("t-0");
        let mut log = PartitionLog::open(
            &path,
            LogConfig::default(),
            LoadState::default(),
            ManualClock::new(0),
        )
        .unwrap();
        for (ts, epoch) in epochs.iter().enumerate() {
            log.append_as_leader(&batch(ts as i64), *epoch, 0).unwrap();
        }
        log.set_high_watermark(high_watermark);
        log
    }

    fn leader(epoch: i32, end_offset: i64) -> Option<LeaderEpochEnd> {
        Some(LeaderEpochEnd { epoch, end_offset })
    }

    fn complete(offset: i64) -> Truncation {
        Truncation {
            offset,
            complete: true,
        }
    }

    #[test]
    fn an_epoch_both_know_ends_where_the_earlier_of_the_two_ends() {
        let dir = tempfile::tempdir().unwrap();
        // Epochs 1 (offsets 0-2) and 2 (3-5), log end 6.
        let log = log(dir.path(), &[1, 1, 1, 2, 2, 2], 4);
        assert_eq!(truncation_point(leader(1, 2), &log), complete(2));
        assert_eq!(truncation_point(leader(1, 5), &log), complete(3));
        // The leader's epoch 2 reaches past the follower's end: nothing to
        // drop.
        assert_eq!(truncation_point(leader(2, 9), &log), complete(6));
    }

    #[test]
    fn an_epoch_the_follower_lacks_truncates_before_it_and_asks_again() {
        let dir = tempfile::tempdir().unwrap();
        // Epochs 0 (offsets 0-1) and 2 (2-3); the leader answers epoch 1.
        let log = log(dir.path(), &[0, 0, 2, 2], 0);
        assert_eq!(
            truncation_point(leader(1, 7), &log),
            Truncation {
                offset: 2,
                complete: false
            }
        );
    }

    #[test]
    fn without_an_answer_the_high_watermark_and_without_epochs_the_leaders_end() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(dir.path(), &[3, 3, 3], 1);
        assert_eq!(truncation_point(None, &log), complete(1));
        // A v0 answer (no epoch) is taken as it is, within the log.
        assert_eq!(truncation_point(leader(-1, 2), &log), complete(2));
        assert_eq!(truncation_point(leader(-1, 8), &log), complete(3));
        // An epoch older than any the follower knows ends, in its log, where
        // its first epoch starts.
        assert_eq!(truncation_point(leader(2, 1), &log), complete(0));
        // One newer than any it knows: the leader's end is all there is.
        assert_eq!(truncation_point(leader(5, 2), &log), complete(2));
    }
}
