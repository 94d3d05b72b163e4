//! A group's state (Kafka's `GroupMetadata`): its members, generation,
//! chosen protocol and leader, where it is in the rebalance protocol, and its
//! committed offsets. What the coordinator does with it is in
//! [`membership`](super::membership) and [`offsets`](super::offsets); this
//! file holds the data and the small rules every operation shares.
//!
//! ```text
//! Empty --join--> PreparingRebalance --all rejoined or timeout--> CompletingRebalance
//! CompletingRebalance --leader's SyncGroup stored--> Stable
//! Stable, CompletingRebalance --join, leave, session expiry--> PreparingRebalance
//! PreparingRebalance --no member rejoined--> Empty
//! any --partition unloaded, group deleted--> Dead
//! ```
//!
//! * Empty: no members (offsets may remain). A join starts a rebalance.
//! * PreparingRebalance: waiting for every member to (re)join, up to the
//!   rebalance timeout; a new group first waits
//!   `group.initial.rebalance.delay.ms` for more members.
//! * CompletingRebalance: the generation is set and the leader has the
//!   members; waiting for its SyncGroup with the assignment.
//! * Stable: the assignment is stored and handed out; heartbeats flow.
//! * Dead: removed from this coordinator; requests are told to look again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use gregor_protocol::consumer_protocol::Subscription;
use gregor_protocol::TopicPartition;

use super::member::Member;
use super::offsets::CommittedOffset;

use gregor_protocol::consumer_protocol::CONSUMER_PROTOCOL_TYPE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka reports (DescribeGroups, ListGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When the rebalance in progress completes at the latest (Kafka's
/// `DelayedJoin` waiting in the rebalance purgatory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinTimer {
    pub deadline: Instant,
    /// Set for a new group's first rebalance (Kafka's `InitialDelayedJoin`),
    /// which never completes before its deadline.
    pub initial: Option<InitialDelay>,
}

/// The `group.initial.rebalance.delay.ms` wait: extended by `delay` while
/// new members keep arriving, for at most `remaining` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialDelay {
    pub delay: Duration,
    pub remaining: Duration,
}

/// One member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// What DescribeGroups shows of a group (Kafka's `GroupSummary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub state: GroupState,
    pub protocol_type: String,
    /// The chosen protocol; empty unless Stable.
    pub protocol: String,
    pub members: Vec<MemberSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Empty unless the group is Stable.
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug)]
pub struct GroupMetadata {
    pub group_id: String,
    pub(super) state: GroupState,
    /// When it entered its state, ms since the epoch (stored with the group
    /// metadata; an Empty group's offsets expire counting from it).
    pub(super) state_timestamp_ms: Option<i64>,
    pub(super) protocol_type: Option<String>,
    pub(super) protocol_name: Option<String>,
    pub(super) generation_id: i32,
    pub(super) leader_id: Option<String>,
    pub(super) members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, and when they lapse
    /// if the member does not join with them.
    pub(super) pending_members: HashMap<String, Instant>,
    /// Static members: group instance id to current member id.
    pub(super) static_members: HashMap<String, String>,
    /// Whether a member joined during a new group's initial delay (which
    /// then waits once more).
    pub(super) new_member_added: bool,
    pub(super) join_timer: Option<JoinTimer>,
    /// The topics the members consume, when known (consumer groups).
    pub(super) subscribed_topics: Option<BTreeSet<String>>,
    pub(super) offsets: HashMap<TopicPartition, CommittedOffset>,
    /// Where in the log each offset's record ends: of two commits of a
    /// partition completing out of order, the later record wins.
    pub(super) offset_positions: HashMap<TopicPartition, i64>,
}

impl GroupMetadata {
    pub fn new(group_id: String, now_ms: i64) -> Self {
        GroupMetadata {
            group_id,
            state: GroupState::Empty,
            state_timestamp_ms: Some(now_ms),
            protocol_type: None,
            protocol_name: None,
            generation_id: 0,
            leader_id: None,
            members: BTreeMap::new(),
            pending_members: HashMap::new(),
            static_members: HashMap::new(),
            new_member_added: false,
            join_timer: None,
            subscribed_topics: None,
            offsets: HashMap::new(),
            offset_positions: HashMap::new(),
        }
    }

    pub fn state(&self) -> GroupState {
        self.state
    }

    pub fn is(&self, state: GroupState) -> bool {
        self.state == state
    }

    pub fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    pub(super) fn transition_to(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_timestamp_ms = Some(now_ms);
    }

    /// Whether a rebalance may start from here.
    pub(super) fn can_rebalance(&self) -> bool {
        matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        )
    }

    pub(super) fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// A new member id: the client id (or the static member's instance id)
    /// and a random UUID, as Kafka forms them.
    pub(super) fn generate_member_id(client_id: &str, group_instance_id: Option<&str>) -> String {
        let prefix = group_instance_id.unwrap_or(client_id);
        format!("{prefix}-{}", uuid::Uuid::new_v4())
    }

    /// Adds a member; the first one sets the protocol type, and becomes
    /// leader if there is none.
    pub(super) fn add_member(&mut self, member: Member) {
        if self.members.is_empty() {
            self.protocol_type = Some(member.protocol_type.clone());
        }
        if self.leader_id.is_none() {
            self.leader_id = Some(member.member_id.clone());
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member; a departing leader hands over to any other member.
    pub(super) fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let member = self.members.remove(member_id)?;
        if let Some(instance) = &member.group_instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.keys().next().cloned();
        }
        Some(member)
    }

    /// Whether `group_instance_id` belongs to another member than
    /// `member_id`: an older instance of a static member, fenced by the
    /// newer one (FENCED_INSTANCE_ID).
    pub(super) fn is_static_member_fenced(
        &self,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> bool {
        group_instance_id
            .and_then(|instance| self.static_members.get(instance))
            .is_some_and(|current| current != member_id)
    }

    /// The longest rebalance timeout among the members.
    pub(super) fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    pub(super) fn num_awaiting_join(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.is_awaiting_join())
            .count()
    }

    /// Every member has rejoined and no pending member id is outstanding.
    pub(super) fn has_all_members_joined(&self) -> bool {
        self.members.len() == self.num_awaiting_join() && self.pending_members.is_empty()
    }

    /// The protocols every member supports.
    fn candidate_protocols(&self) -> HashSet<&str> {
        let mut members = self.members.values();
        let Some(first) = members.next() else {
            return HashSet::new();
        };
        let mut candidates: HashSet<&str> =
            first.protocols.iter().map(|p| p.name.as_str()).collect();
        for member in members {
            candidates.retain(|name| member.protocols.iter().any(|p| p.name == *name));
        }
        candidates
    }

    /// Whether a member of `protocol_type` supporting `protocols` may join:
    /// an Empty group takes any non-empty offer; otherwise the type must
    /// match and one of the protocols must be supported by every member.
    pub(super) fn supports_protocols(&self, protocol_type: &str, protocols: &[&str]) -> bool {
        if self.is(GroupState::Empty) {
            !protocol_type.is_empty() && !protocols.is_empty()
        } else {
            let candidates = self.candidate_protocols();
            self.protocol_type.as_deref() == Some(protocol_type)
                && protocols.iter().any(|p| candidates.contains(p))
        }
    }

    /// The protocol the members vote for: each votes for its most preferred
    /// one that all support, the most votes wins (ties go to the name first
    /// in order, so the choice is deterministic).
    pub(super) fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(choice) = member.vote(&candidates) {
                *votes.entry(choice).or_default() += 1;
            }
        }
        let most = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, count)| *count == most)
            .map(|(name, _)| name.to_owned())
    }

    /// Every member with its metadata for the chosen protocol, for the
    /// leader's JoinGroup response.
    pub(super) fn current_member_metadata(&self) -> Vec<JoinedMember> {
        let protocol = self.protocol_name.as_deref().unwrap_or_default();
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// Moves to the next generation: CompletingRebalance with a chosen
    /// protocol, or Empty without members.
    pub(super) fn init_next_generation(&mut self, now_ms: i64) {
        self.generation_id += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition_to(GroupState::Empty, now_ms);
        } else {
            self.protocol_name = self.select_protocol();
            self.subscribed_topics = self.compute_subscribed_topics();
            self.transition_to(GroupState::CompletingRebalance, now_ms);
        }
    }

    /// The union of the members' subscriptions, for a consumer group whose
    /// member metadata all parse (Kafka's `computeSubscribedTopics`).
    pub(super) fn compute_subscribed_topics(&self) -> Option<BTreeSet<String>> {
        if self.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
            return None;
        }
        if self.members.is_empty() {
            return Some(BTreeSet::new());
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = BTreeSet::new();
        for member in self.members.values() {
            let subscription = Subscription::decode(&member.metadata(protocol)).ok()?;
            topics.extend(subscription.topics);
        }
        Some(topics)
    }

    /// Whether the members consume `topic`: an unknown subscription counts
    /// as consuming everything, so nothing they may need is deleted.
    pub(super) fn is_subscribed_to(&self, topic: &str) -> bool {
        self.subscribed_topics
            .as_ref()
            .is_none_or(|topics| topics.contains(topic))
    }

    /// If the leader did not rejoin, any member that did takes over.
    /// `false` if no member rejoined (or there is no leader).
    pub(super) fn maybe_elect_new_joined_leader(&mut self) -> bool {
        let Some(leader) = self.leader_id.as_deref() else {
            return false;
        };
        if self
            .members
            .get(leader)
            .is_some_and(Member::is_awaiting_join)
        {
            return true;
        }
        match self.members.values().find(|m| m.is_awaiting_join()) {
            Some(joined) => {
                self.leader_id = Some(joined.member_id.clone());
                true
            }
            None => false,
        }
    }

    pub fn summary(&self) -> GroupSummary {
        let stable = self.is(GroupState::Stable);
        let protocol = self.protocol_name.clone().filter(|_| stable);
        GroupSummary {
            state: self.state,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            members: self
                .members
                .values()
                .map(|m| MemberSummary {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: protocol
                        .as_deref()
                        .map(|p| m.metadata(p))
                        .unwrap_or_default(),
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol: protocol.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::testing::{member, subscription};

    fn group_with(members: &[(&str, &[&str])]) -> GroupMetadata {
        let mut group = GroupMetadata::new("g".into(), 0);
        for (id, protocols) in members {
            group.add_member(member(id, protocols));
        }
        group.state = GroupState::PreparingRebalance;
        group
    }

    #[test]
    fn protocol_is_chosen_among_those_all_members_support() {
        let group = group_with(&[
            ("a", &["sticky", "range"]),
            ("b", &["range", "sticky"]),
            ("c", &["roundrobin", "range"]),
        ]);
        // Only range is common to all three.
        assert_eq!(group.select_protocol().as_deref(), Some("range"));
        assert!(group.supports_protocols("consumer", &["range"]));
        assert!(!group.supports_protocols("consumer", &["sticky"]));
        assert!(!group.supports_protocols("connect", &["range"]));

        let group = group_with(&[
            ("a", &["sticky", "range"]),
            ("b", &["sticky", "range"]),
            ("c", &["range", "sticky"]),
        ]);
        // Two votes for sticky, one for range.
        assert_eq!(group.select_protocol().as_deref(), Some("sticky"));
    }

    #[test]
    fn an_empty_group_takes_any_protocol_type() {
        let group = GroupMetadata::new("g".into(), 0);
        assert!(group.supports_protocols("connect", &["x"]));
        assert!(!group.supports_protocols("", &["x"]));
        assert!(!group.supports_protocols("consumer", &[]));
    }

    #[test]
    fn leader_is_first_member_and_hands_over_when_it_leaves() {
        let mut group = group_with(&[("a", &["range"]), ("b", &["range"])]);
        assert!(group.is_leader("a"));
        group.remove_member("a");
        assert!(group.is_leader("b"));
        group.remove_member("b");
        assert_eq!(group.leader_id, None);
    }

    #[test]
    fn static_member_fencing() {
        let mut group = GroupMetadata::new("g".into(), 0);
        let mut m = member("m1", &["range"]);
        m.group_instance_id = Some("i".into());
        group.add_member(m);
        assert!(!group.is_static_member_fenced("m1", Some("i")));
        assert!(group.is_static_member_fenced("m0", Some("i")));
        assert!(!group.is_static_member_fenced("m0", Some("other")));
        assert!(!group.is_static_member_fenced("m0", None));
    }

    fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
        Subscription::decode(&Bytes::copy_from_slice(metadata))
            .ok()
            .map(|s| s.topics)
    }

    #[test]
    fn subscriptions_are_read_from_consumer_metadata() {
        assert_eq!(
            subscription_topics(&subscription(&["a", "bb"])),
            Some(vec!["a".to_owned(), "bb".to_owned()])
        );
        assert_eq!(subscription_topics(&[0, 1, 0, 0, 0, 1, 0]), None);
        assert_eq!(subscription_topics(b""), None);

        let mut group = GroupMetadata::new("g".into(), 0);
        let mut a = member("a", &["range"]);
        a.protocols[0].metadata = subscription(&["t1"]);
        let mut b = member("b", &["range"]);
        b.protocols[0].metadata = subscription(&["t2"]);
        group.add_member(a);
        group.add_member(b);
        group.init_next_generation(1);
        assert_eq!(group.generation_id, 1);
        assert!(group.is(GroupState::CompletingRebalance));
        assert!(group.is_subscribed_to("t1") && group.is_subscribed_to("t2"));
        assert!(!group.is_subscribed_to("t3"));
    }
}
