//! Offset commits, fetches, deletion and expiry on one group.

use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::coordinator::config::GroupConfig;
use crate::coordinator::membership::Ctx;
use crate::coordinator::schema::{decode_key, decode_offset_value, RecordKey};
use crate::coordinator::testing::{config, ctx, member, subscription, RecordingLog};

fn offset(at: i64, metadata: &str) -> CommittedOffset {
    CommittedOffset {
        offset: at,
        leader_epoch: Some(2),
        metadata: metadata.into(),
        commit_timestamp_ms: 1_000,
        expire_timestamp_ms: None,
    }
}

fn commit(member_id: &str, generation_id: i32, offsets: &[(&str, i32, i64)]) -> OffsetCommit {
    OffsetCommit {
        member_id: member_id.into(),
        group_instance_id: None,
        generation_id,
        offsets: offsets
            .iter()
            .map(|(t, p, o)| (TopicPartition::new(*t, *p), offset(*o, "")))
            .collect(),
    }
}

/// A Stable consumer group of generation 1 whose member "m" consumes "t".
fn stable_group() -> GroupMetadata {
    let mut group = GroupMetadata::new("g".into(), 0);
    let mut m = member("m", &["range"]);
    m.protocols[0].metadata = subscription(&["t"]);
    group.add_member(m);
    group.init_next_generation(0);
    group.state = GroupState::Stable;
    group
}

/// Commits, the write committed at once as with a lone in-sync replica.
fn committed(
    group: &mut GroupMetadata,
    commit: OffsetCommit,
    ctx: &Ctx<'_>,
) -> Vec<(TopicPartition, ErrorCode)> {
    let outcome = group.commit_offsets(commit, ctx);
    group.complete_offset_commit(outcome, Ok(()))
}

fn codes(outcome: &[(TopicPartition, ErrorCode)]) -> Vec<ErrorCode> {
    outcome.iter().map(|(_, c)| *c).collect()
}

#[test]
fn a_consumer_outside_group_management_stores_offsets() {
    let (config, log) = (config(), RecordingLog::default());
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = GroupMetadata::new("g".into(), 0);
    let outcome = committed(
        &mut group,
        commit("", -1, &[("t", 0, 5), ("t", 1, 7)]),
        &ctx,
    );
    assert_eq!(codes(&outcome), [ErrorCode::NONE, ErrorCode::NONE]);

    let fetched = group.fetch_offsets(Some(&[
        TopicPartition::new("t", 1),
        TopicPartition::new("u", 0),
    ]));
    assert_eq!(fetched[0].1.as_ref().map(|o| o.offset), Some(7));
    assert_eq!(fetched[1].1, None);
    assert_eq!(group.fetch_offsets(None).len(), 2);

    // Both went to the log in one batch, in Kafka's schemas.
    let appended = log.appended.borrow();
    assert_eq!(appended.len(), 1);
    let (key, value) = &appended[0][1];
    let RecordKey::Offset(key) = decode_key(key).unwrap() else {
        panic!("not an offset key");
    };
    assert_eq!(
        (key.group.as_str(), key.topic.as_str(), key.partition),
        ("g", "t", 1)
    );
    let value = decode_offset_value(value.as_ref().unwrap()).unwrap();
    assert_eq!(
        (value.offset, value.leader_epoch, value.commit_timestamp),
        (7, 2, 1_000)
    );
}

#[test]
fn oversized_metadata_is_refused_per_partition() {
    let config = GroupConfig {
        offset_metadata_max_bytes: 3,
        ..config()
    };
    let log = RecordingLog::default();
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = GroupMetadata::new("g".into(), 0);
    let mut request = commit("", -1, &[("t", 0, 1), ("t", 1, 1)]);
    request.offsets[1].1.metadata = "four".into();
    let outcome = committed(&mut group, request, &ctx);
    assert_eq!(
        codes(&outcome),
        [ErrorCode::NONE, ErrorCode::OFFSET_METADATA_TOO_LARGE]
    );
    assert_eq!(group.fetch_offsets(None).len(), 1);
}

#[test]
fn members_commit_in_their_generation_only() {
    let (config, log) = (config(), RecordingLog::default());
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = stable_group();
    let ok = committed(&mut group, commit("m", 1, &[("t", 0, 3)]), &ctx);
    assert_eq!(codes(&ok), [ErrorCode::NONE]);
    let stale = committed(&mut group, commit("m", 0, &[("t", 0, 4)]), &ctx);
    assert_eq!(codes(&stale), [ErrorCode::ILLEGAL_GENERATION]);
    let stranger = committed(&mut group, commit("x", 1, &[("t", 0, 4)]), &ctx);
    assert_eq!(codes(&stranger), [ErrorCode::UNKNOWN_MEMBER_ID]);
    // A groupless commit to a group with members is from a stranger too.
    let simple = committed(&mut group, commit("", -1, &[("t", 0, 4)]), &ctx);
    assert_eq!(codes(&simple), [ErrorCode::UNKNOWN_MEMBER_ID]);
    group.state = GroupState::CompletingRebalance;
    let early = committed(&mut group, commit("m", 1, &[("t", 0, 4)]), &ctx);
    assert_eq!(codes(&early), [ErrorCode::REBALANCE_IN_PROGRESS]);
    assert_eq!(
        group.fetch_offsets(None)[0].1.as_ref().map(|o| o.offset),
        Some(3)
    );
}

#[test]
fn a_failed_write_commits_nothing() {
    let (config, log) = (config(), RecordingLog::default());
    *log.fail_with.borrow_mut() = Some(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = stable_group();
    let outcome = committed(&mut group, commit("m", 1, &[("t", 0, 3)]), &ctx);
    assert_eq!(codes(&outcome), [ErrorCode::NOT_COORDINATOR]);
    assert!(!group.has_offsets());
}

#[test]
fn offsets_count_once_the_in_sync_replicas_have_them() {
    let (config, log) = (config(), RecordingLog::default());
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = stable_group();
    let pending = group.commit_offsets(commit("m", 1, &[("t", 0, 3)]), &ctx);
    assert!(pending.written.is_some());
    assert!(!group.has_offsets(), "not fetchable before it is committed");
    let timed_out = group.complete_offset_commit(pending, Err(ErrorCode::REQUEST_TIMED_OUT));
    assert_eq!(codes(&timed_out), [ErrorCode::REQUEST_TIMED_OUT]);
    assert!(!group.has_offsets());
    // The ISR shrank below min.insync.replicas after the append.
    let pending = group.commit_offsets(commit("m", 1, &[("t", 0, 4)]), &ctx);
    let short =
        group.complete_offset_commit(pending, Err(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND));
    assert_eq!(codes(&short), [ErrorCode::COORDINATOR_NOT_AVAILABLE]);
}

#[test]
fn of_two_commits_completing_out_of_order_the_later_write_wins() {
    let (config, log) = (config(), RecordingLog::default());
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = stable_group();
    let earlier = group.commit_offsets(commit("m", 1, &[("t", 0, 3)]), &ctx);
    let later = group.commit_offsets(commit("m", 1, &[("t", 0, 8)]), &ctx);
    group.complete_offset_commit(later, Ok(()));
    group.complete_offset_commit(earlier, Ok(()));
    assert_eq!(
        group.fetch_offsets(None)[0].1.as_ref().map(|o| o.offset),
        Some(8)
    );
}

#[test]
fn offsets_expire_by_kafkas_rules() {
    let config = GroupConfig {
        offsets_retention: Duration::from_millis(100),
        ..config()
    };
    let log = RecordingLog::default();
    let at = |now_ms| {
        let mut c = ctx(Instant::now(), &config, &log);
        c.now_ms = now_ms;
        c
    };
    // A consumer group with members: only topics nobody subscribes to.
    let mut group = stable_group();
    group
        .offsets
        .insert(TopicPartition::new("t", 0), offset(1, ""));
    group
        .offsets
        .insert(TopicPartition::new("old", 0), offset(1, ""));
    assert!(group.expired_offsets(&at(1_099)).is_empty());
    assert_eq!(
        group.expired_offsets(&at(1_100)),
        [TopicPartition::new("old", 0)]
    );

    // An Empty group: counting from when it became empty.
    let mut empty = GroupMetadata::new("e".into(), 5_000);
    empty.protocol_type = Some("consumer".into());
    empty
        .offsets
        .insert(TopicPartition::new("t", 0), offset(1, ""));
    assert!(empty.expired_offsets(&at(5_099)).is_empty());
    assert_eq!(empty.expired_offsets(&at(5_100)).len(), 1);

    // Outside group management: counting from the commit; an explicit
    // expire timestamp wins.
    let mut simple = GroupMetadata::new("s".into(), 9_000);
    simple
        .offsets
        .insert(TopicPartition::new("t", 0), offset(1, ""));
    let mut explicit = offset(1, "");
    explicit.expire_timestamp_ms = Some(50_000);
    simple.offsets.insert(TopicPartition::new("t", 1), explicit);
    assert_eq!(
        simple.expired_offsets(&at(1_100)),
        [TopicPartition::new("t", 0)]
    );
    assert_eq!(simple.expired_offsets(&at(50_000)).len(), 2);
}

#[test]
fn removing_the_last_offsets_of_an_empty_group_ends_it() {
    let (config, log) = (config(), RecordingLog::default());
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = GroupMetadata::new("g".into(), 0);
    committed(
        &mut group,
        commit("", -1, &[("t", 0, 5), ("t", 1, 6)]),
        &ctx,
    );
    let removed = group.remove_offsets(
        &[TopicPartition::new("t", 0), TopicPartition::new("x", 0)],
        &ctx,
    );
    assert_eq!(removed, 1);
    assert!(group.is(GroupState::Empty));
    group.remove_offsets(&[TopicPartition::new("t", 1)], &ctx);
    assert!(group.is(GroupState::Dead));
    let appended = log.appended.borrow();
    // Two tombstone batches after the commit; a group that never had a
    // generation gets no group tombstone.
    assert_eq!(appended.len(), 3);
    assert!(appended[1..].iter().flatten().all(|(_, v)| v.is_none()));
    assert_eq!(appended[2].len(), 1);
}

#[test]
fn deleting_a_group_with_a_generation_tombstones_its_metadata() {
    let (config, log) = (config(), RecordingLog::default());
    let ctx = ctx(Instant::now(), &config, &log);
    let mut group = GroupMetadata::new("g".into(), 0);
    group.generation_id = 3;
    group
        .offsets
        .insert(TopicPartition::new("t", 0), offset(1, ""));
    group.unload(&ctx);
    group.remove_offsets(&[TopicPartition::new("t", 0)], &ctx);
    let appended = log.appended.borrow();
    let keys: Vec<RecordKey> = appended[0]
        .iter()
        .map(|(k, _)| decode_key(k).unwrap())
        .collect();
    assert!(matches!(&keys[0], RecordKey::Offset(k) if k.topic == "t"));
    assert!(matches!(&keys[1], RecordKey::Group(k) if k.group == "g"));
}
