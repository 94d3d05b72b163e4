//! ListOffsets (API key 2): the earliest, latest or first-at-a-timestamp
//! offset of each partition.

use gregor_protocol::api::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::client_partitions::{client_leader_epoch, partition_error_code};

impl Broker {
    pub(crate) fn list_offsets(&self, request: ListOffsetsRequest) -> ListOffsetsResponse {
        // A follower (a broker id) is answered up to the log end.
        let replica_id = (request.replica_id >= 0).then_some(request.replica_id);
        let topics = request
            .topics
            .into_iter()
            .map(|t| ListOffsetsTopicResponse {
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                        let epoch = client_leader_epoch(p.current_leader_epoch);
                        match self.replicas.offset_for_timestamp(
                            &tp,
                            replica_id,
                            epoch,
                            p.timestamp,
                        ) {
                            Ok(found) => ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: ErrorCode::NONE.code(),
                                timestamp: found.timestamp,
                                offset: found.offset,
                                // No offset found (a timestamp after every
                                // record): Kafka answers epoch -1 too.
                                leader_epoch: if found.offset < 0 {
                                    -1
                                } else {
                                    found.leader_epoch
                                },
                            },
                            Err(e) => ListOffsetsPartitionResponse {
                                partition_index: p.partition_index,
                                error_code: partition_error_code(&self.metadata, &e).code(),
                                ..Default::default()
                            },
                        }
                    })
                    .collect(),
                name: t.name,
            })
            .collect();
        ListOffsetsResponse {
            throttle_time_ms: 0,
            topics,
        }
    }
}
