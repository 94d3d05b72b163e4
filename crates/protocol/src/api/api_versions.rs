//! ApiVersions (key 18): the first request a client sends, to learn which
//! versions of each API the broker speaks. Its response always goes out with
//! response header v0 (see [`header`](crate::header)).

use crate::codec::{message, Request};

message! {
    /// ApiVersions request. Versions 0-2 are empty; v3 names the client.
    pub message ApiVersionsRequest {
        api_key: ApiVersions, versions: 0..=3, flexible: 3..;
        /// The name of the client.
        client_software_name: String [3..],
        /// The version of the client.
        client_software_version: String [3..],
    }

    /// ApiVersions response.
    pub message ApiVersionsResponse {
        api_key: ApiVersions, versions: 0..=3, flexible: 3..;
        /// The top-level error code.
        error_code: i16 [0..],
        /// The APIs supported by the broker.
        api_keys: Vec<ApiVersion> [0..],
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// Features supported by the broker.
        supported_features: Vec<SupportedFeatureKey> [3..] tag 0,
        /// Epoch of the finalized features, -1 if unknown.
        finalized_features_epoch: i64 [3..] tag 1 = -1,
        /// Cluster-wide finalized features, valid when the epoch is >= 0.
        finalized_features: Vec<FinalizedFeatureKey> [3..] tag 2,
        /// Set by a KRaft controller ready for ZK migration; always false here.
        zk_migration_ready: bool [3..] tag 3,
    }

    /// The versions of one API the broker supports.
    pub struct ApiVersion {
        api_key: i16 [0..],
        /// Minimum supported version, inclusive.
        min_version: i16 [0..],
        /// Maximum supported version, inclusive.
        max_version: i16 [0..],
    }

    /// A feature the broker supports.
    pub struct SupportedFeatureKey {
        name: String [3..],
        min_version: i16 [3..],
        max_version: i16 [3..],
    }

    /// A cluster-wide finalized feature.
    pub struct FinalizedFeatureKey {
        name: String [3..],
        max_version_level: i16 [3..],
        min_version_level: i16 [3..],
    }
}

impl Request for ApiVersionsRequest {
    type Response = ApiVersionsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;

    fn their_request(r: &ApiVersionsRequest) -> kp::ApiVersionsRequest {
        kp::ApiVersionsRequest::default()
            .with_client_software_name(str_bytes(&r.client_software_name))
            .with_client_software_version(str_bytes(&r.client_software_version))
    }

    fn their_response(r: &ApiVersionsResponse) -> kp::ApiVersionsResponse {
        kp::ApiVersionsResponse::default()
            .with_error_code(r.error_code)
            .with_api_keys(
                r.api_keys
                    .iter()
                    .map(|k| {
                        kp::api_versions_response::ApiVersion::default()
                            .with_api_key(k.api_key)
                            .with_min_version(k.min_version)
                            .with_max_version(k.max_version)
                    })
                    .collect(),
            )
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_supported_features(
                r.supported_features
                    .iter()
                    .map(|f| {
                        kp::api_versions_response::SupportedFeatureKey::default()
                            .with_name(str_bytes(&f.name))
                            .with_min_version(f.min_version)
                            .with_max_version(f.max_version)
                    })
                    .collect(),
            )
            .with_finalized_features_epoch(r.finalized_features_epoch)
            .with_finalized_features(
                r.finalized_features
                    .iter()
                    .map(|f| {
                        kp::api_versions_response::FinalizedFeatureKey::default()
                            .with_name(str_bytes(&f.name))
                            .with_max_version_level(f.max_version_level)
                            .with_min_version_level(f.min_version_level)
                    })
                    .collect(),
            )
            .with_zk_migration_ready(r.zk_migration_ready)
    }

    testing::codec_tests!(
        ApiVersionsRequest,
        ApiVersionsResponse,
        their_request,
        their_response,
        ApiVersionsRequest::VERSIONS
    );

    #[test]
    fn known_bytes() {
        // What librdkafka sends first: ApiVersions v3 naming itself.
        let body = Bytes::from_static(b"\x0blibrdkafka\x062.3.0\x00");
        let req = ApiVersionsRequest::decode(&body, 3).unwrap();
        assert_eq!(req.client_software_name, "librdkafka");
        assert_eq!(req.client_software_version, "2.3.0");
        assert_eq!(
            ApiVersionsRequest::decode(&Bytes::new(), 0).unwrap(),
            ApiVersionsRequest::default()
        );

        let resp = ApiVersionsResponse {
            api_keys: vec![ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 3,
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 3).unwrap();
        assert_eq!(&buf[..], &[0, 0, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3]);
    }

    #[test]
    fn tagged_fields_written_only_when_set_and_unknown_ones_skipped() {
        let resp = ApiVersionsResponse {
            finalized_features_epoch: 5,
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 3).unwrap();
        // error, empty array, throttle, then one tagged field: tag 1, 8 bytes.
        assert_eq!(
            &buf[..],
            &[0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 5]
        );
        assert_eq!(
            ApiVersionsResponse::decode(&buf.clone().freeze(), 3).unwrap(),
            resp
        );
        // An unknown tag 9 is skipped.
        let unknown = Bytes::from_static(&[0, 0, 1, 0, 0, 0, 0, 1, 9, 2, 0xaa, 0xbb]);
        assert_eq!(
            ApiVersionsResponse::decode(&unknown, 3).unwrap(),
            ApiVersionsResponse::default()
        );
    }

    #[test]
    fn unsupported_versions_are_refused() {
        assert!(ApiVersionsRequest::decode(&Bytes::new(), 4).is_err());
        assert!(ApiVersionsRequest::default()
            .encode(&mut BytesMut::new(), -1)
            .is_err());
    }
}
