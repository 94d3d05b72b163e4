//! InitProducerId (API key 22): a producer id for an idempotent producer.
//!
//! As Kafka's `TransactionCoordinator.handleInitProducerId` for a request
//! without a transactional id, every request gets a fresh producer id with
//! epoch 0, also a v3+ request naming its current id and epoch (KIP-360's
//! epoch bump): Kafka allocates a new id then too, and the producer carries
//! on with it.
//!
//! Transactions are not implemented. A request with a transactional id is
//! answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED, what a Kafka cluster
//! answers a client not allowed to use that transactional id: the Java
//! client, librdkafka and kafka-python all treat it as fatal and report it,
//! instead of retrying forever as they would on NOT_COORDINATOR or
//! COORDINATOR_NOT_AVAILABLE. Produce requests with a transactional id get
//! the same error.

use ::log::warn;

use gregor_protocol::api::init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
use gregor_protocol::ErrorCode;
use gregor_zk::client::ZkError;

use crate::broker::Broker;

/// `producer_id` / `producer_epoch` of a producer that has none.
const NO_PRODUCER_ID: i64 = -1;
const NO_PRODUCER_EPOCH: i16 = -1;

impl Broker {
    pub(crate) async fn init_producer_id(
        &self,
        request: InitProducerIdRequest,
    ) -> InitProducerIdResponse {
        let error = |code: ErrorCode| InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: code.code(),
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
        };
        if request.transactional_id.is_some() {
            return error(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
        }
        // Kafka's KafkaApis: the id and epoch are both given or both absent.
        if (request.producer_id == NO_PRODUCER_ID) != (request.producer_epoch == NO_PRODUCER_EPOCH)
        {
            return error(ErrorCode::INVALID_REQUEST);
        }
        match self.producer_ids.generate(&self.zk.client()).await {
            Ok(producer_id) => InitProducerIdResponse {
                throttle_time_ms: 0,
                error_code: ErrorCode::NONE.code(),
                producer_id,
                producer_epoch: 0,
            },
            Err(e @ ZkError::ProducerIdsExhausted { .. }) => {
                warn!("InitProducerId: {e}");
                error(ErrorCode::UNKNOWN_SERVER_ERROR)
            }
            // ZooKeeper unreachable for now: the producer retries.
            Err(e) => {
                warn!("InitProducerId: cannot claim a producer id block: {e}");
                error(ErrorCode::COORDINATOR_NOT_AVAILABLE)
            }
        }
    }
}
