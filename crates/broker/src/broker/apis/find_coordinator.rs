//! FindCoordinator (API key 10): which broker coordinates a group — the
//! leader of the group's `__consumer_offsets` partition (Kafka's
//! `KafkaApis.handleFindCoordinatorRequest`). The first request creates
//! `__consumer_offsets`, as in Kafka; until its partitions have leaders the
//! answer is COORDINATOR_NOT_AVAILABLE and clients ask again.
//!
//! v4 (KIP-699) looks up a batch of keys; earlier versions one.
//! Transactions are not implemented: a transactional id (key type 1) is
//! answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as InitProducerId
//! answers it, which clients report instead of retrying forever.

use std::collections::BTreeMap;

use ::log::{info, warn};

use crate::config::keys::{
    COMPRESSION_TYPE, LOG_CLEANUP_POLICY, LOG_SEGMENT_BYTES, PRODUCER_COMPRESSION,
};
use crate::coordinator::GROUP_METADATA_TOPIC_NAME;
use gregor_protocol::api::find_coordinator::{
    Coordinator, FindCoordinatorRequest, FindCoordinatorResponse,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;

use crate::broker::topics::NewTopic;
use crate::broker::Broker;

/// The first version that batches keys.
const BATCHED_VERSION: i16 = 4;
/// Kafka's `CoordinatorType`.
const GROUP_KEY_TYPE: i8 = 0;
const TRANSACTION_KEY_TYPE: i8 = 1;

impl Broker {
    pub(crate) async fn find_coordinator(
        &self,
        request: FindCoordinatorRequest,
        version: i16,
        listener: &str,
    ) -> FindCoordinatorResponse {
        if version >= BATCHED_VERSION {
            let mut coordinators = Vec::with_capacity(request.coordinator_keys.len());
            for key in request.coordinator_keys {
                coordinators.push(self.coordinator_for(request.key_type, key, listener).await);
            }
            return FindCoordinatorResponse {
                coordinators,
                ..Default::default()
            };
        }
        let found = self
            .coordinator_for(request.key_type, request.key, listener)
            .await;
        FindCoordinatorResponse {
            throttle_time_ms: 0,
            error_code: found.error_code,
            // Kafka 2.8 always sends its error's message, "NONE" included.
            error_message: Some(kafka_message(ErrorCode::from_code(found.error_code)).to_owned()),
            node_id: found.node_id,
            host: found.host,
            port: found.port,
            coordinators: Vec::new(),
        }
    }

    /// The coordinator of `key`, at its address on `listener` (the one the
    /// request arrived on, as in Metadata).
    async fn coordinator_for(&self, key_type: i8, key: String, listener: &str) -> Coordinator {
        match key_type {
            GROUP_KEY_TYPE => {}
            TRANSACTION_KEY_TYPE => {
                return no_coordinator(key, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            }
            _ => return no_coordinator(key, ErrorCode::INVALID_REQUEST),
        }
        if !self.metadata.contains_topic(GROUP_METADATA_TOPIC_NAME) {
            self.create_offsets_topic().await;
            return no_coordinator(key, ErrorCode::COORDINATOR_NOT_AVAILABLE);
        }
        let partition = self.coordinator.partition_for(&key);
        let tp = TopicPartition::new(GROUP_METADATA_TOPIC_NAME, partition);
        let snapshot = self.metadata.snapshot();
        let leader = snapshot
            .partition(&tp)
            .and_then(|p| p.leader)
            .and_then(|id| snapshot.broker_on(id, listener));
        match leader {
            Some(broker) => Coordinator {
                key,
                node_id: broker.id,
                host: broker.host,
                port: broker.port,
                error_code: ErrorCode::NONE.code(),
                error_message: None,
            },
            None => no_coordinator(key, ErrorCode::COORDINATOR_NOT_AVAILABLE),
        }
    }

    /// Creates `__consumer_offsets` as Kafka does (`offsetsTopicConfigs`):
    /// `offsets.topic.num.partitions` partitions, compacted, with
    /// `offsets.topic.segment.bytes` segments and the producer's
    /// compression kept. The replication factor is
    /// `offsets.topic.replication.factor` capped by the live brokers, so a
    /// cluster smaller than the factor still gets its coordinators.
    async fn create_offsets_topic(&self) {
        let live = self.metadata.broker_ids().len().max(1);
        let factor = usize::from(self.config.offsets_topic_replication_factor).min(live);
        let configs = BTreeMap::from([
            (
                LOG_CLEANUP_POLICY.topic_name().to_owned(),
                "compact".to_owned(),
            ),
            (
                LOG_SEGMENT_BYTES.topic_name().to_owned(),
                self.config.offsets_topic_segment_bytes.to_string(),
            ),
            (
                COMPRESSION_TYPE.topic_name().to_owned(),
                PRODUCER_COMPRESSION.to_owned(),
            ),
        ]);
        let topic = NewTopic {
            name: GROUP_METADATA_TOPIC_NAME.to_owned(),
            num_partitions: i32::try_from(self.config.offsets_topic_num_partitions)
                .unwrap_or(i32::MAX),
            replication_factor: i32::try_from(factor).unwrap_or(i32::MAX),
            assignment: BTreeMap::new(),
            configs,
        };
        match self.create_topic(topic, false).await {
            Ok(_) => info!(
                "created {GROUP_METADATA_TOPIC_NAME} with {} partitions, replication factor {factor}",
                self.config.offsets_topic_num_partitions
            ),
            Err(e) if e.error_code() == ErrorCode::TOPIC_ALREADY_EXISTS => {}
            Err(e) => warn!("cannot create {GROUP_METADATA_TOPIC_NAME}: {e}"),
        }
    }
}

/// Kafka's answer without a coordinator: `Node.noNode()` and the error.
fn no_coordinator(key: String, error: ErrorCode) -> Coordinator {
    Coordinator {
        key,
        node_id: -1,
        host: String::new(),
        port: -1,
        error_code: error.code(),
        error_message: Some(kafka_message(error).to_owned()),
    }
}

/// Kafka's `Errors.message()` for the errors FindCoordinator answers: the
/// default message of the error's exception, or "NONE" for success.
fn kafka_message(error: ErrorCode) -> &'static str {
    match error {
        ErrorCode::COORDINATOR_NOT_AVAILABLE => "The coordinator is not available.",
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
            "The coordinator is loading and hence can't process requests."
        }
        ErrorCode::NOT_COORDINATOR => "This is not the correct coordinator.",
        ErrorCode::INVALID_REQUEST => {
            "This most likely occurs because of a request being malformed by the client \
             library or the message was sent to an incompatible broker. See the broker logs \
             for more details."
        }
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
            "Transactional Id authorization failed."
        }
        ErrorCode::NONE => "NONE",
        // FindCoordinator answers no other error.
        _ => "",
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn messages_are_kafkas() {
        assert_eq!(kafka_message(ErrorCode::NONE), "NONE");
        assert_eq!(
            kafka_message(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            "The coordinator is not available."
        );
    }
}
