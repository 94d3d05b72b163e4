//! DescribeConfigs (key 32): the configs of topics and brokers, with where
//! each value comes from. Resource types are Kafka's `ConfigResource.Type`
//! (2 topic, 4 broker, 8 broker logger).

use crate::codec::{message, Request};

message! {
    /// DescribeConfigs request. v1 adds `include_synonyms`; v3
    /// `include_documentation`; v4 is the first flexible version.
    pub message DescribeConfigsRequest {
        api_key: DescribeConfigs, versions: 0..=4, flexible: 4..;
        /// The resources whose configs to describe.
        resources: Vec<DescribeConfigsResource> [0..],
        /// Whether to list every synonym of each config.
        include_synonyms: bool [1..],
        /// Whether to include each config's documentation.
        include_documentation: bool [3..],
    }

    /// A resource whose configs to describe.
    pub struct DescribeConfigsResource {
        resource_type: i8 [0..],
        resource_name: String [0..],
        /// The config keys to list, null for all of them.
        configuration_keys: Option<Vec<String>> [0..] nullable [0..],
    }

    /// DescribeConfigs response. v1 adds config sources and synonyms (and
    /// drops `is_default`); v3 the config type and documentation.
    pub message DescribeConfigsResponse {
        api_key: DescribeConfigs, versions: 0..=4, flexible: 4..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [0..],
        /// One result per resource.
        results: Vec<DescribeConfigsResult> [0..],
    }

    /// The configs of one resource.
    pub struct DescribeConfigsResult {
        error_code: i16 [0..],
        /// The error message, null if there was no error.
        error_message: Option<String> [0..] nullable [0..],
        resource_type: i8 [0..],
        resource_name: String [0..],
        configs: Vec<DescribeConfigsResourceResult> [0..],
    }

    /// One config of a resource.
    pub struct DescribeConfigsResourceResult {
        name: String [0..],
        /// The value, null for sensitive configs.
        value: Option<String> [0..] nullable [0..],
        read_only: bool [0..],
        /// v0 only: true if the config is not set (replaced by the source).
        is_default: bool [0..=0],
        /// Where the value comes from; -1 is a placeholder.
        config_source: i8 [1..] = -1,
        is_sensitive: bool [0..],
        /// Every value the config has, highest precedence first.
        synonyms: Vec<DescribeConfigsSynonym> [1..],
        /// The config's data type (`ConfigDef.Type` + 1; 0 unknown).
        config_type: i8 [3..],
        /// The config's documentation.
        documentation: Option<String> [3..] nullable [0..] = Some(String::new()),
    }

    /// A value a config takes from one source.
    pub struct DescribeConfigsSynonym {
        name: String [1..],
        value: Option<String> [1..] nullable [0..],
        source: i8 [1..],
    }
}

impl Request for DescribeConfigsRequest {
    type Response = DescribeConfigsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::describe_configs_request as kpq;
    use kafka_protocol::messages::describe_configs_response as kpr;

    fn their_request(r: &DescribeConfigsRequest) -> kp::DescribeConfigsRequest {
        kp::DescribeConfigsRequest::default()
            .with_resources(
                r.resources
                    .iter()
                    .map(|res| {
                        kpq::DescribeConfigsResource::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(str_bytes(&res.resource_name))
                            .with_configuration_keys(
                                res.configuration_keys
                                    .as_ref()
                                    .map(|keys| keys.iter().map(|k| str_bytes(k)).collect()),
                            )
                    })
                    .collect(),
            )
            .with_include_synonyms(r.include_synonyms)
            .with_include_documentation(r.include_documentation)
    }

    fn their_response(r: &DescribeConfigsResponse) -> kp::DescribeConfigsResponse {
        kp::DescribeConfigsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_results(
                r.results
                    .iter()
                    .map(|res| {
                        kpr::DescribeConfigsResult::default()
                            .with_error_code(res.error_code)
                            .with_error_message(res.error_message.as_deref().map(str_bytes))
                            .with_resource_type(res.resource_type)
                            .with_resource_name(str_bytes(&res.resource_name))
                            .with_configs(res.configs.iter().map(their_config).collect())
                    })
                    .collect(),
            )
    }

    fn their_config(c: &DescribeConfigsResourceResult) -> kpr::DescribeConfigsResourceResult {
        kpr::DescribeConfigsResourceResult::default()
            .with_name(str_bytes(&c.name))
            .with_value(c.value.as_deref().map(str_bytes))
            .with_read_only(c.read_only)
            .with_config_source(c.config_source)
            .with_is_sensitive(c.is_sensitive)
            .with_synonyms(
                c.synonyms
                    .iter()
                    .map(|s| {
                        kpr::DescribeConfigsSynonym::default()
                            .with_name(str_bytes(&s.name))
                            .with_value(s.value.as_deref().map(str_bytes))
                            .with_source(s.source)
                    })
                    .collect(),
            )
            .with_config_type(c.config_type)
            .with_documentation(c.documentation.as_deref().map(str_bytes))
    }

    testing::codec_tests!(
        DescribeConfigsRequest,
        DescribeConfigsResponse,
        their_request,
        their_response,
        1..=4
    );

    /// kafka-protocol 0.18 follows Kafka 4.0, which dropped v0 (KIP-896), so
    /// it is pinned here byte for byte from the spec.
    #[test]
    fn known_bytes_of_v0() {
        let req = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: 2,
                resource_name: "t".into(),
                configuration_keys: None,
            }],
            ..Default::default()
        };
        let v0: &[u8] = &[0, 0, 0, 1, 2, 0, 1, b't', 0xff, 0xff, 0xff, 0xff];
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], v0);
        assert_eq!(
            DescribeConfigsRequest::decode(&Bytes::from_static(v0), 0).unwrap(),
            req
        );

        let resp = DescribeConfigsResponse {
            throttle_time_ms: 1,
            results: vec![DescribeConfigsResult {
                error_code: 0,
                error_message: None,
                resource_type: 2,
                resource_name: "t".into(),
                configs: vec![DescribeConfigsResourceResult {
                    name: "k".into(),
                    value: Some("v".into()),
                    read_only: false,
                    is_default: true,
                    is_sensitive: false,
                    ..Default::default()
                }],
            }],
        };
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0, 0, 0, 1, // throttle_time_ms
            0, 0, 0, 1, 0, 0, 0xff, 0xff, 2, 0, 1, b't', // result header
            0, 0, 0, 1, 0, 1, b'k', 0, 1, b'v', 0, 1, 0, // k = v, read_only, is_default, is_sensitive
        ];
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], v0);
        let back = DescribeConfigsResponse::decode(&Bytes::from_static(v0), 0).unwrap();
        assert_eq!(back, resp);
        assert_eq!(back.results[0].configs[0].config_source, -1);
    }

    #[test]
    fn is_default_only_in_v0() {
        let config = DescribeConfigsResourceResult {
            is_default: true,
            config_source: 5,
            ..Default::default()
        };
        let resp = DescribeConfigsResponse {
            results: vec![DescribeConfigsResult {
                configs: vec![config],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 1).unwrap();
        let back = DescribeConfigsResponse::decode(&buf.freeze(), 1).unwrap();
        let got = &back.results[0].configs[0];
        assert_eq!((got.is_default, got.config_source), (false, 5));
    }
}
