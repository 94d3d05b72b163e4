//! What the consumer reads and where it stands (Kafka's
//! `SubscriptionState`): the topics it subscribed to or the partitions it
//! was assigned by hand, and for each assigned partition its fetch state.
//!
//! ```text
//! assigned --(group: committed offset found)--------------------> Fetching(position)
//!          --(no committed offset, or no group)--> AwaitReset --ListOffsets--> Fetching
//! seek(offset) -> Fetching      seek_to_beginning/end -> AwaitReset
//! OFFSET_OUT_OF_RANGE -> AwaitReset(auto.offset.reset)
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::config::AutoOffsetReset;
use gregor_protocol::TopicPartition;

/// How the consumer came by its partitions; Kafka allows one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SubscriptionType {
    /// Neither `subscribe` nor `assign` was called (or both were undone).
    None,
    /// `subscribe(topics)`: the group leader assigns the partitions.
    Topics(BTreeSet<String>),
    /// `assign(partitions)`: no group membership.
    UserAssigned,
}

/// Where to take a partition's position from when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResetTo {
    Earliest,
    Latest,
}

impl ResetTo {
    /// The ListOffsets timestamp that asks for this offset.
    pub(super) fn list_offsets_timestamp(self) -> i64 {
        match self {
            ResetTo::Earliest => -2,
            ResetTo::Latest => -1,
        }
    }
}

/// A consumer's place in a partition: the next offset to fetch and the
/// leader epoch of the record before it, if known (committed with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Position {
    pub offset: i64,
    pub leader_epoch: Option<i32>,
}

/// The fetch state of one assigned partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FetchState {
    /// Just assigned: look for a committed offset first (with a group).
    Initializing,
    /// Waiting for ListOffsets to find the offset to start from.
    AwaitReset(ResetTo),
    /// Fetching from this position.
    Fetching(Position),
}

/// Subscription and per-partition positions.
#[derive(Debug)]
pub(super) struct SubscriptionState {
    subscription: SubscriptionType,
    assignment: BTreeMap<TopicPartition, FetchState>,
    default_reset: AutoOffsetReset,
}

impl SubscriptionState {
    pub(super) fn new(default_reset: AutoOffsetReset) -> Self {
        SubscriptionState {
            subscription: SubscriptionType::None,
            assignment: BTreeMap::new(),
            default_reset,
        }
    }

    pub(super) fn subscription(&self) -> &SubscriptionType {
        &self.subscription
    }

    /// The subscribed topics, if the consumer subscribed.
    pub(super) fn subscribed_topics(&self) -> Option<&BTreeSet<String>> {
        match &self.subscription {
            SubscriptionType::Topics(topics) => Some(topics),
            _ => None,
        }
    }

    /// Subscribes to `topics`; the partitions come with the next rebalance.
    pub(super) fn subscribe(&mut self, topics: BTreeSet<String>) {
        if !matches!(self.subscription, SubscriptionType::Topics(_)) {
            self.assignment.clear();
        }
        self.subscription = SubscriptionType::Topics(topics);
    }

    /// Takes exactly `partitions`, keeping the positions of those already
    /// held.
    pub(super) fn assign_from_user(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) {
        self.subscription = SubscriptionType::UserAssigned;
        self.set_assignment(partitions);
    }

    /// Takes the partitions the group leader assigned.
    pub(super) fn assign_from_group(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) {
        self.set_assignment(partitions);
    }

    fn set_assignment(&mut self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let mut previous = std::mem::take(&mut self.assignment);
        self.assignment = partitions
            .into_iter()
            .map(|tp| {
                let state = previous.remove(&tp).unwrap_or(FetchState::Initializing);
                (tp, state)
            })
            .collect();
    }

    /// Gives up every partition (an eager rebalance, or unsubscribe).
    pub(super) fn revoke_all(&mut self) {
        self.assignment.clear();
    }

    /// The assigned partitions, in order.
    pub(super) fn assigned(&self) -> impl Iterator<Item = (&TopicPartition, &FetchState)> {
        self.assignment.iter()
    }

    /// The topics of the assigned partitions.
    pub(super) fn assigned_topics(&self) -> BTreeSet<String> {
        self.assignment.keys().map(|tp| tp.topic.clone()).collect()
    }

    /// The position of `tp`, if it is assigned and has one.
    pub(super) fn position(&self, tp: &TopicPartition) -> Option<Position> {
        match self.assignment.get(tp) {
            Some(FetchState::Fetching(position)) => Some(*position),
            _ => None,
        }
    }

    /// Every partition's position, for committing them.
    pub(super) fn positions(&self) -> BTreeMap<TopicPartition, Position> {
        self.assignment
            .iter()
            .filter_map(|(tp, state)| match state {
                FetchState::Fetching(position) => Some((tp.clone(), *position)),
                _ => None,
            })
            .collect()
    }

    /// Moves `tp` to `position` if it is assigned; false if it is not.
    pub(super) fn seek(&mut self, tp: &TopicPartition, position: Position) -> bool {
        match self.assignment.get_mut(tp) {
            Some(state) => {
                *state = FetchState::Fetching(position);
                true
            }
            None => false,
        }
    }

    /// Asks for `tp`'s position to be looked up with ListOffsets.
    pub(super) fn request_reset(&mut self, tp: &TopicPartition, to: ResetTo) -> bool {
        match self.assignment.get_mut(tp) {
            Some(state) => {
                *state = FetchState::AwaitReset(to);
                true
            }
            None => false,
        }
    }

    /// `auto.offset.reset` as a reset target; `None` when it is `none`.
    pub(super) fn default_reset(&self) -> Option<ResetTo> {
        match self.default_reset {
            AutoOffsetReset::Earliest => Some(ResetTo::Earliest),
            AutoOffsetReset::Latest => Some(ResetTo::Latest),
            AutoOffsetReset::None => None,
        }
    }

    /// Partitions still looking for a committed offset.
    pub(super) fn initializing(&self) -> Vec<TopicPartition> {
        self.in_state(|s| matches!(s, FetchState::Initializing))
    }

    /// Partitions waiting for ListOffsets, with what they look for.
    pub(super) fn awaiting_reset(&self) -> Vec<(TopicPartition, ResetTo)> {
        self.assignment
            .iter()
            .filter_map(|(tp, state)| match state {
                FetchState::AwaitReset(to) => Some((tp.clone(), *to)),
                _ => None,
            })
            .collect()
    }

    fn in_state(&self, wanted: impl Fn(&FetchState) -> bool) -> Vec<TopicPartition> {
        self.assignment
            .iter()
            .filter(|(_, s)| wanted(s))
            .map(|(tp, _)| tp.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn at(offset: i64) -> Position {
        Position {
            offset,
            leader_epoch: None,
        }
    }

    #[test]
    fn reassignment_keeps_the_positions_of_partitions_kept() {
        let mut s = SubscriptionState::new(AutoOffsetReset::Latest);
        s.assign_from_user([tp(0), tp(1)]);
        assert_eq!(s.initializing(), [tp(0), tp(1)]);
        assert!(s.seek(&tp(0), at(42)));
        s.assign_from_user([tp(0), tp(2)]);
        assert_eq!(s.position(&tp(0)), Some(at(42)));
        assert_eq!(s.initializing(), [tp(2)]);
        let assigned: Vec<&TopicPartition> = s.assigned().map(|(tp, _)| tp).collect();
        assert_eq!(assigned, [&tp(0), &tp(2)]);
        assert!(!s.seek(&tp(1), at(1)), "not assigned");
    }

    #[test]
    fn resets_wait_for_list_offsets_and_leave_no_position() {
        let mut s = SubscriptionState::new(AutoOffsetReset::None);
        s.assign_from_user([tp(0)]);
        s.seek(&tp(0), at(5));
        s.request_reset(&tp(0), ResetTo::Earliest);
        assert_eq!(s.position(&tp(0)), None);
        assert_eq!(s.awaiting_reset(), [(tp(0), ResetTo::Earliest)]);
        assert!(s.positions().is_empty());
        assert_eq!(s.default_reset(), None);
    }

    #[test]
    fn subscribing_drops_a_manual_assignment() {
        let mut s = SubscriptionState::new(AutoOffsetReset::Earliest);
        s.assign_from_user([tp(0)]);
        s.subscribe(BTreeSet::from(["t".to_owned()]));
        assert_eq!(s.assigned().count(), 0);
        s.assign_from_group([tp(3)]);
        assert_eq!(s.assigned_topics(), BTreeSet::from(["t".to_owned()]));
        assert_eq!(
            s.subscribed_topics(),
            Some(&BTreeSet::from(["t".to_owned()]))
        );
    }
}
