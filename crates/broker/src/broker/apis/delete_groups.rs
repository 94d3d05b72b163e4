//! DeleteGroups (API key 42): removes groups without members, with their
//! committed offsets (tombstones in `__consumer_offsets`).

use gregor_protocol::api::delete_groups::{
    DeletableGroupResult, DeleteGroupsRequest, DeleteGroupsResponse,
};

use crate::broker::Broker;

impl Broker {
    pub(crate) fn delete_groups(&self, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
        DeleteGroupsResponse {
            throttle_time_ms: 0,
            results: self
                .coordinator
                .delete_groups(&request.groups_names)
                .into_iter()
                .map(|(group_id, error)| DeletableGroupResult {
                    group_id,
                    error_code: error.code(),
                })
                .collect(),
        }
    }
}
