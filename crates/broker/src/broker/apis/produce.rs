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

use crate::replica::{AwaitedCommit, ReplicaError};
use gregor_protocol::api::produce::{
    PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

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
                } else if p.records.as_deref().is_some_and(several_v2_batches) {
                    Err((ErrorCode::INVALID_RECORD, None))
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

    /// The partition's error code; no message, as Kafka 2.8 sends none for
    /// these (only for per-record validation errors, which gregor does not
    /// report).
    fn produce_error(&self, error: &ReplicaError) -> (ErrorCode, Option<String>) {
        let code = partition_error_code(&self.metadata, error);
        log::debug!("produce refused with {code:?}: {error}");
        (code, None)
    }
}

/// Offset of the magic byte in a record batch (and in a v0/v1 message):
/// base offset (8), length (4), partition leader epoch or CRC (4).
const MAGIC_OFFSET: usize = 16;

/// Whether `records` hold more than one entry and are v2 record batches:
/// Kafka (`ProduceRequest.validateRecords`) refuses those with
/// INVALID_RECORD, since a v3+ Produce carries exactly one batch per
/// partition.
fn several_v2_batches(records: &[u8]) -> bool {
    if records.get(MAGIC_OFFSET) != Some(&2) {
        return false;
    }
    let mut rest = records;
    let mut entries = 0;
    while rest.len() >= 12 {
        let length = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
        let Ok(length) = usize::try_from(length) else {
            break;
        };
        entries += 1;
        rest = rest.get(12 + length..).unwrap_or_default();
    }
    entries > 1
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(magic: u8, body: usize) -> Vec<u8> {
        let mut entry = vec![0; 12];
        entry[8..12].copy_from_slice(&(body as i32).to_be_bytes());
        let mut body = vec![0; body];
        body[MAGIC_OFFSET - 12] = magic;
        entry.extend(body);
        entry
    }

    #[test]
    fn two_v2_batches_are_refused_two_v1_messages_are_not() {
        let one = entry(2, 60);
        assert!(!several_v2_batches(&one));
        assert!(several_v2_batches(&[one.clone(), entry(2, 70)].concat()));
        assert!(!several_v2_batches(&[entry(1, 30), entry(1, 30)].concat()));
        assert!(!several_v2_batches(&[]));
    }
}
