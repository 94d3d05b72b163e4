//! [`ControllerContext`]: the controller's in-memory picture of the
//! cluster (Kafka's `ControllerContext`), loaded from ZooKeeper when a
//! broker becomes controller and kept current by the events it handles.
//! Only the controller's event loop touches it, so it needs no locks.
//!
//! Owns: the cluster picture. Must not depend on: tokio, the ZooKeeper
//! client, sockets.

use std::collections::{BTreeMap, BTreeSet};

use super::partition_state_machine::PartitionState;
use super::replica_state_machine::ReplicaState;
use gregor_protocol::id::Uuid;
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_zk::data::{BrokerInfo, LeaderIsrAndControllerEpoch};

/// A registered broker and its epoch (the czxid of its registration): a
/// broker that restarted within a session timeout shows up with a new epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBroker {
    pub info: BrokerInfo,
    pub epoch: i64,
}

/// A partition's leader and ISR as last written to its state znode, with
/// the zkVersion the next conditional write must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    pub state: LeaderIsrAndControllerEpoch,
    pub zk_version: i32,
}

/// A partition moving from its `original` replicas to the `target` ones;
/// meanwhile its assignment is both (target first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassignment {
    pub original: Vec<BrokerId>,
    pub target: Vec<BrokerId>,
}

impl Reassignment {
    pub fn adding(&self) -> Vec<BrokerId> {
        difference(&self.target, &self.original)
    }

    pub fn removing(&self) -> Vec<BrokerId> {
        difference(&self.original, &self.target)
    }

    /// Whether the move can complete at once (Kafka's
    /// `isReassignmentComplete`): nothing is added or removed (the replicas
    /// are only reordered), or every target replica is in the ISR.
    pub fn is_complete(&self, isr: Option<&[BrokerId]>) -> bool {
        let reordered_only = self.adding().is_empty() && self.removing().is_empty();
        reordered_only || isr.is_some_and(|isr| self.target.iter().all(|t| isr.contains(t)))
    }

    /// The assignment while moving: target replicas, then the original ones
    /// that are not in the target (Kafka's order).
    pub fn full(&self) -> Vec<BrokerId> {
        let mut full = self.target.clone();
        full.extend(self.removing());
        full
    }
}

fn difference(a: &[BrokerId], b: &[BrokerId]) -> Vec<BrokerId> {
    a.iter().copied().filter(|x| !b.contains(x)).collect()
}

/// Everything the controller knows. Partitions of a topic share its id.
#[derive(Debug, Default)]
pub struct ControllerContext {
    /// The controller's own broker id, named in every request.
    pub controller_id: BrokerId,
    /// This controller's epoch, stamped on every request and state znode.
    pub epoch: i32,
    pub live_brokers: BTreeMap<BrokerId, LiveBroker>,
    /// Brokers in a controlled shutdown: still alive, but not eligible to lead.
    pub shutting_down: BTreeSet<BrokerId>,
    pub topic_ids: BTreeMap<String, Uuid>,
    /// Replicas of every partition, preferred leader first.
    pub assignments: BTreeMap<TopicPartition, Vec<BrokerId>>,
    pub leaderships: BTreeMap<TopicPartition, Leadership>,
    /// Partitions absent here are NonExistent; changed only through
    /// [`transition_partition`](Self::transition_partition).
    pub(super) partition_states: BTreeMap<TopicPartition, PartitionState>,
    /// Replicas absent here are NonExistent; changed only through
    /// [`transition_replica`](Self::transition_replica).
    pub(super) replica_states: BTreeMap<(TopicPartition, BrokerId), ReplicaState>,
    /// Partitions being moved to new replicas (`/admin/reassign_partitions`).
    pub reassignments: BTreeMap<TopicPartition, Reassignment>,
    /// Topics queued for deletion (`/admin/delete_topics`).
    pub topics_to_delete: BTreeSet<String>,
}

impl ControllerContext {
    /// Registered brokers, including those shutting down: every one of
    /// them gets the controller's requests.
    pub fn live_or_shutting_down(&self) -> BTreeSet<BrokerId> {
        self.live_brokers.keys().copied().collect()
    }

    /// Registered and not shutting down: the brokers that may lead
    /// (Kafka's `liveBrokerIds`).
    pub fn live_broker_ids(&self) -> BTreeSet<BrokerId> {
        self.live_brokers
            .keys()
            .copied()
            .filter(|id| !self.shutting_down.contains(id))
            .collect()
    }

    /// Whether `id` is registered (shutting down or not).
    pub fn is_live(&self, id: BrokerId) -> bool {
        self.live_brokers.contains_key(&id)
    }

    pub fn has_topic(&self, topic: &str) -> bool {
        self.topic_ids.contains_key(topic)
    }

    /// The partitions of `topic`, in order.
    pub fn partitions_of(&self, topic: &str) -> Vec<TopicPartition> {
        self.assignments
            .range(TopicPartition::new(topic, i32::MIN)..=TopicPartition::new(topic, i32::MAX))
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    pub fn replicas(&self, tp: &TopicPartition) -> &[BrokerId] {
        self.assignments.get(tp).map_or(&[], Vec::as_slice)
    }

    /// Every partition with a replica on `broker`.
    pub fn partitions_on(&self, broker: BrokerId) -> Vec<TopicPartition> {
        self.assignments
            .iter()
            .filter(|(_, replicas)| replicas.contains(&broker))
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Every replica the `brokers` host, as (partition, broker).
    pub fn replicas_on(
        &self,
        brokers: impl IntoIterator<Item = BrokerId>,
    ) -> Vec<(TopicPartition, BrokerId)> {
        brokers
            .into_iter()
            .flat_map(|id| self.partitions_on(id).into_iter().map(move |tp| (tp, id)))
            .collect()
    }

    /// Every partition `broker` currently leads.
    pub fn partitions_led_by(&self, broker: BrokerId) -> Vec<TopicPartition> {
        self.leaderships
            .iter()
            .filter(|(_, l)| l.state.leader == broker)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Whether the partition's topic is queued for deletion.
    pub fn is_being_deleted(&self, tp: &TopicPartition) -> bool {
        self.topics_to_delete.contains(&tp.topic)
    }

    /// Forgets a topic that is gone from ZooKeeper (deleted by the
    /// controller, or by someone else): its partitions and replicas simply
    /// stop existing, with no transition to check.
    pub fn remove_topic(&mut self, topic: &str) {
        for tp in self.partitions_of(topic) {
            self.assignments.remove(&tp);
            self.leaderships.remove(&tp);
            self.partition_states.remove(&tp);
        }
        self.replica_states.retain(|(tp, _), _| tp.topic != topic);
        self.reassignments.retain(|tp, _| tp.topic != topic);
        self.topic_ids.remove(topic);
        self.topics_to_delete.remove(topic);
    }

    pub fn partition_state(&self, tp: &TopicPartition) -> PartitionState {
        self.partition_states
            .get(tp)
            .copied()
            .unwrap_or(PartitionState::NonExistent)
    }

    pub fn replica_state(&self, tp: &TopicPartition, broker: BrokerId) -> ReplicaState {
        self.replica_states
            .get(&(tp.clone(), broker))
            .copied()
            .unwrap_or(ReplicaState::NonExistent)
    }

    /// Partitions that need a leader: new ones and those whose leader died,
    /// skipping topics being deleted.
    pub fn partitions_needing_leader(&self) -> Vec<TopicPartition> {
        self.partition_states
            .iter()
            .filter(|(tp, state)| {
                matches!(state, PartitionState::New | PartitionState::Offline)
                    && !self.is_being_deleted(tp)
            })
            .map(|(tp, _)| tp.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reassignment_completes_once_its_targets_are_in_sync_or_at_once_if_only_reordered() {
        let shrink = Reassignment {
            original: vec![1, 3, 2],
            target: vec![2, 1],
        };
        assert!(shrink.is_complete(Some(&[1, 2, 3])));
        assert!(!shrink.is_complete(Some(&[1, 3])));
        assert!(!shrink.is_complete(None));
        let grow = Reassignment {
            original: vec![1],
            target: vec![1, 2],
        };
        assert!(!grow.is_complete(Some(&[1])));
        assert!(grow.is_complete(Some(&[1, 2])));
        // A reorder completes even with a replica out of the ISR, and so
        // does a reassignment to the current replicas.
        let reorder = Reassignment {
            original: vec![1, 2, 3],
            target: vec![2, 3, 1],
        };
        assert!(reorder.is_complete(Some(&[1, 2])));
        let same = Reassignment {
            original: vec![1, 2],
            target: vec![1, 2],
        };
        assert!(same.is_complete(None));
    }
}
