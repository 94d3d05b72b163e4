//! AlterConfigs (key 33): replace the whole set of config overrides of
//! topics (or brokers). Superseded by IncrementalAlterConfigs, which changes
//! single keys; AlterConfigs drops every override the request does not
//! name.
//!
//! Versions 0 and 1 (Kafka 2.8's): v1 is v0 again, answered before
//! throttling. Kafka 3.0 added the flexible v2, which Kafka 2.8 does not
//! know; the `flexible: 2..` below only records where flexibility starts.

use crate::codec::{message, Request};

message! {
    /// AlterConfigs request.
    pub message AlterConfigsRequest {
        api_key: AlterConfigs, versions: 0..=1, flexible: 2..;
        /// The updates for each resource.
        resources: Vec<AlterConfigsResource> [0..],
        /// True to validate the request without changing any config.
        validate_only: bool [0..],
    }

    /// One resource and its complete new set of overrides.
    pub struct AlterConfigsResource {
        /// Kafka's `ConfigResource.Type`: 2 topic, 4 broker.
        resource_type: i8 [0..],
        resource_name: String [0..],
        configs: Vec<AlterableConfig> [0..],
    }

    /// One config key and its value.
    pub struct AlterableConfig {
        name: String [0..],
        /// The value to set; Kafka refuses null (INVALID_REQUEST).
        value: Option<String> [0..] nullable [0..],
    }

    /// AlterConfigs response.
    pub message AlterConfigsResponse {
        api_key: AlterConfigs, versions: 0..=1, flexible: 2..;
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

impl Request for AlterConfigsRequest {
    type Response = AlterConfigsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::alter_configs_request as kpq;
    use kafka_protocol::messages::alter_configs_response as kpr;

    fn their_request(r: &AlterConfigsRequest) -> kp::AlterConfigsRequest {
        kp::AlterConfigsRequest::default()
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
                                            .with_value(c.value.as_deref().map(str_bytes))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .with_validate_only(r.validate_only)
    }

    fn their_response(r: &AlterConfigsResponse) -> kp::AlterConfigsResponse {
        kp::AlterConfigsResponse::default()
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
        AlterConfigsRequest,
        AlterConfigsResponse,
        their_request,
        their_response,
        0..=1
    );

    #[test]
    fn known_bytes_of_v1() {
        let request = AlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: 2,
                resource_name: "t".into(),
                configs: vec![AlterableConfig {
                    name: "k".into(),
                    value: Some("v".into()),
                }],
            }],
            validate_only: true,
        };
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 1, // one resource
            2, 0, 1, b't', // topic "t"
            0, 0, 0, 1, 0, 1, b'k', 0, 1, b'v', // k = v
            1, // validate_only
        ];
        testing::check_known_bytes(&request, 1, bytes);

        let response = AlterConfigsResponse {
            throttle_time_ms: 0,
            responses: vec![AlterConfigsResourceResponse {
                error_code: 40, // INVALID_CONFIG
                error_message: None,
                resource_type: 2,
                resource_name: "t".into(),
            }],
        };
        #[rustfmt::skip]
        let bytes: &[u8] = &[
            0, 0, 0, 0, // throttle_time_ms
            0, 0, 0, 1, 0, 40, 0xff, 0xff, 2, 0, 1, b't',
        ];
        testing::check_known_bytes(&response, 1, bytes);
    }
}
