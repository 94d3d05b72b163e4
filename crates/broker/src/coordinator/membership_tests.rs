//! The membership protocol, driven with explicit times.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::*;
use crate::coordinator::config::GroupConfig;
use crate::coordinator::schema::{decode_group_value, decode_key, RecordKey};
use crate::coordinator::testing::{config, ctx, RecordingLog};

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(60);

fn request(member_id: &str) -> JoinRequest {
    JoinRequest {
        member_id: member_id.into(),
        group_instance_id: None,
        require_known_member_id: false,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        rebalance_timeout: REBALANCE,
        session_timeout: SESSION,
        protocol_type: "consumer".into(),
        protocols: vec![Protocol {
            name: "range".into(),
            metadata: Bytes::from_static(b"subscription"),
        }],
    }
}

fn static_request(member_id: &str, instance: &str) -> JoinRequest {
    JoinRequest {
        group_instance_id: Some(instance.into()),
        ..request(member_id)
    }
}

/// The answer, which must have been sent.
fn answered<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<T>) -> T {
    rx.try_recv().expect("answered")
}

fn pending<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<T>) {
    assert_eq!(
        rx.try_recv().unwrap_err(),
        oneshot::error::TryRecvError::Empty
    );
}

/// Drives a group through time, with one log.
struct Harness {
    group: GroupMetadata,
    config: GroupConfig,
    log: RecordingLog,
    start: Instant,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Self::with_config(config())
    }

    fn with_config(config: GroupConfig) -> Self {
        let now = Instant::now();
        Harness {
            group: GroupMetadata::new("g".into(), 0),
            config,
            log: RecordingLog::default(),
            start: now,
            now,
        }
    }

    fn at(&mut self, after_start: Duration) {
        self.now = self.start + after_start;
    }

    fn join(&mut self, request: JoinRequest) -> oneshot::Receiver<JoinResult> {
        let ctx = ctx(self.now, &self.config, &self.log);
        self.group.join(request, &ctx)
    }

    fn sync(
        &mut self,
        member_id: &str,
        generation_id: i32,
        assignments: &[(&str, &[u8])],
    ) -> oneshot::Receiver<SyncResult> {
        let ctx = ctx(self.now, &self.config, &self.log);
        let request = SyncRequest {
            member_id: member_id.into(),
            group_instance_id: None,
            generation_id,
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments: assignments
                .iter()
                .map(|(m, a)| ((*m).to_owned(), Bytes::copy_from_slice(a)))
                .collect(),
        };
        self.group.sync(request, &ctx)
    }

    fn heartbeat(&mut self, member_id: &str, generation_id: i32) -> ErrorCode {
        let ctx = ctx(self.now, &self.config, &self.log);
        self.group.heartbeat(member_id, None, generation_id, &ctx)
    }

    /// Runs the expiry as the deadline task does: again while something
    /// is due (a zero initial delay extends to "now").
    fn expire(&mut self) {
        let ctx = ctx(self.now, &self.config, &self.log);
        for _ in 0..10 {
            self.group.expire(&ctx);
            if self.group.next_deadline().is_none_or(|d| d > self.now) {
                return;
            }
        }
        panic!("expiry does not settle at {:?}", self.now - self.start);
    }

    /// Joins `count` new members (no initial delay) and returns their ids
    /// once the first generation formed, the leader first.
    fn form(&mut self, count: usize) -> Vec<String> {
        let mut answers: Vec<_> = (0..count).map(|_| self.join(request(""))).collect();
        self.expire();
        let results: Vec<JoinResult> = answers.iter_mut().map(answered).collect();
        let mut ids: Vec<String> = results.iter().map(|r| r.member_id.clone()).collect();
        let leader = results[0].leader_id.clone();
        ids.sort_by_key(|id| *id != leader);
        ids
    }

    /// [`form`](Self::form), then the leader assigns each member its own id.
    fn stable(&mut self, count: usize) -> Vec<String> {
        let ids = self.form(count);
        let generation = self.group.generation_id;
        let assignments: Vec<(&str, &[u8])> =
            ids.iter().map(|id| (id.as_str(), id.as_bytes())).collect();
        let mut followers: Vec<_> = ids[1..]
            .iter()
            .map(|id| self.sync(id, generation, &[]))
            .collect();
        let mut leader = self.sync(&ids[0], generation, &assignments);
        assert_eq!(answered(&mut leader).error, ErrorCode::NONE);
        for f in &mut followers {
            assert_eq!(answered(f).error, ErrorCode::NONE);
        }
        assert!(self.group.is(GroupState::Stable));
        ids
    }
}

#[test]
fn new_member_gets_its_id_first_when_required() {
    let mut h = Harness::new();
    let mut first = h.join(JoinRequest {
        require_known_member_id: true,
        ..request("")
    });
    let result = answered(&mut first);
    assert_eq!(result.error, ErrorCode::MEMBER_ID_REQUIRED);
    assert!(
        result.member_id.starts_with("client-"),
        "{}",
        result.member_id
    );
    assert!(h.group.members.is_empty());

    let mut second = h.join(request(&result.member_id));
    pending(&mut second);
    h.expire();
    let joined = answered(&mut second);
    assert_eq!(joined.error, ErrorCode::NONE);
    assert_eq!(joined.member_id, result.member_id);
    assert_eq!(joined.leader_id, result.member_id);
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.members.len(), 1);
    assert_eq!(
        joined.members[0].metadata,
        Bytes::from_static(b"subscription")
    );
    assert!(h.group.is(GroupState::CompletingRebalance));
}

#[test]
fn an_unused_pending_member_id_lapses() {
    let mut h = Harness::new();
    let mut rx = h.join(JoinRequest {
        require_known_member_id: true,
        ..request("")
    });
    let id = answered(&mut rx).member_id;
    assert_eq!(h.group.next_deadline(), Some(h.start + SESSION));
    h.at(SESSION);
    h.expire();
    assert!(h.group.pending_members.is_empty());
    let mut late = h.join(request(&id));
    assert_eq!(answered(&mut late).error, ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn initial_delay_waits_for_more_members() {
    let mut h = Harness::with_config(GroupConfig {
        initial_rebalance_delay: Duration::from_secs(3),
        ..GroupConfig::default()
    });
    let mut a = h.join(request(""));
    assert_eq!(
        h.group.next_deadline(),
        Some(h.start + Duration::from_secs(3))
    );
    h.at(Duration::from_secs(1));
    let mut b = h.join(request(""));
    h.at(Duration::from_secs(3));
    h.expire();
    // B arrived during the delay: wait once more.
    pending(&mut a);
    assert_eq!(
        h.group.next_deadline(),
        Some(h.start + Duration::from_secs(6))
    );
    h.at(Duration::from_secs(6));
    h.expire();
    let (a, b) = (answered(&mut a), answered(&mut b));
    assert_eq!(a.generation_id, 1);
    assert_eq!(a.leader_id, b.leader_id);
    let leader = if a.leader_id == a.member_id { &a } else { &b };
    let follower = if a.leader_id == a.member_id { &b } else { &a };
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());
}

#[test]
fn leader_assignment_reaches_every_member_and_is_stored() {
    let mut h = Harness::new();
    let ids = h.form(3);
    let mut follower = h.sync(&ids[1], 1, &[]);
    pending(&mut follower);
    // The leader's assignment forgets ids[2]: it gets an empty one.
    let mut leader = h.sync(&ids[0], 1, &[(&ids[0], b"p0"), (&ids[1], b"p1")]);
    assert_eq!(answered(&mut leader).assignment, Bytes::from_static(b"p0"));
    let follower = answered(&mut follower);
    assert_eq!(follower.assignment, Bytes::from_static(b"p1"));
    assert_eq!(follower.protocol_name.as_deref(), Some("range"));
    assert!(h.group.is(GroupState::Stable));
    // A late follower gets its assignment at once.
    let mut late = h.sync(&ids[2], 1, &[]);
    let late = answered(&mut late);
    assert_eq!((late.error, late.assignment.len()), (ErrorCode::NONE, 0));

    let appended = h.log.appended.borrow();
    assert_eq!(appended.len(), 1);
    let (key, value) = &appended[0][0];
    assert!(matches!(decode_key(key).unwrap(), RecordKey::Group(k) if k.group == "g"));
    let value = decode_group_value(value.as_ref().unwrap()).unwrap();
    assert_eq!(value.generation, 1);
    assert_eq!(value.protocol.as_deref(), Some("range"));
    assert_eq!(value.leader.as_deref(), Some(ids[0].as_str()));
    assert_eq!(value.members.len(), 3);
    let stored = |id: &str| {
        value
            .members
            .iter()
            .find(|m| m.member_id == id)
            .map(|m| (m.assignment.clone(), m.session_timeout, m.rebalance_timeout))
    };
    assert_eq!(
        stored(&ids[1]),
        Some((Bytes::from_static(b"p1"), 10_000, 60_000))
    );
}

#[test]
fn sync_is_checked_against_the_generation() {
    let mut h = Harness::new();
    let ids = h.form(1);
    let mut stale = h.sync(&ids[0], 0, &[]);
    assert_eq!(answered(&mut stale).error, ErrorCode::ILLEGAL_GENERATION);
    let mut stranger = h.sync("nobody", 1, &[]);
    assert_eq!(answered(&mut stranger).error, ErrorCode::UNKNOWN_MEMBER_ID);
    let ctx = ctx(h.now, &h.config, &h.log);
    let mut wrong_protocol = h.group.sync(
        SyncRequest {
            member_id: ids[0].clone(),
            group_instance_id: None,
            generation_id: 1,
            protocol_type: None,
            protocol_name: Some("roundrobin".into()),
            assignments: vec![],
        },
        &ctx,
    );
    assert_eq!(
        answered(&mut wrong_protocol).error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
}

#[test]
fn a_failed_store_sends_members_back_to_join() {
    let mut h = Harness::new();
    let ids = h.form(2);
    let mut follower = h.sync(&ids[1], 1, &[]);
    *h.log.fail_with.borrow_mut() = Some(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let mut leader = h.sync(&ids[0], 1, &[(&ids[0], b"a"), (&ids[1], b"b")]);
    assert_eq!(answered(&mut leader).error, ErrorCode::NOT_COORDINATOR);
    assert_eq!(answered(&mut follower).error, ErrorCode::NOT_COORDINATOR);
    assert!(h.group.is(GroupState::PreparingRebalance));
}

#[test]
fn heartbeats_tell_members_about_rebalances() {
    let mut h = Harness::new();
    let ids = h.stable(2);
    assert_eq!(h.heartbeat(&ids[1], 1), ErrorCode::NONE);
    assert_eq!(h.heartbeat(&ids[1], 0), ErrorCode::ILLEGAL_GENERATION);
    assert_eq!(h.heartbeat("nobody", 1), ErrorCode::UNKNOWN_MEMBER_ID);

    // A third member joins: the others learn it from their heartbeats.
    let mut c = h.join(request(""));
    pending(&mut c);
    assert!(h.group.is(GroupState::PreparingRebalance));
    assert_eq!(h.heartbeat(&ids[1], 1), ErrorCode::REBALANCE_IN_PROGRESS);
    let mut a = h.join(request(&ids[0]));
    let mut b = h.join(request(&ids[1]));
    // Everyone rejoined: the rebalance completes without waiting.
    let (a, b, c) = (answered(&mut a), answered(&mut b), answered(&mut c));
    assert_eq!(
        (a.generation_id, b.generation_id, c.generation_id),
        (2, 2, 2)
    );
    assert_eq!(a.members.len(), 3);
    assert!(h.group.is(GroupState::CompletingRebalance));
    assert_eq!(h.heartbeat(&ids[1], 2), ErrorCode::NONE);
}

#[test]
fn a_silent_member_is_removed_after_its_session_timeout() {
    let mut h = Harness::new();
    let ids = h.stable(2);
    h.at(Duration::from_secs(6));
    assert_eq!(h.heartbeat(&ids[0], 1), ErrorCode::NONE);
    // ids[1] last showed up at 0s: its session ends at 10s.
    assert_eq!(h.group.next_deadline(), Some(h.start + SESSION));
    h.at(SESSION);
    h.expire();
    assert!(!h.group.members.contains_key(&ids[1]));
    assert!(h.group.is(GroupState::PreparingRebalance));
    assert_eq!(h.heartbeat(&ids[0], 1), ErrorCode::REBALANCE_IN_PROGRESS);
    let mut a = h.join(request(&ids[0]));
    let a = answered(&mut a);
    assert_eq!((a.generation_id, a.members.len()), (2, 1));
}

#[test]
fn members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() {
    let mut h = Harness::new();
    let ids = h.stable(2);
    h.at(Duration::from_secs(5));
    let mut a = h.join(request(&ids[0]));
    pending(&mut a);
    // ids[1] keeps heartbeating but does not rejoin.
    for s in (8..60).step_by(3) {
        h.at(Duration::from_secs(s));
        assert_eq!(h.heartbeat(&ids[1], 1), ErrorCode::REBALANCE_IN_PROGRESS);
        h.expire();
        pending(&mut a);
    }
    h.at(Duration::from_secs(5) + REBALANCE);
    h.expire();
    let a = answered(&mut a);
    assert_eq!((a.generation_id, a.members.len()), (2, 1));
    assert_eq!(h.heartbeat(&ids[1], 1), ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn leaving_members_are_answered_one_by_one() {
    let mut h = Harness::new();
    let ids = h.stable(2);
    let ctx = ctx(h.now, &h.config, &h.log);
    let leaving = [
        LeavingMember {
            member_id: ids[1].clone(),
            group_instance_id: None,
        },
        LeavingMember {
            member_id: "nobody".into(),
            group_instance_id: None,
        },
    ];
    let outcome = h.group.leave(&leaving, &ctx).unwrap();
    assert_eq!(outcome, [ErrorCode::NONE, ErrorCode::UNKNOWN_MEMBER_ID]);
    assert!(h.group.is(GroupState::PreparingRebalance));
    let last = [LeavingMember {
        member_id: ids[0].clone(),
        group_instance_id: None,
    }];
    assert_eq!(h.group.leave(&last, &ctx).unwrap(), [ErrorCode::NONE]);
    // Nobody left to rejoin: the group is empty in the next generation,
    // and that is stored too.
    assert!(h.group.is(GroupState::Empty));
    assert_eq!(h.group.generation_id, 2);
    let appended = h.log.appended.borrow();
    let value = decode_group_value(appended.last().unwrap()[0].1.as_ref().unwrap()).unwrap();
    assert_eq!((value.generation, value.members.len()), (2, 0));
}

#[test]
fn members_must_share_a_protocol() {
    let mut h = Harness::new();
    h.form(1);
    let mut other = h.join(JoinRequest {
        protocols: vec![Protocol {
            name: "roundrobin".into(),
            metadata: Bytes::new(),
        }],
        ..request("")
    });
    assert_eq!(
        answered(&mut other).error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut connect = h.join(JoinRequest {
        protocol_type: "connect".into(),
        ..request("")
    });
    assert_eq!(
        answered(&mut connect).error,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL
    );
}

#[test]
fn a_static_member_rejoining_takes_over_without_a_rebalance() {
    let mut h = Harness::new();
    let mut first = h.join(JoinRequest {
        require_known_member_id: true,
        ..static_request("", "instance-1")
    });
    h.expire();
    // Static members need no MEMBER_ID_REQUIRED round.
    let first = answered(&mut first);
    assert_eq!(first.error, ErrorCode::NONE);
    assert!(first.member_id.starts_with("instance-1-"));
    let old_id = first.member_id.clone();
    let mut sync = h.sync(&old_id, 1, &[(&old_id, b"mine")]);
    assert_eq!(answered(&mut sync).error, ErrorCode::NONE);

    // The instance restarts and joins without its member id.
    let mut again = h.join(static_request("", "instance-1"));
    let again = answered(&mut again);
    assert_eq!(again.error, ErrorCode::NONE);
    assert_ne!(again.member_id, old_id);
    assert_eq!(again.generation_id, 1);
    assert_eq!(
        again.leader_id, old_id,
        "the old leader id, so it does not reassign"
    );
    assert!(h.group.is(GroupState::Stable));
    let ctx = ctx(h.now, &h.config, &h.log);
    assert_eq!(
        h.group.heartbeat(&old_id, Some("instance-1"), 1, &ctx),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(
        h.group
            .heartbeat(&again.member_id, Some("instance-1"), 1, &ctx),
        ErrorCode::NONE
    );
    let mut sync = h.sync(&again.member_id, 1, &[]);
    assert_eq!(answered(&mut sync).assignment, Bytes::from_static(b"mine"));
}

#[test]
fn a_static_member_leaves_by_instance_id() {
    let mut h = Harness::new();
    let mut first = h.join(static_request("", "i"));
    h.expire();
    let id = answered(&mut first).member_id;
    let ctx = ctx(h.now, &h.config, &h.log);
    let fenced = [LeavingMember {
        member_id: "old".into(),
        group_instance_id: Some("i".into()),
    }];
    assert_eq!(
        h.group.leave(&fenced, &ctx).unwrap(),
        [ErrorCode::FENCED_INSTANCE_ID]
    );
    let by_instance = [LeavingMember {
        member_id: UNKNOWN_MEMBER_ID.into(),
        group_instance_id: Some("i".into()),
    }];
    assert_eq!(
        h.group.leave(&by_instance, &ctx).unwrap(),
        [ErrorCode::NONE]
    );
    assert!(!h.group.members.contains_key(&id));
    assert!(h.group.static_members.is_empty());
}

#[test]
fn unloading_answers_waiting_members() {
    let mut h = Harness::new();
    let ids = h.stable(1);
    let mut b = h.join(request(""));
    pending(&mut b);
    let ctx = ctx(h.now, &h.config, &h.log);
    h.group.unload(&ctx);
    assert_eq!(answered(&mut b).error, ErrorCode::NOT_COORDINATOR);
    assert!(h.group.is(GroupState::Dead));
    assert_eq!(
        h.heartbeat(&ids[0], 1),
        ErrorCode::COORDINATOR_NOT_AVAILABLE
    );
    let mut late = h.join(request(""));
    assert_eq!(
        answered(&mut late).error,
        ErrorCode::COORDINATOR_NOT_AVAILABLE
    );
}

#[test]
fn a_full_group_refuses_new_members_but_not_its_own() {
    let mut h = Harness::with_config(GroupConfig {
        max_size: 2,
        ..config()
    });
    let ids = h.stable(2);
    let mut third = h.join(request(""));
    let refused = answered(&mut third);
    assert_eq!(refused.error, ErrorCode::GROUP_MAX_SIZE_REACHED);
    assert_eq!(refused.member_id, "");
    assert_eq!(h.group.members.len(), 2);
    assert!(
        h.group.is(GroupState::Stable),
        "no rebalance for a refused member"
    );
    // A member already in the group rejoins as before.
    let mut again = h.join(request(&ids[1]));
    h.expire();
    assert_eq!(answered(&mut again).error, ErrorCode::NONE);
}
