//! IncrementalAlterConfigs (key 44, KIP-339): change single config keys of
//! topics (or brokers) — set, delete, or append to / subtract from a list
//! value — leaving the other overrides as they are.
//!
//! Versions 0 and 1 (Kafka 2.8's); v1 is the first flexible version.

use crate::codec::{message, Request};

message! {
    /// IncrementalAlterConfigs request.
    pub message IncrementalAlterConfigsRequest {
        api_key: IncrementalAlterConfigs, versions: 0..=1, flexible: 1..;
        /// The incremental updates for each resource.
        resources: Vec<AlterConfigsResource> [0..],
        /// True to validate the request without changing any config.
        validate_only: bool [0..],
    }

    /// One resource and the changes to its overrides.
    pub struct AlterConfigsResource {
        /// Kafka's `ConfigResource.Type`: 2 topic, 4 broker, 8 broker logger.
        resource_type: i8 [0..],
        resource_name: String [0..],
        configs: Vec<AlterableConfig> [0..],
    }

    /// One change of one config key.
    pub struct AlterableConfig {
        name: String [0..],
        /// Kafka's `AlterConfigOp.OpType`: 0 set, 1 delete, 2 append,
        /// 3 subtract.
        config_operation: i8 [0..],
        /// The operand; null only for a delete.
        value: Option<String> [0..] nullable [0..],
    }

    /// IncrementalAlterConfigs response.
    pub message IncrementalAlterConfigsResponse {
        api_key: IncrementalAlterConfigs, versions: 0..=1, flexible: 1..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [0..],
        /// One result per resource.
        responses: Vec<AlterConfigsResourceResponse> [0..],
    }

    /// The outcome for one resource.
    pub struct AlterConfigsResourceResponse {
        error_code: i16 [0..],
        /// The error message, null if there was no error.
        error_message: Option<String> [0..] nullable [0..],
        resource_type: i8 [0..],
        resource_name: String [0..],
    }
}

impl Request for IncrementalAlterConfigsRequest {
    type Response = IncrementalAlterConfigsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::incremental_alter_configs_request as kpq;
    use kafka_protocol::messages::incremental_alter_configs_response as kpr;

    fn their_request(r: &IncrementalAlterConfigsRequest) -> kp::IncrementalAlterConfigsRequest {
        kp::IncrementalAlterConfigsRequest::default()
            .with_resources(
                r.resources
                    .iter()
                    .map(|res| {
                        kpq::AlterConfigsResource::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(str_bytes(&res.resource_name))
                            .with_configs(
                                res.configs
                                    .iter()
                                    .map(|c| {
                                        kpq::AlterableConfig::default()
                                            .with_name(str_bytes(&c.name))
                                            .with_config_operation(c.config_operation)
                                            .with_value(c.value.as_deref().map(str_bytes))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .with_validate_only(r.validate_only)
    }

    fn their_response(r: &IncrementalAlterConfigsResponse) -> kp::IncrementalAlterConfigsResponse {
        kp::IncrementalAlterConfigsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_responses(
                r.responses
                    .iter()
                    .map(|res| {
                        kpr::AlterConfigsResourceResponse::default()
                            .with_error_code(res.error_code)
                            .with_error_message(res.error_message.as_deref().map(str_bytes))
                            .with_resource_type(res.resource_type)
                            .with_resource_name(str_bytes(&res.resource_name))
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        IncrementalAlterConfigsRequest,
        IncrementalAlterConfigsResponse,
        their_request,
        their_response,
        0..=1
    );

    #[test]
    fn known_bytes_of_v1() {
        let request = IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: 2,
                resource_name: "t".into(),
                configs: vec![AlterableConfig {
                    name: "k".into(),
                    config_operation: 1,
                    value: None,
                }],
            }],
            validate_only: false,
        };
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            2, // one resource (compact array: n + 1)
            2, 2, b't', // topic "t"
            2, 2, b'k', 1, 0, 0, // delete k, null value, no tagged fields
            0, // end of the resource
            0, // validate_only
            0, // no tagged fields
        ];
        testing::check_known_bytes(&request, 1, bytes);
    }
}
