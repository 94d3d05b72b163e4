//! ApiVersions (key 18): the first request a client sends, to learn which
//! versions of each API the broker speaks. Its response always goes out with
//! response header v0 (see [`header`](crate::protocol::header)).

use crate::protocol::codec::{message, Request};

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
