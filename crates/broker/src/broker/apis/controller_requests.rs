//! What the controller's requests (LeaderAndIsr, StopReplica,
//! UpdateMetadata) share: the broker-epoch fence and where their work runs.

use crate::replica::ReplicaError;
use gregor_protocol::ErrorCode;

use crate::broker::Broker;

/// The broker epoch of a controller that does not send one (requests
/// before KIP-380: LeaderAndIsr v2, StopReplica v1, UpdateMetadata v5).
const UNKNOWN_BROKER_EPOCH: i64 = -1;

impl Broker {
    /// Whether a controller request was meant for an earlier registration
    /// of this broker (Kafka's `isBrokerEpochStale`): a broker that restarts
    /// quickly may still receive what the controller sent its predecessor.
    /// A newer epoch than this broker knows is accepted: the controller can
    /// learn of the registration before the broker does.
    pub(super) fn is_broker_epoch_stale(&self, request_epoch: i64) -> bool {
        request_epoch != UNKNOWN_BROKER_EPOCH && request_epoch < self.broker_epoch()
    }
}

/// Runs a controller request's work on a blocking-pool thread: it creates
/// or deletes logs, and waits for any other controller request being
/// applied. A request-level failure comes back as its error code.
pub(super) async fn run_blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, ReplicaError> + Send + 'static,
) -> Result<R, ErrorCode> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| {
            ::log::warn!("controller request refused: {e}");
            e.error_code()
        }),
        Err(e) => {
            ::log::error!("controller request failed: {e}");
            Err(ErrorCode::UNKNOWN_SERVER_ERROR)
        }
    }
}
