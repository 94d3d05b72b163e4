//! Produce (API key 0): append each partition's batches to its log. With
//! acks=all the answer waits until the ISR has them (Kafka's delayed
//! produce), bounded by the request's `timeout_ms`; an ISR smaller than
//! `min.insync.replicas` refuses them (NOT_ENOUGH_REPLICAS).
//!
//! An idempotent producer's retry of a batch already in the log is answered
//! with NONE and the batch's original base offset (the log appends nothing),
//! as Kafka answers it. Transactional produce requests are refused with
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED: gregor does not implement
//! transactions (see InitProducerId).

use std::time::Duration;

use crate::protocol::api::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};
use crate::protocol::ErrorCode;
use crate::replica::{AwaitedCommit, ReplicaError};
use crate::TopicPartition;

use crate::broker::Broker;

use super::client_partitions::partition_error_code;

/// `acks=all`: answer once every in-sync replica has the records.
const ACKS_ALL: i16 = -1;
/// The `acks` values Kafka accepts: all in-sync replicas, none, the leader.
const VALID_ACKS: [i16; 3] = [ACKS_ALL, 0, 1];

/// A produce answer, and whether any partition failed (an acks=0 producer
/// reads no answer, so Kafka closes its connection to signal the failure).
pub(crate) struct ProduceOutcome {
    pub response: ProduceResponse,
    pub any_error: bool,
}

impl Broker {
    /// Appends every partition's batches; with acks=all, answers once the
    /// ISR has them (or the request's `timeout_ms` passes).
    pub(crate) async fn produce(&self, request: ProduceRequest) -> ProduceOutcome {
        let acks_ok = VALID_ACKS.contains(&request.acks);
        let acks_all = request.acks == ACKS_ALL;
        let transactional = request.transactional_id.is_some();
        let timeout = Duration::from_millis(request.timeout_ms.max(0) as u64);
        let mut any_error = false;
        // Where each acks=all partition's answer is: topic and partition
        // position in the response.
        let mut awaited: Vec<(usize, usize, AwaitedCommit)> = Vec::new();
        let mut responses: Vec<TopicProduceResponse> = Vec::new();
        for (t, topic) in request.topic_data.into_iter().enumerate() {
            let mut partition_responses = Vec::new();
            for (i, p) in topic.partition_data.into_iter().enumerate() {
                let tp = TopicPartition::new(topic.name.as_str(), p.index);
                let result = if transactional {
                    Err((ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None))
                } else if !acks_ok {
                    Err((ErrorCode::INVALID_REQUIRED_ACKS, None))
                } else {
                    let records = p.records.unwrap_or_default();
                    let appended = if acks_all {
                        self.replicas
                            .append_for_all_acks(&tp, &records)
                            .map(|(info, commit)| {
                                awaited.push((t, i, commit));
                                info
                            })
                    } else {
                        self.replicas.append(&tp, &records)
                    };
                    appended.map_err(|e| self.produce_error(&e))
                };
                let response = match result {
                    Ok(info) => PartitionProduceResponse {
                        index: p.index,
                        error_code: ErrorCode::NONE.code(),
                        base_offset: info.first_offset,
                        log_start_offset: info.log_start_offset,
                        ..Default::default()
                    },
                    Err((code, message)) => {
                        any_error = true;
                        failed(p.index, code, message)
                    }
                };
                partition_responses.push(response);
            }
            responses.push(TopicProduceResponse {
                name: topic.name,
                partition_responses,
            });
        }
        if !awaited.is_empty() {
            let commits: Vec<AwaitedCommit> = awaited.iter().map(|(_, _, c)| c.clone()).collect();
            let outcomes = self.replicas.wait_for_commits(&commits, timeout).await;
            for ((t, i, _), outcome) in awaited.into_iter().zip(outcomes) {
                if let Err(e) = outcome {
                    let (code, message) = self.produce_error(&e);
                    let response = &mut responses[t].partition_responses[i];
                    *response = failed(response.index, code, message);
                }
            }
        }
        ProduceOutcome {
            response: ProduceResponse {
                responses,
                throttle_time_ms: 0,
            },
            any_error,
        }
    }

    fn produce_error(&self, error: &ReplicaError) -> (ErrorCode, Option<String>) {
        let code = partition_error_code(&self.metadata, error);
        (code, Some(error.to_string()))
    }
}

/// A partition's answer when its batches were refused, or not committed.
fn failed(index: i32, code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse {
        index,
        error_code: code.code(),
        base_offset: -1,
        error_message: message,
        ..Default::default()
    }
}
