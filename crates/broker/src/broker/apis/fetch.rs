//! Fetch (API key 1): read committed batches, waiting up to `max_wait_ms`
//! for `min_bytes`. A fetch whose `replica_id` is a broker id comes from a
//! follower: it reads up to the log end, and tells the leader where the
//! follower's log ends (see [`ReplicaManager::fetch`]).
//!
//! [`ReplicaManager::fetch`]: crate::replica::ReplicaManager::fetch
//!
//! Fetch sessions (KIP-227) are not kept: like a Kafka broker with
//! `max.incremental.fetch.session.cache.slots=0`, every fetch is answered as
//! a full, sessionless one (session id 0), and a request naming a session
//! gets FETCH_SESSION_ID_NOT_FOUND so the client starts over.
//!
//! Records are never null in a response: like Kafka, an empty partition gets
//! an empty record set (librdkafka rejects a null one as a bad message set).

use std::time::Duration;

use bytes::Bytes;

use crate::replica::{FetchParams, FetchPartition};
use gregor_protocol::api::fetch::{
    FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::Broker;

use super::client_partitions::{client_leader_epoch, partition_error_code};

/// Fetch v11 added `rack_id`: Kafka 2.8 then has client metadata for the
/// consumer and serves it from followers too.
const FIRST_VERSION_WITH_CLIENT_METADATA: i16 = 11;

impl Broker {
    pub(crate) async fn fetch(&self, request: FetchRequest, version: i16) -> FetchResponse {
        if request.session_id != 0 {
            return FetchResponse {
                error_code: ErrorCode::FETCH_SESSION_ID_NOT_FOUND.code(),
                ..Default::default()
            };
        }
        let wanted: Vec<FetchPartition> = request
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| FetchPartition {
                    topic_partition: TopicPartition::new(t.topic.as_str(), p.partition),
                    current_leader_epoch: client_leader_epoch(p.current_leader_epoch),
                    fetch_offset: p.fetch_offset,
                    max_bytes: p.partition_max_bytes.max(0) as u64,
                })
            })
            .collect();
        let params = FetchParams {
            // Kafka's consumers send -1, its debugging consumers -2: only a
            // broker id names a follower.
            replica_id: (request.replica_id >= 0).then_some(request.replica_id),
            min_bytes: request.min_bytes.max(0) as u64,
            max_wait: Duration::from_millis(request.max_wait_ms.max(0) as u64),
            max_bytes: request.max_bytes.max(0) as u64,
            from_follower: version >= FIRST_VERSION_WITH_CLIENT_METADATA,
        };
        // Kafka lists aborted transactions (none: gregor has no
        // transactions) only to read_committed consumers; to the others,
        // and for a failed partition, the list is null.
        let read_committed = request.isolation_level == 1;
        let results = self.replicas.fetch(&wanted, &params).await;
        let mut results = wanted.iter().zip(results);
        let responses = request
            .topics
            .into_iter()
            .map(|t| FetchableTopicResponse {
                partitions: t
                    .partitions
                    .iter()
                    .filter_map(|_| results.next())
                    .map(|(want, result)| match result {
                        Ok(data) => PartitionData {
                            partition_index: want.topic_partition.partition,
                            error_code: ErrorCode::NONE.code(),
                            high_watermark: data.high_watermark,
                            last_stable_offset: data.last_stable_offset,
                            log_start_offset: data.log_start_offset,
                            records: Some(data.records.unwrap_or_default()),
                            aborted_transactions: read_committed.then(Vec::new),
                            ..Default::default()
                        },
                        Err(e) => PartitionData {
                            partition_index: want.topic_partition.partition,
                            error_code: partition_error_code(&self.metadata, &e).code(),
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            records: Some(Bytes::new()),
                            aborted_transactions: None,
                            ..Default::default()
                        },
                    })
                    .collect(),
                topic: t.topic,
            })
            .collect();
        FetchResponse {
            throttle_time_ms: 0,
            error_code: ErrorCode::NONE.code(),
            session_id: 0,
            responses,
        }
    }
}
