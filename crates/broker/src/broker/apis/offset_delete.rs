//! OffsetDelete (API key 47, KIP-496): deletes a group's committed offsets
//! of partitions it does not consume (all of them if it has no members).

use gregor_protocol::api::offset_delete::{
    OffsetDeleteRequest, OffsetDeleteResponse, OffsetDeleteResponsePartition,
    OffsetDeleteResponseTopic,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::by_topic::by_topic;

impl Broker {
    pub(crate) fn offset_delete(&self, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
        let mut outcome: Vec<(TopicPartition, ErrorCode)> = Vec::new();
        let mut known = Vec::new();
        for topic in request.topics {
            for p in topic.partitions {
                let tp = TopicPartition::new(topic.name.as_str(), p.partition_index);
                if self.metadata.contains_partition(&tp) {
                    known.push(tp);
                } else {
                    outcome.push((tp, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
                }
            }
        }
        match self.coordinator.delete_offsets(&request.group_id, &known) {
            Ok(deleted) => outcome.extend(deleted),
            Err(error) => {
                return OffsetDeleteResponse {
                    error_code: error.code(),
                    ..Default::default()
                }
            }
        }
        OffsetDeleteResponse {
            error_code: ErrorCode::NONE.code(),
            throttle_time_ms: 0,
            topics: by_topic(outcome)
                .into_iter()
                .map(|(name, partitions)| OffsetDeleteResponseTopic {
                    name,
                    partitions: partitions
                        .into_iter()
                        .map(|(partition_index, code)| OffsetDeleteResponsePartition {
                            partition_index,
                            error_code: code.code(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
