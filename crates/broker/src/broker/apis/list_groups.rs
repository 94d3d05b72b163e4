//! ListGroups (API key 16): the groups this broker coordinates, optionally
//! only those in some states (v4, KIP-518). Admin clients ask every broker.

use gregor_protocol::api::list_groups::{ListGroupsRequest, ListGroupsResponse, ListedGroup};

use crate::broker::Broker;

impl Broker {
    pub(crate) fn list_groups(&self, request: ListGroupsRequest) -> ListGroupsResponse {
        let (error, groups) = self.coordinator.list_groups(&request.states_filter);
        ListGroupsResponse {
            throttle_time_ms: 0,
            error_code: error.code(),
            groups: groups
                .into_iter()
                .map(|g| ListedGroup {
                    group_id: g.group_id,
                    protocol_type: g.protocol_type,
                    group_state: g.state.name().to_owned(),
                })
                .collect(),
        }
    }
}
