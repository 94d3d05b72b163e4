//! The coordinator through its async API, over an in-memory
//! `__consumer_offsets`.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::coordinator::member::Protocol;
use crate::coordinator::offsets_topic::{CommitFuture, OffsetsTopicError};
use crate::coordinator::testing::subscription;
use crate::replica::AwaitedCommit;
use gregor_record::parse_batch;
use gregor_runtime::{Shutdown, SystemClock};

/// Partitions as lists of batches with offsets assigned; reads can be held
/// back to watch a load in progress.
#[derive(Default)]
struct MemoryTopic {
    partitions: Mutex<HashMap<i32, (Vec<Bytes>, i64)>>,
    reads_held: Mutex<bool>,
    released: Condvar,
    /// What waiting for the in-sync replicas ends in (`None`: committed).
    commit_error: Mutex<Option<ErrorCode>>,
}

impl MemoryTopic {
    fn hold_reads(&self, held: bool) {
        *self.reads_held.lock().unwrap() = held;
        self.released.notify_all();
    }
}

impl OffsetsTopic for MemoryTopic {
    fn append(&self, partition: i32, batch: &[u8]) -> Result<AwaitedCommit, ErrorCode> {
        let (header, _) = parse_batch(batch).map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
        let mut partitions = self.partitions.lock().unwrap();
        let (batches, next) = partitions.entry(partition).or_default();
        // The base offset is outside the CRC: the log sets it, as here.
        let mut stored = BytesMut::from(batch);
        stored[..8].copy_from_slice(&next.to_be_bytes());
        *next += i64::from(header.record_count);
        batches.push(stored.freeze());
        Ok(AwaitedCommit {
            topic_partition: TopicPartition::new(GROUP_METADATA_TOPIC_NAME, partition),
            required_offset: *next,
            leader_epoch: 0,
        })
    }

    fn wait_for_commit(&self, _awaited: AwaitedCommit, _timeout: Duration) -> CommitFuture<'_> {
        let outcome = match *self.commit_error.lock().unwrap() {
            Some(code) => Err(code),
            None => Ok(()),
        };
        Box::pin(std::future::ready(outcome))
    }

    fn bounds(&self, partition: i32) -> Result<(i64, i64), OffsetsTopicError> {
        let partitions = self.partitions.lock().unwrap();
        Ok((0, partitions.get(&partition).map_or(0, |(_, next)| *next)))
    }

    fn read(
        &self,
        partition: i32,
        offset: i64,
        _max: u64,
    ) -> Result<Option<Bytes>, OffsetsTopicError> {
        let mut held = self.reads_held.lock().unwrap();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        let partitions = self.partitions.lock().unwrap();
        let Some((batches, _)) = partitions.get(&partition) else {
            return Ok(None);
        };
        let mut out = BytesMut::new();
        for batch in batches {
            let (header, _) = parse_batch(batch).unwrap();
            if header.last_offset() >= offset {
                out.extend_from_slice(batch);
            }
        }
        Ok((!out.is_empty()).then(|| out.freeze()))
    }
}

fn test_config() -> GroupConfig {
    GroupConfig {
        min_session_timeout: Duration::from_millis(1),
        initial_rebalance_delay: Duration::ZERO,
        offsets_topic_num_partitions: 2,
        ..GroupConfig::default()
    }
}

fn coordinator(topic: &Arc<MemoryTopic>) -> Arc<GroupCoordinator> {
    GroupCoordinator::new(
        test_config(),
        Arc::clone(topic) as Arc<dyn OffsetsTopic>,
        Arc::new(MetadataCache::new("cluster".into())),
        SystemClock::shared(),
        Shutdown::new(),
    )
}

fn leadership(c: &Arc<GroupCoordinator>, partition: i32, leader_epoch: i32, is_leader: bool) {
    let tp = TopicPartition::new(GROUP_METADATA_TOPIC_NAME, partition);
    c.on_leadership_change(
        vec![OffsetsPartitionLeadership {
            topic_partition: tp.clone(),
            leader_epoch,
            is_leader,
        }],
        &vec![(tp, Ok(()))],
    );
}

/// Waits (bounded) until `group_id`'s partition is loaded.
async fn until_loaded(c: &Arc<GroupCoordinator>, group_id: &str) {
    for _ in 0..200 {
        if c.fetch_offsets(group_id, None) != Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("partition of {group_id} never loaded");
}

/// A group id in partition `partition` of the two.
fn group_in(partition: i32) -> String {
    (0..)
        .map(|i| format!("group-{i}"))
        .find(|g| partition_for(g, 2) == partition)
        .unwrap_or_default()
}

fn join_request(member_id: &str, session: Duration) -> JoinRequest {
    JoinRequest {
        member_id: member_id.into(),
        group_instance_id: None,
        require_known_member_id: false,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        rebalance_timeout: Duration::from_secs(5),
        session_timeout: session,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: subscription(&["t"]),
        }],
    }
}

/// One member joins `group` and syncs an assignment: (member id, generation).
async fn stable_member(c: &Arc<GroupCoordinator>, group: &str, session: Duration) -> (String, i32) {
    let joined = c.join_group(group, join_request("", session)).await;
    assert_eq!(joined.error, ErrorCode::NONE);
    let synced = c
        .sync_group(
            group,
            SyncRequest {
                member_id: joined.member_id.clone(),
                group_instance_id: None,
                generation_id: joined.generation_id,
                protocol_type: None,
                protocol_name: None,
                assignments: vec![(joined.member_id.clone(), Bytes::from_static(b"t-0"))],
            },
        )
        .await;
    assert_eq!(synced.error, ErrorCode::NONE);
    (joined.member_id, joined.generation_id)
}

fn commit(member_id: &str, generation_id: i32, offset: i64) -> OffsetCommit {
    OffsetCommit {
        member_id: member_id.into(),
        group_instance_id: None,
        generation_id,
        offsets: vec![(
            TopicPartition::new("t", 0),
            CommittedOffset {
                offset,
                leader_epoch: None,
                metadata: String::new(),
                commit_timestamp_ms: 1,
                expire_timestamp_ms: None,
            },
        )],
    }
}

#[tokio::test]
async fn only_the_partitions_leader_coordinates() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let (mine, other) = (group_in(0), group_in(1));
    leadership(&c, 0, 1, true);
    until_loaded(&c, &mine).await;
    assert_eq!(
        c.heartbeat(&other, "m", None, 1),
        ErrorCode::NOT_COORDINATOR
    );
    assert_eq!(
        c.heartbeat(&mine, "m", None, 1),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let empty_id = c
        .join_group("", join_request("", Duration::from_secs(10)))
        .await;
    assert_eq!(empty_id.error, ErrorCode::INVALID_GROUP_ID);
    let too_short = c.join_group(&mine, join_request("", Duration::ZERO)).await;
    assert_eq!(too_short.error, ErrorCode::INVALID_SESSION_TIMEOUT);

    // A LeaderAndIsr making this broker a follower: NOT_COORDINATOR.
    leadership(&c, 0, 2, false);
    assert_eq!(c.heartbeat(&mine, "m", None, 1), ErrorCode::NOT_COORDINATOR);
    // A stale one (older epoch) changes nothing.
    leadership(&c, 0, 1, true);
    assert_eq!(c.heartbeat(&mine, "m", None, 1), ErrorCode::NOT_COORDINATOR);
}

#[tokio::test]
async fn a_loading_partition_asks_clients_to_wait() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let group = group_in(0);
    topic.hold_reads(true);
    leadership(&c, 0, 1, true);
    // The load reads an empty partition only if it got to read at all:
    // give it data so the read blocks.
    topic
        .append(0, &gregor_record::RecordBatchBuilder::new(0).build())
        .unwrap();
    assert_eq!(
        c.fetch_offsets(&group, None),
        Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    );
    assert_eq!(c.heartbeat(&group, "m", None, 1), ErrorCode::NONE);
    let sync = c
        .sync_group(
            &group,
            SyncRequest {
                member_id: "m".into(),
                group_instance_id: None,
                generation_id: 1,
                protocol_type: None,
                protocol_name: None,
                assignments: vec![],
            },
        )
        .await;
    assert_eq!(sync.error, ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(
        c.list_groups(&[]).0,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    topic.hold_reads(false);
    until_loaded(&c, &group).await;
    assert_eq!(c.list_groups(&[]), (ErrorCode::NONE, vec![]));
}

#[tokio::test]
async fn groups_and_offsets_move_to_the_next_coordinator() {
    let topic = Arc::new(MemoryTopic::default());
    let first = coordinator(&topic);
    let group = group_in(1);
    leadership(&first, 1, 1, true);
    until_loaded(&first, &group).await;
    let (member, generation) = stable_member(&first, &group, Duration::from_secs(30)).await;
    let committed = first
        .commit_offsets(&group, commit(&member, generation, 42))
        .await;
    assert_eq!(committed, [(TopicPartition::new("t", 0), ErrorCode::NONE)]);
    leadership(&first, 1, 2, false);
    assert_eq!(
        first.fetch_offsets(&group, None),
        Err(ErrorCode::NOT_COORDINATOR)
    );

    // Another broker becomes the leader and reads the partition.
    let second = coordinator(&topic);
    leadership(&second, 1, 3, true);
    until_loaded(&second, &group).await;
    let offsets = second.fetch_offsets(&group, None).unwrap();
    assert_eq!(offsets.len(), 1);
    assert_eq!(offsets[0].1.as_ref().map(|o| o.offset), Some(42));
    let summary = second.describe_group(&group).unwrap();
    assert_eq!(summary.state, GroupState::Stable);
    assert_eq!(summary.protocol, "range");
    assert_eq!(summary.members.len(), 1);
    assert_eq!(summary.members[0].member_id, member);
    assert_eq!(summary.members[0].assignment, Bytes::from_static(b"t-0"));
    // The member carries on with its generation.
    assert_eq!(
        second.heartbeat(&group, &member, None, generation),
        ErrorCode::NONE
    );
    let listed = second.list_groups(&["Stable".to_owned()]).1;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].group_id.as_str(),
            listed[0].protocol_type.as_str()
        ),
        (group.as_str(), "consumer")
    );
}

#[tokio::test]
async fn a_silent_member_expires_on_its_own() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let group = group_in(0);
    leadership(&c, 0, 1, true);
    until_loaded(&c, &group).await;
    let (member, generation) = stable_member(&c, &group, Duration::from_millis(100)).await;
    assert_eq!(
        c.heartbeat(&group, &member, None, generation),
        ErrorCode::NONE
    );
    let mut state = GroupState::Stable;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        state = c.describe_group(&group).unwrap().state;
        if state == GroupState::Empty {
            break;
        }
    }
    assert_eq!(state, GroupState::Empty);
    assert_eq!(
        c.heartbeat(&group, &member, None, generation),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

#[tokio::test]
async fn shutdown_stops_the_coordinators_tasks_and_refuses_requests() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    c.start();
    let group = group_in(0);
    leadership(&c, 0, 1, true);
    until_loaded(&c, &group).await;
    let (member, generation) = stable_member(&c, &group, Duration::from_secs(30)).await;
    // The offset expiry timer and the group's deadline task (asleep until
    // the session ends, 30 s away) both end, or this would time out.
    tokio::time::timeout(Duration::from_secs(10), c.shutdown())
        .await
        .expect("the coordinator's tasks end at shutdown");
    assert_eq!(
        c.heartbeat(&group, &member, None, generation),
        ErrorCode::COORDINATOR_NOT_AVAILABLE
    );
    assert_eq!(c.list_groups(&[]).0, ErrorCode::COORDINATOR_NOT_AVAILABLE);
}

#[tokio::test]
async fn only_empty_groups_are_deleted_and_subscribed_offsets_stay() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let group = group_in(0);
    leadership(&c, 0, 1, true);
    until_loaded(&c, &group).await;
    let (member, generation) = stable_member(&c, &group, Duration::from_secs(30)).await;
    let mut offsets = commit(&member, generation, 7);
    offsets
        .offsets
        .push((TopicPartition::new("u", 0), offsets.offsets[0].1.clone()));
    c.commit_offsets(&group, offsets).await;

    let deleted = c.delete_offsets(
        &group,
        &[TopicPartition::new("t", 0), TopicPartition::new("u", 0)],
    );
    assert_eq!(
        deleted,
        Ok(vec![
            (
                TopicPartition::new("t", 0),
                ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
            ),
            (TopicPartition::new("u", 0), ErrorCode::NONE)
        ])
    );
    assert_eq!(c.fetch_offsets(&group, None).unwrap().len(), 1);
    assert_eq!(
        c.delete_groups(std::slice::from_ref(&group)),
        [(group.clone(), ErrorCode::NON_EMPTY_GROUP)]
    );
    let leave = [LeavingMember {
        member_id: member,
        group_instance_id: None,
    }];
    assert_eq!(c.leave_group(&group, &leave), Ok(vec![ErrorCode::NONE]));
    assert_eq!(c.describe_group(&group).unwrap().state, GroupState::Empty);
    assert_eq!(
        c.delete_groups(std::slice::from_ref(&group)),
        [(group.clone(), ErrorCode::NONE)]
    );
    assert_eq!(c.describe_group(&group).unwrap().state, GroupState::Dead);
    assert_eq!(
        c.delete_groups(std::slice::from_ref(&group)),
        [(group.clone(), ErrorCode::GROUP_ID_NOT_FOUND)]
    );
    assert_eq!(
        c.delete_offsets(&group, &[]),
        Err(ErrorCode::GROUP_ID_NOT_FOUND)
    );

    // Reloaded, the deletion holds.
    let next = coordinator(&topic);
    leadership(&next, 0, 2, true);
    until_loaded(&next, &group).await;
    assert_eq!(next.fetch_offsets(&group, None), Ok(vec![]));
    assert_eq!(next.list_groups(&[]), (ErrorCode::NONE, vec![]));
}

#[tokio::test]
async fn a_stale_member_cannot_commit_to_an_unknown_group() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let group = group_in(0);
    leadership(&c, 0, 1, true);
    until_loaded(&c, &group).await;
    let stale = c.commit_offsets(&group, commit("m", 3, 1)).await;
    assert_eq!(stale[0].1, ErrorCode::ILLEGAL_GENERATION);
    let simple = c.commit_offsets(&group, commit("", -1, 1)).await;
    assert_eq!(simple[0].1, ErrorCode::NONE);
    assert_eq!(c.describe_group(&group).unwrap().state, GroupState::Empty);
}

#[tokio::test]
async fn a_leadership_change_the_replica_manager_refused_is_ignored() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let tp = TopicPartition::new(GROUP_METADATA_TOPIC_NAME, 0);
    let refused = crate::replica::ReplicaError::StaleLeaderEpoch {
        tp: tp.clone(),
        request: 1,
        current: 2,
    };
    c.on_leadership_change(
        vec![OffsetsPartitionLeadership {
            topic_partition: tp.clone(),
            leader_epoch: 1,
            is_leader: true,
        }],
        &vec![(tp, Err(refused))],
    );
    assert_eq!(
        c.fetch_offsets(&group_in(0), None),
        Err(ErrorCode::NOT_COORDINATOR)
    );
}

#[tokio::test]
async fn a_commit_the_replicas_do_not_get_is_refused_and_not_fetched() {
    let topic = Arc::new(MemoryTopic::default());
    let c = coordinator(&topic);
    let group = group_in(0);
    leadership(&c, 0, 1, true);
    until_loaded(&c, &group).await;
    *topic.commit_error.lock().unwrap() = Some(ErrorCode::REQUEST_TIMED_OUT);
    let outcome = c.commit_offsets(&group, commit("", -1, 5)).await;
    assert_eq!(outcome[0].1, ErrorCode::REQUEST_TIMED_OUT);
    let fetched = c.fetch_offsets(&group, None).unwrap();
    assert!(fetched.is_empty(), "{fetched:?}");
}
