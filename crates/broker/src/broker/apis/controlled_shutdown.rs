//! ControlledShutdown (API key 7): served by the controller only. A broker
//! about to stop asks it to move its leaderships away; the answer lists the
//! partitions it still leads.

use crate::controller::ActiveController;
use gregor_protocol::api::controlled_shutdown::{
    ControlledShutdownRequest, ControlledShutdownResponse, RemainingPartition,
};
use gregor_protocol::ErrorCode;

use crate::broker::Broker;

impl Broker {
    pub(crate) async fn controlled_shutdown_request(
        &self,
        request: ControlledShutdownRequest,
    ) -> ControlledShutdownResponse {
        let Some(controller) = self.active_controller() else {
            return refused(ErrorCode::NOT_CONTROLLER);
        };
        match controller
            .controlled_shutdown(request.broker_id, request.broker_epoch)
            .await
        {
            Ok(remaining) => ControlledShutdownResponse {
                error_code: ErrorCode::NONE.code(),
                remaining_partitions: remaining
                    .into_iter()
                    .map(|tp| RemainingPartition {
                        topic_name: tp.topic,
                        partition_index: tp.partition,
                    })
                    .collect(),
            },
            Err(e) => {
                log::warn!("controlled shutdown of broker {}: {e}", request.broker_id);
                refused(e.error_code())
            }
        }
    }

    /// The running controller's handle, if this broker is the controller.
    pub(crate) fn active_controller(&self) -> Option<crate::controller::ControllerHandle> {
        self.controller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(ActiveController::handle)
    }
}

fn refused(code: ErrorCode) -> ControlledShutdownResponse {
    ControlledShutdownResponse {
        error_code: code.code(),
        remaining_partitions: Vec::new(),
    }
}
