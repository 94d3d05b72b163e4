//! OffsetFetch (API key 9): a group's committed offsets, from the
//! coordinator's memory (Kafka's `KafkaApis.handleOffsetFetchRequest`).
//! Null topics (v2+) ask for every committed offset. Kafka 2.8 read v0
//! from ZooKeeper; gregor answers every version from `__consumer_offsets`.
//! `require_stable` (v7) needs nothing: without transactions no commit is
//! ever pending.

use crate::coordinator::CommittedOffset;
use gregor_protocol::api::offset_fetch::{
    OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::by_topic::by_topic;

/// The first version with a group-level error code.
const GROUP_ERROR_VERSION: i16 = 2;
/// The offset and leader epoch of a partition without a committed offset.
const INVALID_OFFSET: i64 = -1;
const NO_LEADER_EPOCH: i32 = -1;

impl Broker {
    pub(crate) fn offset_fetch(
        &self,
        request: OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        let requested: Option<Vec<TopicPartition>> = request.topics.as_ref().map(|topics| {
            topics
                .iter()
                .flat_map(|t| {
                    t.partition_indexes
                        .iter()
                        .map(|p| TopicPartition::new(t.name.as_str(), *p))
                })
                .collect()
        });
        let fetched = self
            .coordinator
            .fetch_offsets(&request.group_id, requested.as_deref());
        let partition = |index: i32, offset: Option<CommittedOffset>, error: ErrorCode| {
            let offset = offset.unwrap_or(CommittedOffset {
                offset: INVALID_OFFSET,
                leader_epoch: None,
                metadata: String::new(),
                commit_timestamp_ms: 0,
                expire_timestamp_ms: None,
            });
            OffsetFetchResponsePartition {
                partition_index: index,
                committed_offset: offset.offset,
                committed_leader_epoch: offset.leader_epoch.unwrap_or(NO_LEADER_EPOCH),
                metadata: Some(offset.metadata),
                error_code: error.code(),
            }
        };
        let topics = |offsets: Vec<(TopicPartition, Option<CommittedOffset>)>, error| {
            by_topic(offsets)
                .into_iter()
                .map(|(name, partitions)| OffsetFetchResponseTopic {
                    name,
                    partitions: partitions
                        .into_iter()
                        .map(|(index, offset)| partition(index, offset, error))
                        .collect(),
                })
                .collect()
        };
        match fetched {
            Ok(offsets) => OffsetFetchResponse {
                throttle_time_ms: 0,
                topics: topics(offsets, ErrorCode::NONE),
                error_code: ErrorCode::NONE.code(),
            },
            // v2+ carry the error once; older versions on every partition.
            Err(error) if version >= GROUP_ERROR_VERSION => OffsetFetchResponse {
                throttle_time_ms: 0,
                topics: Vec::new(),
                error_code: error.code(),
            },
            Err(error) => {
                let unknown = requested
                    .unwrap_or_default()
                    .into_iter()
                    .map(|tp| (tp, None))
                    .collect();
                OffsetFetchResponse {
                    throttle_time_ms: 0,
                    topics: topics(unknown, error),
                    error_code: error.code(),
                }
            }
        }
    }
}
