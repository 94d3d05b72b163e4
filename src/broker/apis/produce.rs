//! Produce (API key 0): append each partition's batches to its log.
//!
//! An idempotent producer's retry of a batch already in the log is answered
//! with NONE and the batch's original base offset (the log appends nothing),
//! as Kafka answers it. Transactional produce requests are refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED: gregor does not implement
//! transactions (see InitProducerId).

use crate::protocol::api::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};
use crate::protocol::ErrorCode;
use crate::TopicPartition;

use crate::broker::Broker;

use super::client_partitions::partition_error_code;

/// The `acks` values Kafka accepts: all in-sync replicas, none, the leader.
const VALID_ACKS: [i16; 3] = [-1, 0, 1];

/// A produce answer, and whether any partition failed (an acks=0 producer
/// reads no answer, so Kafka closes its connection to signal the failure).
pub(crate) struct ProduceOutcome {
    pub response: ProduceResponse,
    pub any_error: bool,
}

impl Broker {
    pub(crate) fn produce(&self, request: ProduceRequest) -> ProduceOutcome {
        let acks_ok = VALID_ACKS.contains(&request.acks);
        let transactional = request.transactional_id.is_some();
        let mut any_error = false;
        let responses = request
            .topic_data
            .into_iter()
            .map(|topic| {
                let partition_responses = topic
                    .partition_data
                    .into_iter()
                    .map(|p| {
                        let tp = TopicPartition::new(topic.name.as_str(), p.index);
                        let result = if transactional {
                            Err((ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None))
                        } else if !acks_ok {
                            Err((ErrorCode::INVALID_REQUIRED_ACKS, None))
                        } else {
                            let records = p.records.unwrap_or_default();
                            self.replicas.append(&tp, &records).map_err(|e| {
                                let code = partition_error_code(&self.metadata, &e);
                                (code, Some(e.to_string()))
                            })
                        };
                        match result {
                            Ok(info) => PartitionProduceResponse {
                                index: p.index,
                                error_code: ErrorCode::NONE.code(),
                                base_offset: info.first_offset,
                                log_start_offset: info.log_start_offset,
                                ..Default::default()
                            },
                            Err((code, message)) => {
                                any_error = true;
                                PartitionProduceResponse {
                                    index: p.index,
                                    error_code: code.code(),
                                    base_offset: -1,
                                    error_message: message,
                                    ..Default::default()
                                }
                            }
                        }
                    })
                    .collect();
                TopicProduceResponse {
                    name: topic.name,
                    partition_responses,
                }
            })
            .collect();
        ProduceOutcome {
            response: ProduceResponse {
                responses,
                throttle_time_ms: 0,
            },
            any_error,
        }
    }
}
