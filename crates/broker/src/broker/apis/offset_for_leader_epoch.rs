//! OffsetForLeaderEpoch (API key 23): where a leader epoch ends in the
//! leader's log, for followers truncating a diverged tail (KIP-101/KIP-279)
//! and consumers checking for truncation (KIP-320).

use gregor_protocol::api::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::client_partitions::{client_leader_epoch, partition_error_code};

/// Kafka's `UNDEFINED_EPOCH` and `UNDEFINED_EPOCH_OFFSET`: the leader's log
/// cannot tell where the epoch ends.
const UNDEFINED_EPOCH: i32 = -1;
const UNDEFINED_EPOCH_OFFSET: i64 = -1;

impl Broker {
    pub(crate) fn offset_for_leader_epoch(
        &self,
        request: OffsetForLeaderEpochRequest,
    ) -> OffsetForLeaderEpochResponse {
        let topics = request
            .topics
            .into_iter()
            .map(|t| OffsetForLeaderTopicResult {
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let tp = TopicPartition::new(t.topic.as_str(), p.partition);
                        let current = client_leader_epoch(p.current_leader_epoch);
                        match self
                            .replicas
                            .end_offset_for_epoch(&tp, current, p.leader_epoch)
                        {
                            Ok(found) => {
                                let (leader_epoch, end_offset) =
                                    found.unwrap_or((UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET));
                                EpochEndOffset {
                                    error_code: ErrorCode::NONE.code(),
                                    partition: p.partition,
                                    leader_epoch,
                                    end_offset,
                                }
                            }
                            Err(e) => EpochEndOffset {
                                error_code: partition_error_code(&self.metadata, &e).code(),
                                partition: p.partition,
                                leader_epoch: UNDEFINED_EPOCH,
                                end_offset: UNDEFINED_EPOCH_OFFSET,
                            },
                        }
                    })
                    .collect(),
                topic: t.topic,
            })
            .collect();
        OffsetForLeaderEpochResponse {
            throttle_time_ms: 0,
            topics,
        }
    }
}
