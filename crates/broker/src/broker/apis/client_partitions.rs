//! What produce, fetch and list-offsets share about the partitions a client
//! names: the leader epoch it believes current, and the error code a failed
//! partition is answered with.

use crate::metadata::MetadataCache;
use crate::replica::ReplicaError;
use gregor_protocol::ErrorCode;

/// A client's `current_leader_epoch` (Fetch v9+, ListOffsets v4+): -1, or
/// any negative value, when it does not know one; older requests decode to
/// -1 as well.
pub(super) fn client_leader_epoch(epoch: i32) -> Option<i32> {
    (epoch >= 0).then_some(epoch)
}

/// The code a client gets for a partition that failed. A partition this
/// broker does not host is NOT_LEADER_OR_FOLLOWER when the cluster has it
/// (the client's metadata is stale: it should refresh and go to the
/// leader), UNKNOWN_TOPIC_OR_PARTITION otherwise, as Kafka's
/// `ReplicaManager.getPartitionOrError` answers.
pub(super) fn partition_error_code(metadata: &MetadataCache, error: &ReplicaError) -> ErrorCode {
    match error {
        ReplicaError::UnknownTopicOrPartition(tp) if metadata.contains_partition(tp) => {
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        }
        e => e.error_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{MetadataUpdate, PartitionState, PartitionUpdate};
    use gregor_protocol::TopicPartition;

    #[test]
    fn an_unhosted_partition_is_not_led_here_if_the_cluster_has_it() {
        let metadata = MetadataCache::new("c".into());
        let known = TopicPartition::new("t", 0);
        metadata.update(MetadataUpdate {
            partitions: vec![(
                known.clone(),
                PartitionUpdate::State(PartitionState {
                    leader: Some(2),
                    leader_epoch: 0,
                    replicas: vec![2],
                    isr: vec![2],
                    offline_replicas: vec![],
                }),
            )],
            ..Default::default()
        });
        let code = |tp: &TopicPartition| {
            partition_error_code(
                &metadata,
                &ReplicaError::UnknownTopicOrPartition(tp.clone()),
            )
        };
        assert_eq!(code(&known), ErrorCode::NOT_LEADER_OR_FOLLOWER);
        assert_eq!(
            code(&TopicPartition::new("t", 1)),
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );
        let follower = ReplicaError::NotLeader {
            tp: known,
            leader: Some(2),
        };
        assert_eq!(
            partition_error_code(&metadata, &follower),
            ErrorCode::NOT_LEADER_OR_FOLLOWER
        );
    }

    #[test]
    fn only_a_non_negative_epoch_is_checked() {
        assert_eq!(client_leader_epoch(-1), None);
        assert_eq!(client_leader_epoch(0), Some(0));
        assert_eq!(client_leader_epoch(7), Some(7));
    }
}
