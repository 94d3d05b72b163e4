//! OffsetCommit (API key 8): a group's consumed positions, stored in
//! `__consumer_offsets` (Kafka's `KafkaApis.handleOffsetCommitRequest`).
//!
//! Offsets of partitions the cluster does not have are refused with
//! UNKNOWN_TOPIC_OR_PARTITION, as Kafka does. Kafka 2.8 kept v0 commits in
//! ZooKeeper (`/consumers/<group>/offsets`); gregor stores every version in
//! `__consumer_offsets`.

use crate::coordinator::{CommittedOffset, OffsetCommit};
use gregor_protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::by_topic::by_topic;

/// `retention_time_ms` / `commit_timestamp` meaning "the broker's default"
/// and "now".
const DEFAULT_RETENTION_TIME: i64 = -1;
const DEFAULT_TIMESTAMP: i64 = -1;

impl Broker {
    pub(crate) async fn offset_commit(&self, request: OffsetCommitRequest) -> OffsetCommitResponse {
        let now = self.logs.clock().milliseconds();
        let expire_timestamp_ms = (request.retention_time_ms != DEFAULT_RETENTION_TIME)
            .then(|| now.saturating_add(request.retention_time_ms));
        let mut outcome: Vec<(TopicPartition, ErrorCode)> = Vec::new();
        let mut offsets = Vec::new();
        for topic in &request.topics {
            for p in &topic.partitions {
                let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                if !self.metadata.contains_partition(&tp) {
                    outcome.push((tp, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
                    continue;
                }
                let committed = CommittedOffset {
                    offset: p.committed_offset,
                    leader_epoch: (p.committed_leader_epoch >= 0)
                        .then_some(p.committed_leader_epoch),
                    metadata: p.committed_metadata.clone().unwrap_or_default(),
                    commit_timestamp_ms: match p.commit_timestamp {
                        DEFAULT_TIMESTAMP => now,
                        custom => custom,
                    },
                    expire_timestamp_ms,
                };
                offsets.push((tp, committed));
            }
        }
        if !offsets.is_empty() {
            let commit = OffsetCommit {
                member_id: request.member_id,
                group_instance_id: request.group_instance_id,
                generation_id: request.generation_id,
                offsets,
            };
            outcome.extend(
                self.coordinator
                    .commit_offsets(&request.group_id, commit)
                    .await,
            );
        }
        // Answer in request order.
        let order = request.topics.iter().flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| TopicPartition::new(t.name.as_str(), p.partition_index))
        });
        let answered = order.filter_map(|tp| {
            let at = outcome.iter().position(|(o, _)| *o == tp)?;
            Some(outcome.swap_remove(at))
        });
        let topics = by_topic(answered.collect::<Vec<_>>())
            .into_iter()
            .map(|(name, partitions)| OffsetCommitResponseTopic {
                name,
                partitions: partitions
                    .into_iter()
                    .map(|(partition_index, code)| OffsetCommitResponsePartition {
                        partition_index,
                        error_code: code.code(),
                    })
                    .collect(),
            })
            .collect();
        OffsetCommitResponse {
            throttle_time_ms: 0,
            topics,
        }
    }
}
